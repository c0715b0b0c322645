"""make bench, on-CPU sampler: the target's slowdown at 99 and 999 Hz (interleaved runs,
medians), the BPF program's run time per sample by Python stack depth (kernel BPF stats), and
the CPU and RSS of agentctl during a snapshot. Prints Markdown tables."""
import os
import random
import re
import resource
import subprocess
import time

from common import (AGENTCTL, HERE, PYTHON, REPO, ROUNDS, bpf_stats, interleaved, prog_stats,
                    slowdown_rows)

WORKLOAD = os.path.join(HERE, "cpu_workload.py")
RUN_S = float(os.environ.get("BENCH_RUN_S", "4"))


FLOOR = os.path.join(REPO, "build", "pyprof-floor")
# The conditions of the slowdown table: not profiled (0), the sampler at a rate (an int), and the
# kernel's floor at 999 Hz: its perf events alone, and with a BPF program that returns at once.
FLOORS = {"events": "999 Hz, perf events alone (the kernel's floor)",
          "empty": "999 Hz, perf events and an empty BPF program"}


def throughput(cond, depth=1):
    """Work per second of one workload run under cond (see FLOORS)."""
    wl = subprocess.Popen([PYTHON, WORKLOAD, str(RUN_S), str(depth)], stdout=subprocess.PIPE,
                          text=True)
    agent = None
    if cond in FLOORS:
        agent = subprocess.Popen([FLOOR, cond, "999", str(RUN_S + 1)])
    elif cond:
        agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration",
                                  str(RUN_S + 5), "--rate", str(cond), "--output", os.devnull],
                                 stderr=subprocess.DEVNULL)
    out, _ = wl.communicate()
    if agent:
        agent.wait()
    return float(out.strip())


# The interpreters of the per-version rows: pyenv's shared builds, Debian sid's 3.14 and 3.15
# through their wrappers (tests/pythons/: run in their own root and namespaces).
SID_BIN = os.path.join(REPO, "build", "sid-bin")
VERSIONS = [("3.12", "/root/.pyenv/versions/3.12.1/bin/python3.12"),
            ("3.13", "/root/.pyenv/versions/3.13.0/bin/python3.13"),
            ("3.14 (sid)", os.path.join(SID_BIN, "python3.14")),
            ("3.15 (sid)", os.path.join(SID_BIN, "python3.15"))]


def start_workload(python, depth, seconds, distinct=False):
    """cpu_workload.py under python; returns (process, its interpreter's host pid): a sid
    wrapper hands that back through PYPROF_SID_PIDFILE."""
    pidfile = "/tmp/pyprof-bench-%d.pid" % os.getpid()
    if os.path.exists(pidfile):
        os.unlink(pidfile)
    env = dict(os.environ, PYPROF_SID_PIDFILE=pidfile, PYPROF_SID_BINDS=HERE)
    wl = subprocess.Popen([python, WORKLOAD, str(seconds), str(depth)] +
                          (["distinct"] if distinct else []), stdout=subprocess.DEVNULL, env=env)
    if not python.startswith(SID_BIN):
        return wl, wl.pid
    for _ in range(200):
        if os.path.exists(pidfile):
            with open(pidfile) as f:
                pid = int(f.read())
            os.unlink(pidfile)
            return wl, pid
        if wl.poll() is not None:
            break
        time.sleep(0.05)
    return wl, wl.pid


def bpf_time(python, depth, env=None, distinct=False):
    """(BPF runs, target samples, ns per run, ns per target sample) of a 5 s snapshot at 999 Hz
    of cpu_workload.py at depth under python, or None."""
    wl, pid = start_workload(python, depth, 9, distinct)
    time.sleep(0.5)
    agent = subprocess.Popen([AGENTCTL, "snapshot", "--pid", str(pid), "--duration", "6",
                              "--rate", "999", "--output", os.devnull], stderr=subprocess.PIPE,
                             text=True, env=dict(os.environ, **(env or {})))
    time.sleep(5)
    stats = prog_stats(agent.pid, "pyprof_oncpu")
    _, err = agent.communicate()
    wl.kill()
    wl.wait()
    samples = next((int(t.split("=")[1]) for t in err.split() if t.startswith("samples=")), 0)
    if not stats or not samples:
        return None
    run_ns, cnt = stats
    return cnt, samples, run_ns / cnt, run_ns / samples


def floor_time(rate=999, seconds=5):
    """ns per run of the empty program (pyprof-floor) at rate Hz, by kernel BPF stats."""
    bpf_stats(1)
    floor = subprocess.Popen([FLOOR, "empty", str(rate), str(seconds + 2)])
    try:
        time.sleep(1)
        t0, c0 = prog_stats(floor.pid, "pyprof_floor") or (0, 0)
        time.sleep(seconds)
        t1, c1 = prog_stats(floor.pid, "pyprof_floor") or (0, 0)
    finally:
        floor.kill()
        floor.wait()
        bpf_stats(0)
    return (t1 - t0) / (c1 - c0) if c1 > c0 else None


def bpf_time_by_depth(depths=(1, 10, 50, 200, 1000)):
    """Rows by depth of one function recursing, and at 50 of 50 different functions (each frame
    its own code object, whose check is read once per sample)."""
    bpf_stats(1)
    rows = []
    for depth in depths:
        r = bpf_time(PYTHON, depth)
        if r:
            rows.append((str(depth),) + r)
    r = bpf_time(PYTHON, 50, distinct=True)
    if r:
        rows.append(("50, different functions",) + r)
    bpf_stats(0)
    return rows


def bpf_time_by_version(depth=50, rounds=3):
    """Rows per interpreter at depth, and one for the bounded-loop build (kernels before 5.17)
    on the first: the median of rounds, the builds in a new random order each round; a version
    that cannot be had is named, with why."""
    builds = [(name, exe, None) for name, exe in VERSIONS]
    builds.append(("3.12, bounded-loop build", VERSIONS[0][1], {"PYPROF_FORCE_LEGACY": "1"}))
    runs = {name: [] for name, _, _ in builds}
    bpf_stats(1)
    for _ in range(rounds):
        for name, exe, env in random.sample(builds, len(builds)):
            if os.access(exe, os.X_OK):
                r = bpf_time(exe, depth, env)
                if r:
                    runs[name].append(r)
    bpf_stats(0)
    rows = []
    for name, exe, _ in builds:
        if not os.access(exe, os.X_OK):
            rows.append((name, None, "not installed (%s)" % exe))
        elif not runs[name]:
            rows.append((name, None, "no samples"))
        else:
            by_sample = sorted(runs[name], key=lambda r: r[3])
            rows.append((name, by_sample[len(by_sample) // 2], None))
    return rows


def agent_footprint(rate=99, seconds=10):
    wl = subprocess.Popen([PYTHON, WORKLOAD, str(seconds + 2), "50"], stdout=subprocess.DEVNULL)
    time.sleep(0.3)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run([AGENTCTL, "snapshot", "--pid", str(wl.pid), "--duration", str(seconds),
                        "--rate", str(rate), "--output", os.devnull], stderr=subprocess.PIPE,
                       text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wl.kill()
    wl.wait()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    m = re.search(r"userspace: (\d+) ns per record", r.stderr)
    return 100 * cpu / wall, after.ru_maxrss / 1024, int(m.group(1)) if m else None


def main():
    print("### On-CPU sampler\n")
    print("Target: `tests/bench/cpu_workload.py` under %s; %d interleaved rounds of %.0f s per "
          "condition.\n" % (PYTHON, ROUNDS, RUN_S))
    print("| sampling rate | baseline work/s (median) | with agent (median) | slowdown "
          "(ratio of medians) | slowdown (median of paired runs) | baseline spread (stdev) |")
    print("|---|---|---|---|---|---|")
    res = interleaved([0, "events", "empty", 99, 999], throughput)
    rows = slowdown_rows(res, 0)
    for cond, base, med, sd, pair, noise in rows:
        print("| %s | %.1f | %.1f | %.2f%% | %.2f%% | %.2f%% |" % (
            FLOORS.get(cond, "%s Hz" % cond), base, med, sd, pair, noise))
    by = {r[0]: r[4] for r in rows}
    print("\nAt 999 Hz, ours (the sampler's slowdown less the empty program's, medians of "
          "paired runs): %.2f points; the kernel's floor: %.2f points (perf events alone) and "
          "%.2f (with an empty program)." % (by[999] - by["empty"], by["events"], by["empty"]))
    print("\nBPF time of `pyprof_oncpu` (kernel BPF stats, 999 Hz, 5 s). Runs include the "
          "early exits on other processes; the per-sample figure charges all run time to the "
          "target's samples, so it is an upper bound.\n")
    print("| Python stack depth | BPF runs | target samples | ns per run | ns per target sample "
          "(upper bound) |")
    print("|---|---|---|---|---|")
    by_depth = bpf_time_by_depth()
    for depth, cnt, samples, per_run, per_sample in by_depth:
        print("| %s | %d | %d | %.0f | %.0f |" % (depth, cnt, samples, per_run, per_sample))
    ours = {r[0]: r[4] * 999 / 1e7 for r in by_depth}
    empty = floor_time()
    if "50" in ours and empty:
        print("\nAt 999 Hz, the time the program takes from the target's own CPU (ns per target "
              "sample x 999 per second): %.2f%% of it at 50 frames (%.2f%% at 50 different "
              "functions); an empty program's: %.2f%% (%.0f ns per run). This direct part of "
              "the slowdown is ours; the rest is the kernel's (the floor rows above) and what "
              "the program's cache misses leave behind, which the slowdown rows cannot resolve "
              "here." % (ours["50"], ours.get("50, different functions", 0), empty * 999 / 1e7,
                         empty))
    print("\nThe same at a 50-frame stack, per CPython version (3.14 and 3.15: Debian sid's, in "
          "their own root and namespaces), and for the sampler's bounded-loop build: the median "
          "of 3 interleaved runs.\n")
    print("| CPython | BPF runs | target samples | ns per run | ns per target sample "
          "(upper bound) | vs 3.12 |")
    print("|---|---|---|---|---|---|")
    base = None
    for name, r, why in bpf_time_by_version():
        if not r:
            print("| %s | | | | %s | |" % (name, why))
            continue
        cnt, samples, per_run, per_sample = r
        base = base or per_sample
        print("| %s | %d | %d | %.0f | %.0f | %+.1f%% |" % (name, cnt, samples, per_run,
                                                          per_sample,
                                                          100 * (per_sample / base - 1)))
    cpu, rss, per_record = agent_footprint()
    print("\n| agentctl snapshot, 99 Hz, 10 s, 50-frame target | CPU | max RSS | userspace per "
          "record (drain, naming, counting) |")
    print("|---|---|---|---|")
    print("| | %.2f%% of one core | %.1f MiB | %s |\n"
          % (cpu, rss, "%d ns" % per_record if per_record is not None else "not reported"))


if __name__ == "__main__":
    main()
