"""`make bench` for the on-CPU sampler: the target's slowdown at 99 and 999 Hz (interleaved runs,
medians), the BPF program's run time per sample by Python stack depth (kernel BPF stats), and the
CPU and RSS of agentctl during a snapshot. Prints a Markdown table."""
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
AGENTCTL = os.environ.get("AGENTCTL", os.path.join(HERE, "..", "..", "build", "agentctl"))
PYTHON = os.environ.get("BENCH_PYTHON", "/root/.pyenv/versions/3.12.1/bin/python3.12")
if not os.path.exists(PYTHON):
    PYTHON = "/usr/bin/python3"
WORKLOAD = os.path.join(HERE, "cpu_workload.py")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
RUN_S = float(os.environ.get("BENCH_RUN_S", "4"))


def throughput(rate, depth=1):
    """Work per second of one workload run, profiled at rate Hz (None: not profiled)."""
    wl = subprocess.Popen([PYTHON, WORKLOAD, str(RUN_S), str(depth)], stdout=subprocess.PIPE,
                          text=True)
    agent = None
    if rate:
        agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration",
                                  str(RUN_S + 5), "--rate", str(rate), "--output", os.devnull],
                                 stderr=subprocess.DEVNULL)
    out, _ = wl.communicate()
    if agent:
        agent.wait()
    return float(out.strip())


def slowdown():
    results = {None: [], 99: [], 999: []}
    for _ in range(ROUNDS):
        order = [None, 99, 999]
        random.shuffle(order)
        for rate in order:
            results[rate].append(throughput(rate))
    base = statistics.median(results[None])
    rows = []
    for rate in (99, 999):
        med = statistics.median(results[rate])
        # pairwise ratios within a round are less sensitive to drift than ratio of medians
        ratios = [r / b for r, b in zip(results[rate], results[None])]
        rows.append((rate, base, med, 100 * (1 - med / base),
                     100 * (1 - statistics.median(ratios)),
                     100 * statistics.pstdev(results[None]) / base))
    return rows


def prog_stats():
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    for p in json.loads(out.stdout or "[]"):
        if p.get("name") == "pyprof_oncpu":
            return p.get("run_time_ns", 0), p.get("run_cnt", 0)
    return None


def bpf_time_by_depth(depths=(1, 10, 50, 200, 1000)):
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=False)
    rows = []
    for depth in depths:
        wl = subprocess.Popen([PYTHON, WORKLOAD, "8", str(depth)], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration",
                                  "5", "--rate", "999", "--output", os.devnull],
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(4.5)
        stats = prog_stats()
        _, err = agent.communicate()
        wl.kill()
        wl.wait()
        samples = 0
        for tok in err.split():
            if tok.startswith("samples="):
                samples = int(tok.split("=")[1])
        if stats and samples:
            run_ns, cnt = stats
            rows.append((depth, cnt, samples, run_ns / cnt, run_ns / samples))
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=0"], check=False)
    return rows


def agent_footprint(rate=99, seconds=10):
    wl = subprocess.Popen([PYTHON, WORKLOAD, str(seconds + 2), "50"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration", str(seconds),
                    "--rate", str(rate), "--output", os.devnull], stderr=subprocess.DEVNULL)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wl.kill()
    wl.wait()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 100 * cpu / wall, after.ru_maxrss / 1024


def main():
    print("interpreter: %s; %d interleaved rounds of %.0f s per condition" % (PYTHON, ROUNDS, RUN_S))
    print()
    print("| sampling rate | baseline work/s (median) | with agent (median) | slowdown (ratio of medians) | slowdown (median of paired ratios) | baseline run-to-run spread (stdev) |")
    print("|---|---|---|---|---|---|")
    for rate, base, med, sd, pair, noise in slowdown():
        print("| %d Hz | %.1f | %.1f | %.2f%% | %.2f%% | %.2f%% |" % (rate, base, med, sd, pair, noise))
    print()
    print("| Python stack depth | BPF runs | target samples | ns per run (avg) | ns per target sample (upper bound) |")
    print("|---|---|---|---|---|")
    for depth, cnt, samples, per_run, per_sample in bpf_time_by_depth():
        print("| %d | %d | %d | %.0f | %.0f |" % (depth, cnt, samples, per_run, per_sample))
    print()
    cpu, rss = agent_footprint()
    print("| agentctl snapshot, 99 Hz, 10 s, 50-frame target | CPU %.2f%% of one core | max RSS %.1f MiB |" % (cpu, rss))
    print("|---|---|---|")


if __name__ == "__main__":
    main()
