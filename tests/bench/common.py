"""Shared by the benchmarks: paths, interleaved runs, BPF program statistics."""
import json
import os
import random
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
AGENTCTL = os.environ.get("AGENTCTL", os.path.join(REPO, "build", "agentctl"))
AGENT = os.environ.get("PYPROF_AGENT", os.path.join(REPO, "build", "pyprof-agent"))
PYTHON = os.environ.get("BENCH_PYTHON", "/root/.pyenv/versions/3.12.1/bin/python3.12")
if not os.path.exists(PYTHON):
    PYTHON = "/usr/bin/python3"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))


def interleaved(conditions, run, rounds=ROUNDS):
    """Runs run(condition) for every condition, in a new random order each round, and returns
    {condition: [result per round]}: drift on a shared machine hits all conditions alike."""
    results = {c: [] for c in conditions}
    for _ in range(rounds):
        order = list(conditions)
        random.shuffle(order)
        for c in order:
            results[c].append(run(c))
    return results


def slowdown_rows(results, base):
    """(condition, baseline median, condition median, slowdown of medians %, median of paired
    slowdowns %, baseline spread %) for every condition but base."""
    b = statistics.median(results[base])
    rows = []
    for c, vals in results.items():
        if c == base:
            continue
        m = statistics.median(vals)
        paired = [1 - v / r for v, r in zip(vals, results[base])]
        rows.append((c, b, m, 100 * (1 - m / b), 100 * statistics.median(paired),
                     100 * statistics.pstdev(results[base]) / b))
    return rows


def prog_stats(pid, name):
    """(run_time_ns, run_cnt) summed over the BPF programs whose name starts with name that
    process pid holds open (the kernel may cut names at 15 characters, or not)."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                for line in f:
                    if line.startswith("prog_id:"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    found = None
    for p in json.loads(out.stdout or "[]"):
        pn = p.get("name", "")
        if p["id"] in ids and pn and (pn.startswith(name) or name.startswith(pn)):
            t, c = found or (0, 0)
            found = (t + p.get("run_time_ns", 0), c + p.get("run_cnt", 0))
    return found


def bpf_stats(enabled):
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=%d" % enabled], check=False)
