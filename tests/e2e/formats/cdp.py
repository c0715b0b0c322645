"""A minimal Chrome DevTools Protocol client: starts headless Chromium (Debian's) with an empty
profile and no network services, opens pages, evaluates JavaScript, clicks, types and takes
screenshots. Only python3-websocket beyond the standard library."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

import websocket

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def find_chromium():
    for path in CHROMIUM_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


class CDPError(Exception):
    pass


class Page:
    """One tab. Events are kept in order; console errors and exceptions are collected."""

    def __init__(self, ws_url, timeout=30):
        self.ws = websocket.create_connection(ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.events = []
        self.errors = []
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Log.enable")

    def _note(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        self.events.append(msg)
        if method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.errors.append("exception: %s %s" % (
                d.get("text"), d.get("exception", {}).get("description", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            self.errors.append("console.%s: %s" % (params["type"], " ".join(
                str(a.get("value", a.get("description"))) for a in params.get("args", []))))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            e = params["entry"]
            self.errors.append("log: %s %s" % (e.get("text"), e.get("url", "")))

    def send(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self._note(msg)

    def wait_event(self, method, timeout=30):
        for i, msg in enumerate(self.events):
            if msg.get("method") == method:
                del self.events[i]
                return msg.get("params", {})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            self._note(msg)
            if msg.get("method") == method:
                self.events.remove(msg)
                return msg.get("params", {})
        raise CDPError("no %s within %.0f s" % (method, timeout))

    def navigate(self, url, timeout=60):
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.send("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired", timeout)

    def evaluate(self, expression, await_promise=False):
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=await_promise)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError("evaluate failed: %s %s" % (
                d.get("text"), d.get("exception", {}).get("description", "")))
        return r.get("result", {}).get("value")

    def click(self, x, y):
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {} if kind == "mouseMoved" else {"button": "left", "clickCount": 1}
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def hover(self, x, y):
        self.send("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)

    def insert_text(self, text):
        self.send("Input.insertText", text=text)

    def screenshot(self, path, width=None, height=None):
        params = {"format": "png"}
        if width and height:
            params["clip"] = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
            params["captureBeyondViewport"] = True
        data = base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


class Chromium:
    """Headless Chromium on a DevTools port it picks itself; killed on close()."""

    def __init__(self, exe=None, width=1280, height=1000, timeout=30):
        self.exe = exe or find_chromium()
        if not self.exe:
            raise CDPError("chromium not found")
        self.profile = tempfile.mkdtemp(prefix="pyprof-chromium-")
        argv = [self.exe, "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--allow-file-access-from-files",
                "--remote-allow-origins=*", "--remote-debugging-port=0",
                "--window-size=%d,%d" % (width, height),
                "--user-data-dir=%s" % self.profile, "about:blank"]
        self.log_path = os.path.join(self.profile, "chromium.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + timeout
        while True:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].strip():
                    self.port = int(lines[0])
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CDPError("chromium did not start: %s" % self.log())
            time.sleep(0.05)

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def new_page(self):
        import urllib.request
        req = urllib.request.Request("http://127.0.0.1:%d/json/new?about:blank" % self.port,
                                     method="PUT")
        with urllib.request.urlopen(req, timeout=30) as r:
            target = json.loads(r.read().decode())
        return Page(target["webSocketDebuggerUrl"])

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
