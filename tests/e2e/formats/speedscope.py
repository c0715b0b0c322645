"""Loads a file with speedscope's own importer, in headless Chromium.

The npm package ships only its browser bundle (dist/release), so the importer runs in the page.
Two ways in, both speedscope's code:
- import(): the bundle's import module (importProfileGroupFromText, what opening a file runs),
  reached by a one-statement patch that hands its promise to window; returns what it built:
  each profile's name, total weight, unit and frames;
- open_in_app(): the app itself, loaded the way `speedscope FILE` does it
  (index.html#localProfilePath=...), until it has named its window after the profile."""
import base64
import json
import os
import re
import shutil
import subprocess

VERSION = "1.25.0"  # pinned: the patch below matches this bundle


class Unavailable(Exception):
    pass


def install(build_dir):
    """The package's dist/release directory, installed with npm under build_dir/npm if missing."""
    prefix = os.path.join(build_dir, "npm")
    pkg = os.path.join(prefix, "node_modules", "speedscope")
    try:
        with open(os.path.join(pkg, "package.json")) as f:
            have = json.load(f).get("version")
    except (OSError, ValueError):
        have = None
    if have != VERSION:
        npm = shutil.which("npm")
        if not npm:
            raise Unavailable("npm is not installed")
        r = subprocess.run([npm, "install", "--prefix", prefix, "--no-audit", "--no-fund",
                            "speedscope@" + VERSION], capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            raise Unavailable("npm install speedscope@%s failed: %s" % (VERSION, r.stderr[-1500:]))
    release = os.path.join(pkg, "dist", "release")
    if not os.path.exists(os.path.join(release, "index.html")):
        raise Unavailable("%s has no index.html" % release)
    return release


def patched_copy(release, dest):
    """Copies the app to dest, with the import module's promise exposed as
    window.__speedscopeImport. Returns dest/index.html."""
    shutil.copytree(release, dest)
    with open(os.path.join(dest, "index.html")) as f:
        bundle = re.search(r'<script src="(speedscope-[^"]+\.js)"', f.read()).group(1)
    path = os.path.join(dest, bundle)
    with open(path) as f:
        js = f.read()
    # `async function X(t,e){return(await M).importProfileGroupFromText(t,e)}`: M is the module
    m = re.search(r"return\(await (\w+)\)\.importProfileGroupFromText\(", js)
    if not m:
        raise AssertionError("speedscope %s bundle: import module not found" % VERSION)
    decl = re.search(r"var %s=[^;]*;" % re.escape(m.group(1)), js)
    if not decl:
        raise AssertionError("speedscope %s bundle: declaration of %s not found"
                             % (VERSION, m.group(1)))
    js = js[:decl.end()] + "window.__speedscopeImport=%s;" % m.group(1) + js[decl.end():]
    with open(path, "w") as f:
        f.write(js)
    return os.path.join(dest, "index.html")


IMPORT_JS = r"""
(async function (name, b64) {
  var bytes = Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
  var text = new TextDecoder().decode(bytes);
  var mod = await window.__speedscopeImport;
  var group = await mod.importProfileGroupFromText(name, text);
  if (!group) return null;
  return {
    name: group.name,
    indexToView: group.indexToView,
    profiles: group.profiles.map(function (p) {
      var frames = [];
      p.forEachFrame(function (f) { frames.push({name: f.name, file: f.file || null, line: f.line || null}); });
      return {name: p.getName(), total: p.getTotalWeight(), unit: p.getWeightUnit(), frames: frames};
    })
  };
})(%s, %s)
"""


def import_file(page, index_html, path):
    """The ProfileGroup speedscope's importer builds from the file at path, summarised."""
    page.navigate("file://" + index_html)
    with open(path, "rb") as f:
        b64 = base64.b64encode(f.read()).decode()
    return page.evaluate(IMPORT_JS % (json.dumps(os.path.basename(path)), json.dumps(b64)),
                         await_promise=True)


def open_in_app(page, index_html, path, workdir, timeout=30):
    """Opens the file in the app as `speedscope FILE` would; returns the window title."""
    import time
    with open(path, "rb") as f:
        b64 = base64.b64encode(f.read()).decode()
    loader = os.path.join(workdir, "load-profile.js")
    with open(loader, "w") as f:
        f.write("speedscope.loadFileFromBase64(%s, %s)"
                % (json.dumps(os.path.basename(path)), json.dumps(b64)))
    page.navigate("file://%s#localProfilePath=%s" % (index_html, loader))
    deadline = time.monotonic() + timeout
    title = ""
    while time.monotonic() < deadline:
        title = page.evaluate("document.title")
        if title.endswith(" - speedscope"):
            return title
        time.sleep(0.1)
    raise AssertionError("speedscope did not open %s within %d s (title %r, errors %s)"
                         % (path, timeout, title, page.errors))
