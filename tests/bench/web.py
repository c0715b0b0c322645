"""make bench, web: time to first flame graph in `agentctl serve` for a day of one host's 60 s
windows (1,440 folded files; BENCH_WEB_STACKS distinct stacks each, default 500 of 2,000), cold
(the server just started; the page cache of the files warm, as after the daemon wrote them) and
warm (asked again), as the page asks: the timeline, then the table and the graph at once. Prints
the figures and the server's peak RSS; the same day from s3rver on loopback with an empty
cache. Then the zoom of the flame graph in headless Chromium
(tests/bench/zoom.mjs): one window of 20,000 distinct stacks as `agentctl convert --format svg`
writes it, clicked frame after frame; skipped when playwright-core (build/npm, installed by the
browser tests of tests/e2e/test_web.py) or chromium is missing."""
import concurrent.futures
import datetime
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from common import AGENTCTL, HERE, REPO

WINDOWS = 1440
STACKS = int(os.environ.get("BENCH_WEB_STACKS", "500"))
ROUNDS = int(os.environ.get("BENCH_WEB_ROUNDS", "3"))
ZOOM_STACKS = 20000
ZOOM_CLICKS = int(os.environ.get("BENCH_ZOOM_CLICKS", "30"))
ZOOM_ROUNDS = int(os.environ.get("BENCH_ZOOM_ROUNDS", "3"))
NODE_MODULES = os.path.join(REPO, "build", "npm", "node_modules")
CHROMIUM = "/usr/bin/chromium"  # zoom.mjs's, as the browser tests'


def make_store(d):
    rnd = random.Random(1)
    fns = ["mod%d.fn%d (/srv/app/mod%d.py:%d)" % (i % 40, i, i % 40, i * 3) for i in range(400)]
    stacks = [";".join(["gunicorn (1234)", "thread 1235 (MainThread)"] +
                       rnd.sample(fns, rnd.randint(5, 30))) for _ in range(2000)]
    t0 = datetime.datetime(2026, 12, 1)
    for i in range(WINDOWS):
        t = t0 + datetime.timedelta(seconds=60 * i)
        with open(os.path.join(d, "web-1_%s_cpu.folded" % t.strftime("%Y%m%dT%H%M%SZ")), "w") as f:
            for s in rnd.sample(stacks, STACKS):
                f.write("%s %d\n" % (s, rnd.randint(1, 20)))
    return sum(os.path.getsize(os.path.join(d, n)) for n in os.listdir(d))


def get(url):
    with urllib.request.urlopen(url, timeout=300) as r:
        assert r.status == 200
        return r.read()


def first_graph(base):
    """Seconds until the page has its timeline, table and flame graph."""
    sel = "host=web-1&range=2026-12-01T00:00Z/1d"
    t = time.monotonic()
    get(base + "api/windows?host=web-1")
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        list(ex.map(get, [base + "api/profile?" + sel, base + "api/profile?format=svg&" + sel]))
    return time.monotonic() - t


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))


def make_window(path):
    """One 60 s window of ZOOM_STACKS distinct stacks, as a busy service's: 8 worker threads,
    random walks 8 to 40 frames deep through a call graph of 300 functions (each calls 2 to 6
    others, each from its own line: frames share prefixes as real ones do), counts falling with
    the rank (Zipf, 5000 / rank, at least 1) so that most stacks are narrow. Returns the
    samples."""
    rnd = random.Random(2)
    fns = ["mod%d.fn%d (/srv/app/mod%d.py:%%d)" % (i % 30, i, i % 30) for i in range(300)]
    first = [10 + 40 * (i // 30) for i in range(300)]  # the line of each function's def
    callees = [rnd.sample(range(300), rnd.randint(2, 6)) for _ in range(300)]
    stacks = {}  # dict, not set: the same order, so the same counts, every run
    while len(stacks) < ZOOM_STACKS:
        t = rnd.randrange(8)
        frames = ["gunicorn (1234)", "thread %d (worker-%d)" % (1240 + t, t)]
        f = rnd.randrange(4)  # the entry points
        for _ in range(rnd.randint(8, 40) - 3):
            k = rnd.randrange(len(callees[f]))
            frames.append(fns[f] % (first[f] + 2 + 3 * k))
            f = callees[f][k]
        frames.append(fns[f] % (first[f] + 1 + rnd.randrange(30)))
        stacks[";".join(frames)] = None
    ranked = list(stacks)
    rnd.shuffle(ranked)
    total = 0
    with open(path, "w") as out:
        for rank, s in enumerate(ranked, 1):
            n = max(1, round(5000 / rank))
            out.write("%s %d\n" % (s, n))
            total += n
    return total


def zoom_run(svg):
    """What zoom.mjs measured in one fresh Chromium."""
    p = subprocess.Popen(["node", os.path.join(HERE, "zoom.mjs"), NODE_MODULES, svg,
                          str(ZOOM_CLICKS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        out, err = p.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)  # node and the chromium it started
        p.communicate()
        raise RuntimeError("zoom.mjs did not finish within 300 s")
    if p.returncode != 0:
        raise RuntimeError("zoom.mjs failed: " + err[-3000:])
    seen = json.loads(out.strip().splitlines()[-1])
    if seen["page_errors"]:
        raise RuntimeError("errors in the flame graph's page: %s" % seen["page_errors"])
    return seen


# zoom.mjs's kinds of click
ZOOM_KINDS = (("shallow", "wide, 1-3 levels in"), ("middle", "any drawn frame"),
              ("deep", "deepest drawn"), ("ancestor", "an ancestor (out)"),
              ("reset", "the root frame"), ("unzoom", "\"Reset zoom\""))


def click_line(label, clicks):
    """Medians and maxima of clicks (zoom.mjs's), as one line."""
    def stats(key, fmt):
        vals = [c[key] for c in clicks]
        return "median %s, max %s" % (fmt % statistics.median(vals), fmt % max(vals))
    return "    %-21s click to paint %s ms; render() %s ms; frames drawn %s (%d clicks)" % (
        label + ":", stats("frame_ms", "%5.1f"), stats("script_ms", "%4.1f"),
        stats("drawn", "%d"), len(clicks))


def zoom_bench():
    print("### Flame graph zoom\n")
    missing = [why for ok, why in (
        (shutil.which("node"), "node"),
        (os.path.exists(os.path.join(NODE_MODULES, "playwright-core", "package.json")),
         "playwright-core in build/npm (the browser tests of tests/e2e/test_web.py install it)"),
        (os.access(CHROMIUM, os.X_OK), CHROMIUM)) if not ok]
    if missing:
        print("Skipped: no %s.\n" % ", no ".join(missing))
        return
    d = tempfile.mkdtemp(prefix="pyprof-bench-zoom-")
    try:
        folded, svg = os.path.join(d, "window.folded"), os.path.join(d, "window.svg")
        samples = make_window(folded)
        subprocess.run([AGENTCTL, "convert", folded, "--format", "svg", "-o", svg], check=True)
        runs = [zoom_run(svg) for _ in range(ZOOM_ROUNDS)]
        clicks = [c for r in runs for c in r["clicks"]]
        print("One 60 s window of %d distinct stacks (8 to 40 frames, 300 functions, Zipf-like "
              "counts: %d samples), as `agentctl convert --format svg` writes it: %d bytes, %d "
              "frames in the file (subtrees under 0.1 px merged). Headless Chromium "
              "(software rendering, 1280x1000), %d clicks in each of %d fresh browsers; a "
              "click's time runs from its dispatch to the second animation frame after it "
              "(the zoomed graph painted; up to a frame more).\n" % (
                  ZOOM_STACKS, samples, os.path.getsize(svg), runs[0]["nodes"], ZOOM_CLICKS,
                  ZOOM_ROUNDS))
        load = [r["load_ms"] for r in runs]
        print("    load to first graph: %s ms (median %.0f ms), %d frames drawn" % (
            " ".join("%.0f" % x for x in load), statistics.median(load),
            runs[0]["initial_drawn"]))
        print(click_line("all clicks", clicks))
        for kind, label in ZOOM_KINDS:
            cs = [c for c in clicks if c["kind"] == kind]
            if cs:
                print(click_line(label, cs))
        print("    main thread done (style, layout, paint): median %.1f ms, max %.1f ms\n" % (
            statistics.median(c["painted_ms"] for c in clicks),
            max(c["painted_ms"] for c in clicks)))
    finally:
        shutil.rmtree(d)


def serve(source, env=None, extra=()):
    """agentctl serve on a port of its choosing: (process, base URL)."""
    p = subprocess.Popen([AGENTCTL, "serve", "--from", source, "--listen", "127.0.0.1:0"]
                         + list(extra), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env)
    line = p.stderr.readline()
    m = re.search(r"on (http://\S+/)", line)
    if not m:
        p.kill()
        p.wait()
        raise RuntimeError("agentctl serve did not start: " + line + p.stderr.read())
    return p, m.group(1)


def s3_bench(d):
    """The same day in s3rver on loopback, under the uploader's keys; each round a server with
    an empty cache: list, fetch the 1,440 objects (8 connections), count and merge them."""
    sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
    from s3.store import ACCESS_KEY, S3rver, ensure_s3rver

    if not shutil.which("node"):
        print("    from S3: skipped, no node to run s3rver\n")
        return
    ensure_s3rver()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    s3 = S3rver(os.path.join(d, "s3data"), "bench", port)
    s3.start()
    try:
        stored = 0
        for name in sorted(os.listdir(d)):
            m = re.match(r"web-1_(\d{4})(\d\d)(\d\d)T(\d{6})Z_cpu\.folded$", name)
            if not m:
                continue
            with open(os.path.join(d, name), "rb") as f:
                body = gzip.compress(f.read(), compresslevel=6)
            stored += len(body)
            key = "pyprof/web-1/%s/%s/%s/%sZ-cpu.folded.gz" % m.groups()
            urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d/bench/%s" % (port, key), data=body, method="PUT"),
                timeout=60).close()
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY="S3RVER",
                   AWS_ENDPOINT_URL="http://127.0.0.1:%d" % port, AWS_REGION="us-east-1")
        env.pop("AWS_SESSION_TOKEN", None)
        cold = []
        for _ in range(ROUNDS):
            cache = tempfile.mkdtemp(prefix="pyprof-bench-web-cache-")
            p, base = serve("s3://bench/pyprof/", env, ["--cache", cache])
            try:
                cold.append(first_graph(base))
            finally:
                p.terminate()
                p.wait(10)
                shutil.rmtree(cache)
        print("    first flame graph from S3 (s3rver on loopback, %.0f MB gzipped), empty cache: "
              "%s s (median %.2f s)\n" % (stored / 1e6, " ".join("%.2f" % x for x in cold),
                                         statistics.median(cold)))
    finally:
        s3.stop()


def main():
    d = tempfile.mkdtemp(prefix="pyprof-bench-web-")
    try:
        size = make_store(d)
        cold, warm, rss = [], [], []
        for _ in range(ROUNDS):
            p, base = serve(d)
            try:
                cold.append(first_graph(base))
                warm.append(first_graph(base))
                rss.append(peak_rss_kib(p.pid))
            finally:
                p.terminate()
                p.wait(10)
        print("### Web view\n")
        print("A day of one host's 60 s windows: %d folded files, %d stacks each, %.0f MB.\n"
              % (WINDOWS, STACKS, size / 1e6))
        print("    first flame graph, cold: %s s (median %.2f s)" % (
            " ".join("%.2f" % x for x in cold), sorted(cold)[len(cold) // 2]))
        print("    first flame graph, warm: %s s (median %.3f s)" % (
            " ".join("%.3f" % x for x in warm), sorted(warm)[len(warm) // 2]))
        print("    server peak RSS: %d MiB" % (max(rss) // 1024))
        s3_bench(d)
    finally:
        shutil.rmtree(d)
    zoom_bench()


if __name__ == "__main__":
    main()
