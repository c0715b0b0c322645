"""make bench, off-CPU tracer: round trips per second of a pipe ping-pong between two Python
threads (a context switch each way), not traced, traced, and not traced while the agent traces
another process (the early-exit cost every other process pays); and the BPF time per switch."""
import os
import subprocess
import time

from common import AGENTCTL, HERE, PYTHON, ROUNDS, bpf_stats, interleaved, prog_stats, slowdown_rows

PINGPONG = os.path.join(HERE, "pingpong.py")
IDLE = os.path.join(HERE, "cpu_workload.py")
RUN_S = float(os.environ.get("BENCH_RUN_S", "4"))


def run(condition):
    wl = subprocess.Popen([PYTHON, PINGPONG, str(RUN_S)], stdout=subprocess.PIPE, text=True)
    agent = other = None
    if condition != "none":
        target = wl.pid
        if condition == "other":
            other = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(%f)" % (RUN_S + 6)])
            target = other.pid
        agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(target), "--duration",
                                  str(RUN_S + 5), "--mode", "offcpu", "--output", os.devnull],
                                 stderr=subprocess.DEVNULL)
    out, _ = wl.communicate()
    for p in (agent, other):
        if p:
            p.kill()
            p.wait()
    return float(out.strip())


def bpf_per_switch():
    bpf_stats(1)
    wl = subprocess.Popen([PYTHON, PINGPONG, "8"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration", "6",
                              "--mode", "offcpu", "--output", os.devnull],
                             stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    sw = prog_stats(agent.pid, "pyprof_switch_b")
    ex = prog_stats(agent.pid, "pyprof_sysexit_")
    agent.communicate()
    wl.wait()
    bpf_stats(0)
    return sw, ex


def main():
    print("### Off-CPU tracer\n")
    print("Target: `tests/bench/pingpong.py` (two threads, one byte each way over pipes) under "
          "%s; %d interleaved rounds of %.0f s.\n" % (PYTHON, ROUNDS, RUN_S))
    print("| condition | baseline round trips/s (median) | with agent (median) | cost (ratio of "
          "medians) | cost (median of paired runs) | baseline spread (stdev) |")
    print("|---|---|---|---|---|---|")
    res = interleaved(["none", "traced", "other"], run)
    names = {"traced": "ping-pong traced (offcpu)", "other": "agent tracing another process"}
    for cond, base, med, sd, pair, noise in slowdown_rows(res, "none"):
        print("| %s | %.0f | %.0f | %.2f%% | %.2f%% | %.2f%% |" % (names[cond], base, med, sd,
                                                                 pair, noise))
    sw, ex = bpf_per_switch()
    print("\nBPF time (kernel BPF stats), ping-pong traced; every switch and every system call "
          "on the machine runs these programs, most of them exiting at the first check:\n")
    print("| program | runs | ns per run |")
    print("|---|---|---|")
    for name, st in (("sched_switch", sw), ("sys_exit", ex)):
        if st and st[1]:
            print("| %s | %d | %.0f |" % (name, st[1], st[0] / st[1]))
    print()


if __name__ == "__main__":
    main()
