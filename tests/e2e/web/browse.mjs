// Drives the web view in real Chromium with playwright-core (tests/e2e/test_web.py):
// node browse.mjs NODE_MODULES URL HOST RANGE NEWRANGE ARTIFACTS_DIR OPTIONS
// OPTIONS (JSON): windows, the host's window count; fnsearch, text typed in the function search;
// zoom, the start of the title of the frame clicked to zoom; shots, the screenshots' name prefix.
// Loads the page, picks a range, waits for the flame graph and the table, searches by clicking
// a function, downloads the selection as pprof, compares two ranges; prints one JSON object with
// what it saw, every request that left loopback (aborted) and every console error.
import { createRequire } from 'module';
import path from 'path';

const [nodeModules, url, host, range, newRange, artifacts, options] = process.argv.slice(2);
const opts = JSON.parse(options);
const shot = (name) => path.join(artifacts, opts.shots + '-' + name + '.png');
const require = createRequire(path.join(nodeModules, 'x.js'));
const { chromium } = require('playwright-core');

// The flame graph draws its frames (#frames) from its embedded data once loaded; wait for the
// graph of the wanted kind (the differential one says "base" in its frames' titles).
async function waitForFrames(page, kind) {
  await page.waitForFunction((k) => {
    const d = document.getElementById('graph').contentDocument;
    const f = d && d.getElementById('frames');
    if (!f || !f.children.length) return false;
    return k !== 'diff' || /base/.test(f.textContent);
  }, kind);
}
async function framesText(page) {
  return page.evaluate(() => {
    const f = document.getElementById('graph').contentDocument.getElementById('frames');
    return Array.from(f.querySelectorAll('text, title')).map((t) => t.textContent);
  });
}

const out = { outside: [], console_errors: [], page_errors: [], api: [] };
const browser = await chromium.launch({
  downloadsPath: artifacts,
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 }, acceptDownloads: true });
  await page.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1') return route.continue();
    out.outside.push(route.request().url());
    return route.abort();
  });
  page.on('console', (m) => { if (m.type() === 'error') out.console_errors.push(m.text()); });
  page.on('pageerror', (e) => out.page_errors.push(String(e)));
  // the API's answers, with when they came (ms from the start), for a wait that gives up
  const t0 = Date.now();
  page.on('response', (r) => {
    if (r.url().includes('/api/'))
      out.api.push([Date.now() - t0, r.status(), new URL(r.url()).pathname + new URL(r.url()).search]);
  });
  await page.goto(url);
  await page.waitForFunction(() => document.querySelectorAll('#timeline rect.w').length > 0);
  out.hosts = await page.$$eval('#host option', (os) => os.map((o) => o.value));
  // choosing the host loads its windows again; their answer is held until the user is in the
  // empty range field: the page must leave it to them (its default range once went in between
  // Playwright's select and its typing, and the range typed went after it)
  let userInRange;
  const inRange = new Promise((resolve) => { userInRange = resolve; });
  await page.route('**/api/windows?*', async (route) => { await inRange; await route.continue(); });
  await page.selectOption('#host', host);
  await page.focus('#range');
  userInRange();
  // "loading the windows of ..." until they came
  await page.waitForFunction((h) => document.querySelector('#hostinfo').textContent.includes(h), opts.windows + ' windows');
  out.range_left_to_user = await page.inputValue('#range');
  await page.unroute('**/api/windows?*');
  out.hostinfo = await page.textContent('#hostinfo');
  out.timeline_bars = await page.$$eval('#timeline rect.w, #timeline rect.bad', (rs) => rs.length);
  await page.fill('#range', range);
  await page.click('#show');
  await page.waitForSelector('#functions tbody tr');
  await waitForFrames(page, 'frames');
  const frameWidth = (title) => page.evaluate((t) => {
    const d = document.getElementById('graph').contentDocument;
    for (const g of d.querySelectorAll('#frames g.f')) {
      if (g.querySelector('title').textContent.startsWith(t))
        return parseFloat(g.querySelector('rect').getAttribute('width'));
    }
    return null;
  }, title);
  out.summary = await page.textContent('#summary');
  out.table = await page.$$eval('#functions tbody tr', (trs) =>
    trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent)));
  out.graph_frames = await framesText(page);
  // click a function in the table: the graph's own search highlights it
  await page.click('#functions tbody tr:first-child td.name');
  out.search = await page.evaluate(() =>
    document.getElementById('graph').contentDocument.getElementById('search').value);
  // the function search filters the table
  await page.fill('#fnsearch', opts.fnsearch);
  out.filtered = await page.$$eval('#functions tbody tr:not(.hidden)', (trs) =>
    trs.map((tr) => tr.cells[0].textContent));
  out.graph_search = await page.evaluate(() =>
    document.getElementById('graph').contentDocument.getElementById('search').value);
  // a click on the function found: the graph zooms to its widest frame (full width)
  await page.click('#functions tbody tr:not(.hidden) td.name');
  out.focus_width = await frameWidth(opts.fnsearch + ' (');
  await page.screenshot({ path: shot('focus'), fullPage: true });
  await page.frameLocator('#graph').locator('#unzoom').click();
  await page.fill('#fnsearch', '');
  await page.screenshot({ path: shot('profile'), fullPage: true });
  // the page's own pprof link
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#downloads a:text-is("pprof")'),
  ]);
  out.download = path.join(artifacts, opts.shots + '-download.pb.gz');
  await download.saveAs(out.download);
  out.download_name = download.suggestedFilename();
  // click the frame of g in the graph: it zooms, taking the full width
  const graph = page.frameLocator('#graph');
  out.g_width_before = await frameWidth(opts.zoom);
  await graph.locator('#frames g.f', { hasText: opts.zoom }).first().click();
  await page.waitForFunction(() => true);
  out.g_width_zoomed = await frameWidth(opts.zoom);
  await page.screenshot({ path: shot('zoomed'), fullPage: true });
  await page.fill('#newrange', newRange);
  await page.click('#compare');
  await page.waitForFunction(() => document.querySelector('#summary').textContent.startsWith('base'));
  await page.waitForSelector('#functions tbody tr');
  out.compare_table = await page.$$eval('#functions tbody tr', (trs) =>
    trs.map((tr) => Array.from(tr.cells).map((c) => c.textContent)));
  await waitForFrames(page, 'diff');
  out.diff_frames = await framesText(page);
  await page.screenshot({ path: shot('compare'), fullPage: true });
  // a range without windows: the page says so
  await page.fill('#range', '2030-01-01T00:00Z/1h');
  await page.click('#show');
  await page.waitForFunction(() => document.querySelector('#error').textContent.length > 0);
  out.error_text = await page.textContent('#error');
} catch (e) {
  // what the page showed when a wait gave up: its error line, summary, host line and range
  try {
    const page = browser.contexts()[0].pages()[0];
    out.failed_page = await page.evaluate(() => ({
      error: document.querySelector('#error').textContent,
      summary: document.querySelector('#summary').textContent,
      hostinfo: document.querySelector('#hostinfo').textContent,
      range: document.querySelector('#range').value,
      rows: document.querySelectorAll('#functions tbody tr').length,
    }));
    await page.screenshot({ path: shot('failed'), fullPage: true });
  } catch (e2) {
    out.failed_page = String(e2);
  }
  console.error(JSON.stringify(out));
  throw e;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
