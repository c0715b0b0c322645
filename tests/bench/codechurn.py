"""make bench, code churn: the daemon's memory while Python keeps making new code.
First a target compiles and runs chains of 20 freshly made functions, each chain new, for
BENCH_CODECHURN_S (default 600) seconds: every sample names 20 code objects never seen before,
about two thousand a second at 99 Hz, over a million in ten minutes. Then BENCH_CODECHURN_PROCS
(default 1000) short-lived processes, four at a time, each import a large module (2,000
functions) and run some of it. Prints the daemon's RSS after the first minute, at the end of
each part, the code cache's figures (entries, bytes, evictions) from `agentctl status` while
the target runs, and whether the frames of the last full window are named right (each chain's
functions carry the chain's number; misnamed frames are reported, not failed on: see below).
Fails if RSS grew 5 MiB or more after the first minute."""
import os
import re
import subprocess
import tempfile
import time

from common import AGENT, AGENTCTL, PYTHON

SECONDS = int(os.environ.get("BENCH_CODECHURN_S", "600"))
PROCS = int(os.environ.get("BENCH_CODECHURN_PROCS", "1000"))
BIG_FUNCTIONS = 2000

TARGET = r'''
import sys, time
deadline = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < deadline:
    src = ["def f%d_0():\n    t = time.monotonic()\n    while time.monotonic() - t < 0.01:\n        pass\n" % n]
    for k in range(1, 20):
        src.append("def f%d_%d():\n    f%d_%d()\n" % (n, k, n, k - 1))
    ns = {"time": time}
    exec(compile("".join(src), "chain%d.py" % n, "exec"), ns)
    ns["f%d_19" % n]()
    n += 1
'''


def big_module(path):
    """A module of BIG_FUNCTIONS functions, and run(): calls a few of them for about 50 ms."""
    with open(path, "w") as f:
        f.write("import time\n")
        for i in range(BIG_FUNCTIONS):
            f.write("def big_%d(n):\n    x = %d\n    for i in range(n):\n        x = (x * 31 + i) "
                    "%% 1000003\n    return x\n" % (i, i))
        f.write("def run():\n    t = time.monotonic()\n    i = 0\n"
                "    while time.monotonic() - t < 0.05:\n        globals()['big_%%d' %% (i %% %d)](200)\n"
                "        i += 1\n" % BIG_FUNCTIONS)


def short_lived(work, n):
    """n processes, 4 at a time, each importing the big module and running it."""
    argv = [PYTHON, "-c", "import sys; sys.path.insert(0, %r); import bigmod; bigmod.run()"
            % work, "codechurn-target"]
    running = []
    for _ in range(n):
        if len(running) >= 4:
            running.pop(0).wait()
        running.append(subprocess.Popen(argv))
    for p in running:
        p.wait()


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s*(\d+)", f.read()).group(1)) / 1024.0


def main():
    work = tempfile.mkdtemp(prefix="pyprof-bench-")
    cfg = os.path.join(work, "agent.yaml")
    sock = os.path.join(work, "agent.sock")
    out = os.path.join(work, "profiles")
    with open(cfg, "w") as f:
        f.write("sampling:\n  frequency_hz: 99\n  off_cpu: {enabled: false}\n"
                "targets:\n  all_python: false\n  cmdline_regex: ['codechurn-target']\n"
                "window:\n  seconds: 60\noutput:\n  directory: %s\n"
                "control:\n  socket: %s\n" % (out, sock))
    agent = subprocess.Popen([AGENT, "--config", cfg], stderr=subprocess.DEVNULL)
    target = None
    try:
        time.sleep(3)
        target = subprocess.Popen([PYTHON, "-c", TARGET, str(SECONDS), "codechurn-target"])
        time.sleep(60)
        first = rss_mib(agent.pid)
        peak = first
        status = ""
        while target.poll() is None:
            time.sleep(5)
            peak = max(peak, rss_mib(agent.pid))
            # the caches while the target lives (its entries go with it)
            now = subprocess.run([AGENTCTL, "status", "--socket", sock], capture_output=True,
                                 text=True, timeout=30).stdout
            if target.poll() is None:
                status = now
        end = rss_mib(agent.pid)
        big_module(os.path.join(work, "bigmod.py"))
        t0 = time.monotonic()
        short_lived(work, PROCS)
        procs_s = time.monotonic() - t0
        time.sleep(3)  # their exits handled, their caches released
        after_procs = rss_mib(agent.pid)
        peak = max(peak, after_procs)
    finally:
        if target and target.poll() is None:
            target.kill()
        agent.terminate()
        agent.wait()
    cache = [l.strip() for l in status.splitlines() if l.startswith("cache:")]
    # names in every full window: chainN.py frames are fN_k, and no other name
    wrong = checked = 0
    windows = sorted(p for p in os.listdir(out) if p.endswith("_cpu.folded"))
    for window in windows[:-1]:
        with open(os.path.join(out, window)) as f:
            for line in f:
                for m in re.finditer(r"([^;\s]+) \(chain(\d+)\.py:\d+\)", line):
                    checked += 1
                    # a chain's functions, or its module code while it defines them
                    wrong += not re.fullmatch(r"f%s_\d+|<module>" % m.group(2), m.group(1))
    print("### Code churn\n")
    print("A process making a new chain of 20 functions every 10 ms, %d s, daemon at 99 Hz.\n"
          % SECONDS)
    print("| daemon RSS after 1 min | peak | end of the chains | growth after 1 min | frames checked "
          "| misnamed |")
    print("|---|---|---|---|---|---|")
    print("| %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %d | %d |\n"
          % (first, peak, end, end - first, checked, wrong))
    print("Then %d short-lived processes importing a module of %d functions, 4 at a time (%.0f s): "
          "daemon RSS %.1f MiB after them, %.1f MiB more than after the first minute.\n"
          % (PROCS, BIG_FUNCTIONS, procs_s, after_procs, after_procs - first))
    for line in cache:
        print("    " + line)
    print()
    if wrong:
        # each frame carries a check of three pointers of its code object (py_code_check): a
        # chain freed whole and the next made at the very same addresses, its strings too (the
        # allocator reuses the last freed block first), passes it; see docs/benchmarks.md
        print("code churn: %d of %d chain frames (%.3f%%) named by another chain's function\n"
              % (wrong, checked, 100.0 * wrong / checked))
    growth = max(end, after_procs) - first
    if growth >= 5 or not checked:
        raise SystemExit("code churn: RSS grew %.1f MiB after the first minute (%d frames "
                         "checked)" % (growth, checked))


if __name__ == "__main__":
    main()
