// Zoom latency of the SVG flame graph in real Chromium (tests/bench/web.py, make bench):
// node zoom.mjs NODE_MODULES SVG_PATH CLICKS
// Opens the SVG (agentctl convert --format svg) in headless Chromium with playwright-core and
// clicks CLICKS frames in turn: a wide shallow one, a middle one, a deep one, a dimmed ancestor
// (zooms out), and the root or "Reset zoom". For each: the time from dispatching the click until
// the second animation frame after it (the zoomed render has been painted by then; an upper
// bound by up to one frame), until the task after the first frame's rendering, and of the
// click handler alone (render()); and the frames drawn. Also the time from navigation start to
// the frame after the first render. Prints one JSON object.
import { createRequire } from 'module';
import path from 'path';
import { pathToFileURL } from 'url';

const [nodeModules, svgPath, clicksArg] = process.argv.slice(2);
const clicks = parseInt(clicksArg, 10);
const require = createRequire(path.resolve(nodeModules, 'x.js'));
const { chromium } = require('playwright-core');

// The same clicks every run: a small seeded generator (mulberry32) picks among the candidates.
let seed = 12345;
function random() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const KINDS = ['shallow', 'middle', 'deep', 'ancestor', 'reset'];

// Runs in the page before its own script: notes when the frame after the one that first showed
// frames in #frames begins (the first render has been painted by then), as the clicks are timed.
function watchFirstRender() {
  let seen = false;
  const tick = () => {
    if (seen) { window.__firstRenderMs = performance.now(); return; }
    const f = document.getElementById('frames');
    seen = !!(f && f.children.length);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// Runs in the page: picks the frame to click for kind (r in [0, 1) chooses among candidates),
// clicks it and times the zoom. Levels are told apart by the rects' y (16 px a level, deeper:
// smaller y); the root frame is always drawn, dimmed when zoomed in.
async function clickAndTime({ kind, r, reset }) {
  const frames = document.getElementById('frames');
  const unzoom = document.getElementById('unzoom');
  const y = (g) => parseFloat(g.querySelector('rect').getAttribute('y'));
  const width = (g) => parseFloat(g.querySelector('rect').getAttribute('width'));
  const all = Array.from(frames.querySelectorAll(':scope > g.f'));
  const dim = all.filter((g) => g.classList.contains('dim'));
  const shown = all.filter((g) => !g.classList.contains('dim'));
  const rootY = Math.max(...all.map(y)), zoomedY = Math.max(...shown.map(y));
  const below = shown.filter((g) => y(g) < zoomedY); // the zoomed frame's descendants
  const pick = (gs) => gs[Math.floor(r * gs.length)];
  let target;
  const wide = (g) => width(g) >= 0.02 * (D.width - 20);
  if (kind === 'shallow') // among the first three levels, at least 2% of the width
    target = pick(below.filter((g) => y(g) >= zoomedY - 3 * 16 && wide(g)));
  else if (kind === 'middle')
    target = pick(below);
  else if (kind === 'deep') {
    const deepest = Math.min(...below.map(y));
    target = pick(below.filter((g) => y(g) === deepest));
  } else if (kind === 'ancestor')
    target = pick(dim);
  else if (kind === 'reset') // alternately the root frame and "Reset zoom"
    target = reset === 'unzoom' && unzoom.style.display !== 'none' ? unzoom
      : all.find((g) => g.getAttribute('data-i') === '0');
  if (!target) { // nothing of that kind is drawn (no ancestor at the root): a middle one
    kind = 'middle';
    target = pick(below.length ? below : all);
  }
  const i = target === unzoom ? 0 : +target.getAttribute('data-i');
  const nextFrame = () => new Promise((res) => requestAnimationFrame(() => res(performance.now())));
  // a task posted from a frame's rAF callback runs once that frame's style, layout and paint
  // (the main thread's part; rasterising follows) are done
  const afterRendering = () => new Promise((res) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => res(performance.now());
    ch.port2.postMessage(0);
  });

  const t0 = performance.now();
  target.dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, view: window }));
  const t1 = performance.now();
  await nextFrame(); // this continuation runs as a microtask of the rAF callback
  const t2 = await afterRendering();
  const t3 = await nextFrame();
  return {
    kind: target === unzoom ? 'unzoom' : kind,
    i,
    depth: target === unzoom ? 0 : Math.round((rootY - y(target)) / 16),
    script_ms: t1 - t0,
    painted_ms: t2 - t0,
    frame_ms: t3 - t0,
    drawn: frames.querySelectorAll(':scope > g.f').length,
    merged: frames.querySelectorAll(':scope > g.m').length,
  };
}

const out = { clicks: [], page_errors: [] };
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (e) => out.page_errors.push(String(e)));
  await page.addInitScript(watchFirstRender);
  await page.goto(pathToFileURL(path.resolve(svgPath)).href);
  await page.waitForFunction(() => window.__firstRenderMs !== undefined);
  Object.assign(out, await page.evaluate(() => ({
    load_ms: window.__firstRenderMs,
    nodes: D.n.length,
    initial_drawn: document.querySelectorAll('#frames > g.f').length,
  })));
  for (let k = 0; k < clicks; k++) {
    const kind = KINDS[k % KINDS.length];
    const reset = (Math.floor(k / KINDS.length) % 2) ? 'unzoom' : 'root';
    out.clicks.push(await page.evaluate(clickAndTime, { kind, r: random(), reset }));
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
