"""make bench, scale: 100 CPython processes with 20 threads each under the daemon: on-CPU only
at 99 Hz and at 999 Hz, then on- and off-CPU (as shipped) at 99 Hz, BENCH_SCALE_S (default 30)
seconds each. Prints samples taken, ring-buffer drops and the time `agentctl status` takes (from
the daemon), the daemon's CPU and RSS, and its BPF programs' CPU (kernel.bpf_stats_enabled).
Every thread, 10 frames deep, runs 0.2 ms bursts 4 times a second: 2000 threads and 8000 blocks
a second, about 1.6 cores of CPU in all (2000 threads spinning for good would leave no CPU to
anyone on a small machine, the agent included: that measures the scheduler). The agent promises
no drops at 99 Hz and an answer to status within 2 s: the run fails otherwise."""
import json
import os
import re
import subprocess
import tempfile
import time

from common import AGENT, AGENTCTL, PYTHON, bpf_stats

SECONDS = int(os.environ.get("BENCH_SCALE_S", "30"))
PROCESSES, THREADS = 100, 20
WORKLOAD = r"""
import threading, time
def work(n):
    if n:
        return work(n - 1)
    while True:
        t = time.perf_counter()
        while time.perf_counter() - t < 0.0002:
            pass
        time.sleep(0.25)
for i in range(%d):
    threading.Thread(target=work, args=(10,), daemon=True).start()
threading.Event().wait()
""" % THREADS


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s*(\d+)", f.read()).group(1)) / 1024.0


def status(sock):
    """The daemon's figures, and how long it took to answer (None: no answer in 30 s)."""
    t0 = time.monotonic()
    try:
        out = subprocess.run([AGENTCTL, "status", "--socket", sock], capture_output=True,
                             text=True, timeout=30).stdout
    except subprocess.TimeoutExpired:
        return {"answer_s": None}
    figures = {"answer_s": time.monotonic() - t0}
    for line in out.splitlines():
        m = re.match(r"\s*([\w{}=]+):\s*([0-9]+(?:\.[0-9]+)?)\s*$", line)
        if m:
            figures[m.group(1)] = float(m.group(2))
    return figures


def bpf_run_ns(pid):
    """Summed run time (ns) of the BPF programs process pid holds (kernel.bpf_stats_enabled)."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"^prog_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True)
    return sum(p.get("run_time_ns", 0) for p in json.loads(out.stdout or "[]") if p["id"] in ids)


def write_config(path, work, hz, off_cpu):
    with open(path, "w") as f:
        f.write("sampling:\n  frequency_hz: %d\n  off_cpu: {enabled: %s}\n"
                "targets:\n  all_python: false\n  cmdline_regex: ['scale-bench']\n"
                "window:\n  seconds: 10\noutput:\n  directory: %s/profiles\n"
                "control:\n  socket: %s/agent.sock\nhost:\n  name: scale\n"
                % (hz, "true" if off_cpu else "false", work, work))


# (what is recorded, Hz, off-CPU on)
PHASES = [("on-CPU", 99, False), ("on-CPU", 999, False), ("on- and off-CPU (as shipped)", 99, True)]


def run_phase(work, hz, off_cpu):
    cfg, sock = os.path.join(work, "agent.yaml"), os.path.join(work, "agent.sock")
    write_config(cfg, work, hz, off_cpu)
    log = open(os.path.join(work, "agent-%d-%s.log" % (hz, off_cpu)), "wb")
    agent = subprocess.Popen([AGENT, "--config", cfg], stderr=log)
    try:
        for _ in range(300):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        time.sleep(8)  # discovery of every process, first windows
        b0, s0, c0, t0 = bpf_run_ns(agent.pid), status(sock), cpu_s(agent.pid), time.monotonic()
        peak = 0.0
        while time.monotonic() - t0 < SECONDS:
            time.sleep(2)
            peak = max(peak, rss_mib(agent.pid))
        s1, c1, t1, b1 = status(sock), cpu_s(agent.pid), time.monotonic(), bpf_run_ns(agent.pid)
    finally:
        agent.terminate()
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        log.close()
    samples = s1.get("samples_total", 0) - s0.get("samples_total", 0)
    drops = s1.get("ringbuf_drops_total", 0) - s0.get("ringbuf_drops_total", 0)
    return (s1.get("targets", 0), samples / (t1 - t0), drops, 100 * (c1 - c0) / (t1 - t0),
            peak, s1["answer_s"], 100 * (b1 - b0) / 1e9 / (t1 - t0))


def main():
    work = tempfile.mkdtemp(prefix="pyprof-scale-")
    procs = [subprocess.Popen([PYTHON, "-c", WORKLOAD, "scale-bench"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(PROCESSES)]
    rows, failed = [], False
    bpf_stats(1)
    try:
        for what, hz, off_cpu in PHASES:
            row = run_phase(work, hz, off_cpu)
            rows.append((what, hz) + row)
            if hz == 99 and (row[2] or row[5] is None or row[5] > 2.0):
                failed = True
    finally:
        bpf_stats(0)
        for p in procs:
            p.kill()
            p.wait()
    print("### Scale\n")
    print("%d processes x %d threads (%s; 0.2 ms bursts 4 times a second each), %d s per row; "
          "logs in %s.\n" % (PROCESSES, THREADS, PYTHON, SECONDS, work))
    print("| recorded | Hz | targets | samples/s | ring-buffer drops | pyprof-agent CPU "
          "| its BPF programs | RSS (max) | status answered in |")
    print("|---|---|---|---|---|---|---|---|---|")
    for what, hz, targets, sps, drops, cpu, peak, answer, bpf in rows:
        print("| %s | %d | %s | %.0f | %d | %.1f%% of one core | %.0f%% of one core | %.1f MiB "
              "| %s |" % (what, hz, "%d" % targets if targets else "?", sps, drops, cpu, bpf,
                          peak, "%.2f s" % answer if answer is not None else "no answer in 30 s"))
    print()
    if failed:
        print("scale: ring-buffer drops, or no status answer, at 99 Hz: the agent promises none")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
