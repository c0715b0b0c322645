"""make bench, daemon: CPU (percent of one core) and RSS of pyprof-agent over BENCH_DAEMON_S
(default 300) seconds with 4 busy Python processes at 99 Hz, on-CPU and off-CPU enabled."""
import os
import subprocess
import tempfile
import time

from common import AGENT, HERE, PYTHON

SECONDS = int(os.environ.get("BENCH_DAEMON_S", "300"))
WORKLOAD = os.path.join(HERE, "cpu_workload.py")


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def main():
    work = tempfile.mkdtemp(prefix="pyprof-bench-")
    cfg = os.path.join(work, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("sampling:\n  frequency_hz: 99\n  off_cpu: {enabled: true, min_block_us: 1000}\n"
                "window:\n  seconds: 60\noutput:\n  directory: %s/profiles\n"
                "control:\n  socket: %s/agent.sock\n" % (work, work))
    busy = [subprocess.Popen([PYTHON, WORKLOAD, str(SECONDS + 30), str(d)],
                             stdout=subprocess.DEVNULL) for d in (5, 20, 50, 100)]
    agent = subprocess.Popen([AGENT, "--config", cfg], stderr=subprocess.DEVNULL)
    time.sleep(5)  # start-up (BPF load, first scan) is not the steady state
    c0, t0 = proc_cpu_s(agent.pid), time.monotonic()
    rss = []
    while time.monotonic() - t0 < SECONDS:
        time.sleep(5)
        rss.append(proc_rss_mib(agent.pid))
    cpu = 100 * (proc_cpu_s(agent.pid) - c0) / (time.monotonic() - t0)
    agent.terminate()
    agent.wait()
    for p in busy:
        p.kill()
        p.wait()
    print("### Daemon\n")
    print("4 busy processes (%s, stack depths 5 to 100) at 99 Hz, on-CPU and off-CPU, %d s.\n"
          % (PYTHON, SECONDS))
    print("| pyprof-agent CPU | RSS (max) | RSS (end) |")
    print("|---|---|---|")
    print("| %.2f%% of one core | %.1f MiB | %.1f MiB |\n" % (cpu, max(rss), rss[-1]))


if __name__ == "__main__":
    main()
