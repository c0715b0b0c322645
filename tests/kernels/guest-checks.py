#!/usr/bin/python3.11
"""Kernel-matrix tier (make test-kernels): the checks run inside each booted kernel by
tests/kernels/run-matrix.sh (through boot.sh), also runnable on the host as root:

    /usr/bin/python3.11 tests/kernels/guest-checks.py [--out FILE]

  snapshot-3.12   `agentctl snapshot --pid` of busy.py under the pyenv shared build 3.12 names
                  `busy_leaf (...busy.py:LINE)` with LINE > 0
  snapshot-3.11   the same under Debian's static /usr/bin/python3.11
  offcpu          `agentctl snapshot --mode offcpu` of offcpu_sleep.py puts at least half the
                  snapshot's length on the `time.sleep` line of the workload's sleeper (it
                  sleeps all the time), and at most the snapshot's length plus 10%
  ways            decided by loading: the off-CPU way a snapshot takes by default is the first
                  of the agent's list that loads when forced alone (PYPROF_OFFCPU_WAY), and the
                  bounded-loop builds (PYPROF_FORCE_LEGACY=1), on-CPU and off-CPU, load and name
                  the same frames on every kernel
  daemon          `pyprof-agent --config` (3 s windows, off-CPU on, all in tmpfs) writes a window
                  as both _cpu.folded and _offcpu.folded, the latter with the sleeper's time.sleep
                  line
  status          `agentctl status` names the off-CPU way in use (not "disabled" or
                  "unavailable") and the on-CPU build

Every result is one line `RESULT<TAB>CHECK<TAB>PASS|FAIL|SKIP<TAB>REASON` (stdout, and FILE when
--out is given), plus `INFO<TAB>KEY<TAB>TEXT` lines (the off-CPU ways, kernel release). Exit
status 1 when a check failed. The binaries are $PYPROF_BUILD/agentctl and pyprof-agent
(default: the repository's build/); scratch files go under $TMPDIR (tmpfs in the guest).
Timeouts are generous: under qemu's TCG everything is 10-50x slower than native.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PYPROF_BUILD") or os.path.join(REPO, "build")
AGENTCTL = os.path.join(BUILD, "agentctl")
AGENT = os.path.join(BUILD, "pyprof-agent")
WORKLOADS = os.path.join(REPO, "tests", "workloads")
SLOW = float(os.environ.get("CHECK_TIME_SCALE", "1"))  # multiplies every timeout
SNAP_SECONDS = os.environ.get("CHECK_SNAPSHOT_SECONDS", "3")
RATE = os.environ.get("CHECK_RATE", "49")

out_file = None
failed = False
procs = []
scratch = []  # temporary directories, removed at exit


def emit(kind, key, *rest):
    line = "\t".join([kind, key] + [" ".join(str(r).split()) for r in rest])
    print(line, flush=True)
    if out_file:
        with open(out_file, "a") as f:
            f.write(line + "\n")


def save(check, text):
    """The whole log of a failed step, next to --out's file (the results share in the guest)."""
    if out_file and text:
        with open(os.path.join(os.path.dirname(out_file), check + ".log"), "a") as f:
            f.write(text if text.endswith("\n") else text + "\n")


def result(check, status, reason=""):
    global failed
    if status == "FAIL":
        failed = True
    emit("RESULT", check, status, reason or "-")


STAMP = re.compile(r"^\d{4}-\d\d-\d\dT[\d:]+Z ")


def tail(text, n=300):
    """The gist of a log: its first libbpf warning (the cause: a program the verifier refused,
    an extern the kernel lacks, ...) and its last error line, else its last lines; no stamps."""
    lines = [STAMP.sub("", l.strip()) for l in text.strip().splitlines() if l.strip()]
    prog = [l for l in lines if "libbpf: " in l
            and not re.search(r"failed to load (object|BPF skeleton)", l)]
    errs = [l for l in lines if l.startswith("error:")]
    picked = prog[:1] + errs[-1:] if errs else lines[-3:]
    return " | ".join(picked)[-n:]


class Workload:
    def __init__(self, python, script, name):
        self.dir = tempfile.mkdtemp(prefix="kchk-%s-" % name)
        scratch.append(self.dir)
        env = dict(os.environ, E2E_WORKDIR=self.dir, PYTHONDONTWRITEBYTECODE="1")
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen([python, os.path.join(WORKLOADS, script)], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(self.proc)
        self.pid = self.proc.pid

    def ready(self, timeout=90):
        path = os.path.join(self.dir, "ready.json")
        end = time.monotonic() + timeout * SLOW
        while time.monotonic() < end:
            if os.path.exists(path):
                with open(path) as f:
                    return json.load(f)
            if self.proc.poll() is not None:
                raise RuntimeError("workload exited %s: %s" % (self.proc.returncode, self.output()))
            time.sleep(0.2)
        raise RuntimeError("workload not ready after %ds: %s" % (timeout * SLOW, self.output()))

    def output(self):
        with open(os.path.join(self.dir, "log"), "rb") as f:
            return tail(f.read().decode("utf-8", "replace"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def run(argv, timeout):
    try:
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           errors="replace", timeout=timeout * SLOW)
        return r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or ""), \
            "timed out after %ds" % (timeout * SLOW)


def snapshot(pid, *extra, seconds=SNAP_SECONDS):
    env_sock = os.environ.pop("PYPROF_SOCKET", None)  # no daemon: agentctl loads its own BPF
    rc, out, err = run([AGENTCTL, "snapshot", "--pid", str(pid), "--duration", seconds,
                        "--rate", RATE, "--socket", "/nonexistent/agent.sock"] + list(extra), 150)
    if env_sock is not None:
        os.environ["PYPROF_SOCKET"] = env_sock
    return rc, out, err


def check_snapshot(check, pattern):
    pythons = sorted(glob.glob(pattern), key=lambda p: [int(x) for x in re.findall(r"\d+", p)])
    if not pythons:
        return result(check, "SKIP", "no interpreter at %s" % pattern)
    t0 = time.monotonic()
    w = Workload(pythons[-1], "busy.py", check)
    try:
        w.ready()
        rc, out, err = snapshot(w.pid)
        lines = [int(m) for m in re.findall(r"busy_leaf \([^;()]*busy\.py:(\d+)\)", out)]
        if rc == 0 and any(n > 0 for n in lines):
            result(check, "PASS", "%s: busy_leaf (busy.py:%d) in %d stacks, %.0fs"
                   % (pythons[-1], max(lines), len(lines), time.monotonic() - t0))
        elif rc == 0:
            result(check, "FAIL", "no busy_leaf (busy.py:LINE>0) frame; stdout: %s; stderr: %s"
                   % (tail(out, 200), tail(err, 200)))
        else:
            save(check, err)
            result(check, "FAIL", "agentctl snapshot exited %s: %s" % (rc, tail(err)))
    except Exception as e:  # noqa: BLE001 - any failure is this check's FAIL
        result(check, "FAIL", str(e))
    finally:
        w.stop()


WINDOWS_TRIED = 3  # windows with samples the daemon check looks at for the sleeper's line


def look_at_window(outdir, w):
    """("PASS" or "FAIL", what window w of the daemon holds)."""
    with open(os.path.join(outdir, w + "_cpu.folded")) as f:
        n_cpu = len(f.read().splitlines())
    with open(os.path.join(outdir, w + "_offcpu.folded")) as f:
        off_text = f.read()
    n_off = len(off_text.splitlines())
    at_sleep = re.search(r"\(\S*offcpu_sleep\.py:%d\)" % sleep_line(), off_text)
    if n_cpu and at_sleep:
        return "PASS", "window %s: %d cpu + %d offcpu stacks" % (w, n_cpu, n_off)
    return "FAIL", "window %s: %d cpu stacks, %d offcpu stacks, %s the sleeper's time.sleep " \
        "line (offcpu: %s)" % (w, n_cpu, n_off, "with" if at_sleep else "without",
                               " | ".join(off_text.splitlines())[:400])


def sleep_line():
    with open(os.path.join(WORKLOADS, "offcpu_sleep.py")) as f:
        for n, line in enumerate(f, 1):
            if "time.sleep(0.1)" in line and "marker: sleep call" in line:
                return n
    raise RuntimeError("offcpu_sleep.py has no 'marker: sleep call' line")


def check_offcpu(python="/usr/bin/python3.11"):
    check = "offcpu"
    t0 = time.monotonic()
    w = Workload(python, "offcpu_sleep.py", check)
    try:
        line = sleep_line()
        w.ready()
        rc, out, err = snapshot(w.pid, "--mode", "offcpu")
        m = re.search(r"off-CPU tracer: ((?:tp_btf|raw_tp)[^\n]*)", err)
        if m:
            emit("INFO", "snapshot-ways", m.group(1).strip())
        us = 0
        for l in out.splitlines():
            if re.search(r"\(\S*offcpu_sleep\.py:%d\)" % line, l):
                us += int(l.rsplit(" ", 1)[1])
        length = float(SNAP_SECONDS) * 1e6
        if rc == 0 and 0.5 * length <= us <= 1.1 * length:
            result(check, "PASS", "%.2f s off CPU at offcpu_sleep.py:%d (time.sleep), %.0fs"
                   % (us / 1e6, line, time.monotonic() - t0))
        elif rc == 0 and us > 0:
            result(check, "FAIL", "%.2f s off CPU at offcpu_sleep.py:%d in a %s s snapshot of a "
                   "thread that sleeps all the time" % (us / 1e6, line, SNAP_SECONDS))
        elif rc == 0:
            result(check, "FAIL", "no time on offcpu_sleep.py:%d; stdout: %s; stderr: %s"
                   % (line, tail(out, 200), tail(err, 200)))
        else:
            save(check, err)
            result(check, "FAIL", "agentctl snapshot --mode offcpu exited %s: %s" % (rc, tail(err)))
    except Exception as e:  # noqa: BLE001
        result(check, "FAIL", str(e))
    finally:
        w.stop()


# The off-CPU tracer's ways in the order the agent tries them (agent/bpf/sampler.c offcpu_ways).
OFFCPU_WAYS = [
    "tp_btf, task storage, task work",
    "tp_btf, task storage, rseq_update",
    "raw_tp, map by thread id, rseq_update",
    "tp_btf, map by thread id, rseq_update, bounded loops",
    "tp_btf, task storage, stack at switch-out",
    "raw_tp, map by thread id, stack at switch-out",
    "tp_btf, map by thread id, stack at switch-out, bounded loops",
]


def check_ways(python="/usr/bin/python3.11"):
    """The ladder itself: each way forced alone loads or is refused in one line; the default is
    the first that loads; the bounded-loop builds load everywhere and give the same frames."""
    check = "ways"
    w = Workload(python, "offcpu_sleep.py", check)
    saved = os.environ.copy()
    try:
        w.ready()
        loads = []
        for way in OFFCPU_WAYS:
            os.environ["PYPROF_OFFCPU_WAY"] = way
            rc, out, err = snapshot(w.pid, "--mode", "offcpu", seconds="1")
            if rc == 0:
                loads.append(way)
            elif rc != 7 or len([l for l in err.splitlines() if "error:" in l]) != 1:
                save(check, err)
                return result(check, "FAIL", "way %r forced: exit %s, not 0 or 7 with one "
                              "line: %s" % (way, rc, tail(err)))
        emit("INFO", "ways-loaded", "; ".join(loads) or "none")
        del os.environ["PYPROF_OFFCPU_WAY"]
        rc, out, err = snapshot(w.pid, "--mode", "offcpu", seconds="1")
        m = re.search(r"off-CPU tracer: ([^\n]*)", err)
        if not loads or rc != 0 or not m or not m.group(1).startswith(loads[0] + ", "):
            save(check, err)
            return result(check, "FAIL", "ways that load forced alone: %s; the default took: %s"
                          % (loads, m.group(1) if m else tail(err)))
        os.environ["PYPROF_FORCE_LEGACY"] = "1"
        rc, out, err = snapshot(w.pid, "--mode", "wall")
        legacy = re.search(r"off-CPU tracer: ([^\n]*)", err)
        at_sleep = re.search(r"\(\S*offcpu_sleep\.py:%d\)" % sleep_line(), out)
        if rc != 0 or not legacy or "bounded loops" not in legacy.group(1) or not at_sleep:
            save(check, err)
            return result(check, "FAIL", "bounded-loop builds (wall mode): exit %s, %s: %s"
                          % (rc, legacy.group(1) if legacy else "no off-CPU way",
                             tail(err) if rc else "no time.sleep frame"))
        result(check, "PASS", "default %s; %d of %d ways load; bounded-loop builds too"
               % (m.group(1), len(loads), len(OFFCPU_WAYS)))
    except Exception as e:  # noqa: BLE001
        result(check, "FAIL", str(e))
    finally:
        os.environ.clear()
        os.environ.update(saved)
        w.stop()


def check_daemon():
    d = tempfile.mkdtemp(prefix="kchk-daemon-")
    scratch.append(d)
    sock = os.path.join(d, "agent.sock")
    outdir = os.path.join(d, "profiles")
    cfg = os.path.join(d, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("sampling:\n  frequency_hz: %s\n  off_cpu:\n    enabled: true\n"
                "window:\n  seconds: 3\noutput:\n  directory: %s\n  formats: [folded]\n"
                "control:\n  socket: %s\nhost:\n  name: kmatrix\n" % (RATE, outdir, sock))
    workloads = [Workload("/usr/bin/python3.11", "busy.py", "dbusy"),
                 Workload("/usr/bin/python3.11", "offcpu_sleep.py", "dsleep")]
    log = open(os.path.join(d, "agent.log"), "wb")
    agent = None
    t0 = time.monotonic()
    try:
        for w in workloads:
            w.ready()
        agent = subprocess.Popen([AGENT, "--config", cfg], stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(agent)

        def agent_log():
            with open(os.path.join(d, "agent.log"), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            save("daemon", text)
            return tail(text)

        # a window with both files, on-CPU samples and the sleeper's time.sleep line, or the
        # daemon gone. The window the targets were found in may end before the sleeper's first
        # 100 ms sleep does (the window is wall-clock aligned): a make test-kernels saw one with
        # 2 cpu and 2 offcpu stacks, none of them the sleep, so up to WINDOWS_TRIED windows with
        # samples are looked at (under TCG the daemon starts slowly)
        end = time.monotonic() + 180 * SLOW
        cpu = off = []
        looked, verdict = set(), None
        while (time.monotonic() < end and agent.poll() is None and len(looked) < WINDOWS_TRIED
               and not (verdict and verdict[0] == "PASS")):
            files = os.listdir(outdir) if os.path.isdir(outdir) else []
            cpu = sorted(f for f in files if f.endswith("_cpu.folded"))
            off = sorted(f for f in files if f.endswith("_offcpu.folded"))
            both = set(f[:-len("_cpu.folded")] for f in cpu) & set(
                f[:-len("_offcpu.folded")] for f in off)
            for w in sorted(both - looked):
                if not os.path.getsize(os.path.join(outdir, w + "_cpu.folded")):
                    continue
                looked.add(w)
                verdict = look_at_window(outdir, w)
                if verdict[0] == "PASS":
                    break
            time.sleep(0.5)
        # status, while it runs
        if agent.poll() is None:
            rc, out, err = run([AGENTCTL, "status", "--socket", sock], 60)
            ways = [l.strip() for l in out.splitlines()
                    if re.match(r"\s*(on-CPU|off-CPU|process events)\b", l)]
            for l in ways:
                emit("INFO", "status", l)
            offl = [l for l in ways if l.startswith("off-CPU")]
            if rc != 0:
                result("status", "FAIL", "agentctl status exited %s: %s" % (rc, tail(err)))
            elif not offl:
                result("status", "FAIL", "no off-CPU line in the status: %s" % tail(out))
            elif "disabled" in offl[0] or "unavailable" in offl[0]:
                result("status", "FAIL", offl[0])
            else:
                result("status", "PASS", offl[0])
        else:
            result("status", "FAIL", "the daemon exited %s: %s" % (agent.returncode, agent_log()))
        if verdict:
            result("daemon", verdict[0], "%s, %.0fs (%d windows looked at)%s"
                   % (verdict[1], time.monotonic() - t0, len(looked),
                      "" if verdict[0] == "PASS" else "; log: " + agent_log()))
        elif agent.poll() is not None:
            result("daemon", "FAIL", "the daemon exited %s: %s" % (agent.returncode, agent_log()))
        else:
            result("daemon", "FAIL", "no window with both files after %ds (files: %s); log: %s"
                   % (180 * SLOW, " ".join(cpu + off) or "none", agent_log()))
    except Exception as e:  # noqa: BLE001
        result("daemon", "FAIL", str(e))
        result("status", "FAIL", "not reached: %s" % e)
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(60 * SLOW)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        for w in workloads:
            w.stop()


def main():
    global out_file
    if "--out" in sys.argv:
        out_file = sys.argv[sys.argv.index("--out") + 1]
        open(out_file, "w").close()
    if os.geteuid() != 0:
        print("guest-checks: run as root", file=sys.stderr)
        return 2
    emit("INFO", "kernel", os.uname().release)
    for b in (AGENTCTL, AGENT):
        if not os.access(b, os.X_OK):
            for c in ("snapshot-3.12", "snapshot-3.11", "offcpu", "ways", "daemon", "status"):
                result(c, "FAIL", "%s not built (make all)" % b)
            return 1
    try:
        check_snapshot("snapshot-3.12",
                       os.path.join(os.environ.get("PYENV_ROOT", "/root/.pyenv"),
                                    "versions", "3.12.*", "bin", "python3.12"))
        check_snapshot("snapshot-3.11", "/usr/bin/python3.11")
        check_offcpu()
        check_ways()
        check_daemon()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for d in scratch:
            shutil.rmtree(d, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
