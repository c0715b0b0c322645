"""make bench, on-CPU sampler: the target's slowdown at 99 and 999 Hz (interleaved runs,
medians), the BPF program's run time per sample by Python stack depth (kernel BPF stats), and
the CPU and RSS of agentctl during a snapshot. Prints Markdown tables."""
import os
import resource
import subprocess
import time

from common import (AGENTCTL, HERE, PYTHON, ROUNDS, bpf_stats, interleaved, prog_stats,
                    slowdown_rows)

WORKLOAD = os.path.join(HERE, "cpu_workload.py")
RUN_S = float(os.environ.get("BENCH_RUN_S", "4"))


def throughput(rate, depth=1):
    """Work per second of one workload run, profiled at rate Hz (0: not profiled)."""
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


def bpf_time_by_depth(depths=(1, 10, 50, 200, 1000)):
    bpf_stats(1)
    rows = []
    for depth in depths:
        wl = subprocess.Popen([PYTHON, WORKLOAD, "9", str(depth)], stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration",
                                  "6", "--rate", "999", "--output", os.devnull],
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(5)
        stats = prog_stats(agent.pid, "pyprof_oncpu")
        _, err = agent.communicate()
        wl.kill()
        wl.wait()
        samples = next((int(t.split("=")[1]) for t in err.split() if t.startswith("samples=")), 0)
        if stats and samples:
            run_ns, cnt = stats
            rows.append((depth, cnt, samples, run_ns / cnt, run_ns / samples))
    bpf_stats(0)
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
    print("### On-CPU sampler\n")
    print("Target: `tests/bench/cpu_workload.py` under %s; %d interleaved rounds of %.0f s per "
          "condition.\n" % (PYTHON, ROUNDS, RUN_S))
    print("| sampling rate | baseline work/s (median) | with agent (median) | slowdown "
          "(ratio of medians) | slowdown (median of paired runs) | baseline spread (stdev) |")
    print("|---|---|---|---|---|---|")
    res = interleaved([0, 99, 999], throughput)
    for rate, base, med, sd, pair, noise in slowdown_rows(res, 0):
        print("| %d Hz | %.1f | %.1f | %.2f%% | %.2f%% | %.2f%% |" % (rate, base, med, sd, pair,
                                                                   noise))
    print("\nBPF time of `pyprof_oncpu` (kernel BPF stats, 999 Hz, 5 s). Runs include the "
          "early exits on other processes; the per-sample figure charges all run time to the "
          "target's samples, so it is an upper bound.\n")
    print("| Python stack depth | BPF runs | target samples | ns per run | ns per target sample "
          "(upper bound) |")
    print("|---|---|---|---|---|")
    for depth, cnt, samples, per_run, per_sample in bpf_time_by_depth():
        print("| %d | %d | %d | %.0f | %.0f |" % (depth, cnt, samples, per_run, per_sample))
    cpu, rss = agent_footprint()
    print("\n| agentctl snapshot, 99 Hz, 10 s, 50-frame target | CPU | max RSS |")
    print("|---|---|---|")
    print("| | %.2f%% of one core | %.1f MiB |\n" % (cpu, rss))


if __name__ == "__main__":
    main()
