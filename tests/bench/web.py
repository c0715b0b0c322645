"""make bench, web: time to first flame graph in `agentctl serve` for a day of one host's 60 s
windows (1,440 folded files; BENCH_WEB_STACKS distinct stacks each, default 500 of 2,000), cold
(the server just started; the page cache of the files warm, as after the daemon wrote them) and
warm (asked again), as the page asks: the timeline, then the table and the graph at once. Prints
the figures and the server's peak RSS."""
import concurrent.futures
import datetime
import os
import random
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

from common import AGENTCTL

WINDOWS = 1440
STACKS = int(os.environ.get("BENCH_WEB_STACKS", "500"))
ROUNDS = int(os.environ.get("BENCH_WEB_ROUNDS", "3"))


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


def main():
    d = tempfile.mkdtemp(prefix="pyprof-bench-web-")
    try:
        size = make_store(d)
        cold, warm, rss = [], [], []
        for _ in range(ROUNDS):
            p = subprocess.Popen([AGENTCTL, "serve", "--from", d, "--listen", "127.0.0.1:0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                m = re.search(r"on (http://\S+/)", p.stderr.readline())
                cold.append(first_graph(m.group(1)))
                warm.append(first_graph(m.group(1)))
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
        print("    server peak RSS: %d MiB\n" % (max(rss) // 1024))
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
