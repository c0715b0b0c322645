"""make bench, off-CPU tracer: round trips per second of a pipe ping-pong between two Python
threads (a context switch each way), not traced, traced, and not traced while the agent traces
another process (the early-exit cost every other process pays); pinned, also traced the way of
kernels before 6.18 (a program at every return to user mode); and the BPF time per switch.

Two placements. Pinned: the ping-pong on the last CPU and the agent on the first; with both
threads on one CPU that CPU never idles, so a round trip costs its CPU time and the tracer's
share shows in full (the worst case). Free: the threads wake each other across CPUs, as in a
service, and the round trip is dominated by how fast an idle virtual CPU wakes up, which any
extra activity changes (it can come out faster with the agent)."""
import os
import subprocess
import time

from common import AGENTCTL, HERE, PYTHON, ROUNDS, bpf_stats, interleaved, prog_stats, slowdown_rows

PINGPONG = os.path.join(HERE, "pingpong.py")
IDLE = os.path.join(HERE, "cpu_workload.py")
RUN_S = float(os.environ.get("BENCH_RUN_S", "4"))


LAST_CPU = max(os.sched_getaffinity(0))


def pinned(cpu):
    return lambda: os.sched_setaffinity(0, {cpu})


def run(condition):
    placement, tracing = condition
    pin = placement == "pinned"
    wl = subprocess.Popen([PYTHON, PINGPONG, str(RUN_S)], stdout=subprocess.PIPE, text=True,
                          preexec_fn=pinned(LAST_CPU) if pin else None)
    agent = other = None
    if tracing != "none":
        target = wl.pid
        if tracing == "other":
            other = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(%f)" % (RUN_S + 6)])
            target = other.pid
        env = dict(os.environ)
        if tracing == "rseq":
            env["PYPROF_NO_TASK_WORK"] = "1"
        agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(target), "--duration",
                                  str(RUN_S + 5), "--mode", "offcpu", "--output", os.devnull],
                                 stderr=subprocess.DEVNULL, env=env,
                                 preexec_fn=pinned(0) if pin else None)
    out, _ = wl.communicate()
    for p in (agent, other):
        if p:
            p.kill()
            p.wait()
    return float(out.strip())


def bpf_per_switch():
    bpf_stats(1)
    wl = subprocess.Popen([PYTHON, PINGPONG, "8"], stdout=subprocess.DEVNULL,
                          preexec_fn=pinned(LAST_CPU))
    time.sleep(0.3)
    agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration", "6",
                              "--mode", "offcpu", "--output", os.devnull],
                             stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    sw = prog_stats(agent.pid, "pyprof_switch")
    ex = prog_stats(agent.pid, "pyprof_resume")
    agent.communicate()
    wl.wait()
    bpf_stats(0)
    return sw, ex


def main():
    print("### Off-CPU tracer\n")
    print("Target: `tests/bench/pingpong.py` (two threads, one byte each way over pipes) under "
          "%s; %d interleaved rounds of %.0f s per condition. Pinned: the ping-pong on CPU %d, "
          "the agent on CPU 0 (the worst case: no idle time hides the cost); free: placed by "
          "the scheduler.\n" % (PYTHON, ROUNDS, RUN_S, LAST_CPU))
    print("| placement | condition | baseline round trips/s (median) | with agent (median) | "
          "cost (ratio of medians) | cost (median of paired runs) | baseline spread (stdev) |")
    print("|---|---|---|---|---|---|---|")
    kinds = {"pinned": ("none", "traced", "other", "rseq"), "free": ("none", "traced", "other")}
    conds = [(p, t) for p in kinds for t in kinds[p]]
    res = interleaved(conds, run)
    names = {"traced": "ping-pong traced (offcpu)", "other": "agent tracing another process",
             "rseq": "traced, the way of kernels before 6.18 (PYPROF_NO_TASK_WORK=1)"}
    for placement in kinds:
        sub = {t: res[(placement, t)] for t in kinds[placement]}
        for cond, base, med, sd, pair, noise in slowdown_rows(sub, "none"):
            print("| %s | %s | %.0f | %.0f | %.2f%% | %.2f%% | %.2f%% |" % (
                placement, names[cond], base, med, sd, pair, noise))
    sw, ex = bpf_per_switch()
    print("\nBPF time (kernel BPF stats), pinned ping-pong traced; every switch on the machine "
          "runs the first program, most of them exiting at the first check; the second runs at "
          "every return to user mode after a switch, only on kernels without BPF task work "
          "(before 6.18; this one has it when the row is missing):\n")
    print("| program | runs | ns per run |")
    print("|---|---|---|")
    for name, st in (("sched_switch", sw), ("rseq_update (back to user mode)", ex)):
        if st and st[1]:
            print("| %s | %d | %.0f |" % (name, st[1], st[0] / st[1]))
    print()


if __name__ == "__main__":
    main()
