"""The daemon end to end: configuration errors, discovery of processes as they come and go,
window totals and boundaries, target selection, SIGHUP and SIGTERM, the control socket
(agentctl status and snapshot) and the Prometheus endpoint (read by promtool)."""
import calendar
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import REPO, Profile, free_port, workload_path

AGENT = os.environ.get("PYPROF_AGENT", os.path.join(REPO, "build", "pyprof-agent"))
# absolute: some tests run agentctl from their own directory (make test passes a relative path)
AGENTCTL = os.path.abspath(os.environ.get("AGENTCTL", os.path.join(REPO, "build", "agentctl")))
BUSY = workload_path("busy.py")


def write_config(path, body):
    with open(path, "w") as f:
        f.write(body)
    return path


class Daemon:
    """A pyprof-agent with its own directory, socket and (optionally) metrics port."""

    def __init__(self, tmp, extra="", seconds=2, hz=99, targets="  all_python: true\n",
                 metrics=False, sock_dir=None, off_cpu=False, env=None):
        self.dir = str(tmp)
        self.out = os.path.join(self.dir, "profiles")
        self.sock = os.path.join(sock_dir or self.dir, "agent.sock")
        self.port = free_port() if metrics else None
        self.config = os.path.join(self.dir, "agent.yaml")
        self.template = ("sampling:\n  frequency_hz: %d\n  off_cpu: {enabled: "
                         + ("true" if off_cpu else "false") + "}\n"
                         "targets:\n%s"
                         "window:\n  seconds: %d\n"
                         "output:\n  directory: %s\n"
                         "control:\n  socket: %s\n"
                         "metrics:\n  listen: \"%s\"\n"
                         "host:\n  name: testhost\n%s")
        self.write(hz=hz, seconds=seconds, targets=targets, extra=extra)
        self.log_path = os.path.join(self.dir, "agent.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([AGENT, "--config", self.config], stdout=self.log_file,
                                     stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
        deadline = time.monotonic() + 20
        while not os.path.exists(self.sock):
            assert self.proc.poll() is None, "agent exited %s:\n%s" % (self.proc.returncode,
                                                                       self.log())
            assert time.monotonic() < deadline, "agent not ready in 20 s:\n" + self.log()
            time.sleep(0.05)

    def write(self, hz, seconds, targets, extra=""):
        listen = "127.0.0.1:%d" % self.port if self.port else ""
        write_config(self.config, self.template % (hz, targets, seconds, self.out, self.sock,
                                                   listen, extra))

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def windows(self):
        """Finished cpu windows, oldest first: [(slot start 'YYYYmmddTHHMMSSZ', path)]."""
        paths = sorted(glob.glob(os.path.join(self.out, "testhost_*_cpu.folded")))
        return [(os.path.basename(p).split("_")[1], p) for p in paths]

    def wait_windows(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self.windows()) < n:
            assert self.proc.poll() is None, "agent died:\n" + self.log()
            assert time.monotonic() < deadline, "only %d windows after %d s:\n%s" % (
                len(self.windows()), timeout, self.log())
            time.sleep(0.1)
        return self.windows()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail("agent ignored signal %d for 20 s:\n%s" % (sig, self.log()))
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


@pytest.fixture
def daemon(tmp_path):
    started = []

    def _start(**kw):
        d = Daemon(tmp_path, **kw)
        started.append(d)
        return d

    yield _start
    for d in started:
        d.kill()


@pytest.fixture
def busy(any_interp, tmp_path):
    """busy(*marker_args) runs tests/workloads/busy.py forever; marker args only tag its
    command line."""
    procs = []
    env = dict(os.environ, E2E_WORKDIR=str(tmp_path))

    def _start(*extra_args, exe=None):
        p = subprocess.Popen([exe or any_interp.path, BUSY, "0"] + list(extra_args),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        procs.append(p)
        return p

    yield _start
    for p in procs:
        p.kill()
        p.wait()


class CpuClock:
    """Samples a process's CPU time (utime + stime) every 50 ms in the background, so a test
    can ask how much CPU it got between two wall-clock instants: on a busy machine a 'busy'
    process gets less than a whole core, and the expected sample count follows its CPU time."""

    def __init__(self, pid):
        self.pid, self.points, self.running = pid, [], True
        self.tick = os.sysconf("SC_CLK_TCK")
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while self.running:
            try:
                with open("/proc/%d/stat" % self.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self.points.append((time.time(), (int(fields[11]) + int(fields[12])) / self.tick))
            except OSError:
                return
            time.sleep(0.05)

    def at(self, t):
        before = [p for p in self.points if p[0] <= t]
        after = [p for p in self.points if p[0] >= t]
        assert before and after, "no CPU clock reading around %f" % t
        (t0, c0), (t1, c1) = before[-1], after[0]
        return c0 if t1 == t0 else c0 + (c1 - c0) * (t - t0) / (t1 - t0)

    def between(self, t0, t1):
        return self.at(t1) - self.at(t0)

    def stop(self):
        self.running = False
        self.thread.join()


def slot_time(slot):
    return calendar.timegm(time.strptime(slot, "%Y%m%dT%H%M%SZ"))


def read_profile(path):
    with open(path) as f:
        return Profile(f.read())


def pid_total(prof, pid):
    return prof.count(lambda s: s.pid == pid)


# ---- configuration errors -------------------------------------------------------------------

BAD_CONFIGS = [
    ("bad_type", "window:\n  seconds: ten\n",
     'window.seconds: expected a positive integer, got "ten" (agent.yaml:2:12)'),
    ("unknown_key", "sampling:\n  frequncy_hz: 99\n",
     "sampling.frequncy_hz: unknown key; did you mean frequency_hz? (agent.yaml:2:3)"),
    ("negative", "window:\n  seconds: -5\n", "window.seconds: "),
    ("bad_regex", "targets:\n  all_python: false\n  cmdline_regex: ['(unclosed']\n",
     "targets.cmdline_regex"),
    ("yaml_syntax", "window:\n  seconds: [1, 2\n", "(agent.yaml:"),
]


@pytest.mark.parametrize("name,text,message", BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_malformed_config_is_refused_with_its_position_and_exit_2(tmp_path, name, text, message):
    write_config(os.path.join(str(tmp_path), "agent.yaml"), text)
    for args in (["--config", "agent.yaml"], ["--check-config", "agent.yaml"]):
        p = subprocess.run([AGENT] + args, capture_output=True, text=True, timeout=30,
                           cwd=str(tmp_path))
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert message in p.stderr, (message, p.stderr)
        assert "agent.yaml:" in p.stderr, p.stderr  # file:line:column of the problem


def test_unreadable_config_names_the_file_and_exits_2(tmp_path):
    path = os.path.join(str(tmp_path), "missing.yaml")
    p = subprocess.run([AGENT, "--config", path], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert path in p.stderr and "No such file" in p.stderr, p.stderr


def test_shipped_config_is_valid():
    p = subprocess.run([AGENT, "--check-config", os.path.join(REPO, "config", "agent.yaml")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "frequency_hz: 99" in p.stdout


# ---- discovery and windows ------------------------------------------------------------------

def test_process_started_later_is_in_the_next_window_and_gone_after_exit(daemon, busy):
    d = daemon(seconds=2)
    time.sleep(0.5)
    p = busy()
    started = time.time()
    d.wait_windows(3, 30)
    # the window whose slot starts after the exec (at most 1 s late) has it
    time.sleep(0.2)
    later = [(slot, path) for slot, path in d.windows()
             if time.mktime(time.strptime(slot, "%Y%m%dT%H%M%SZ")) - time.timezone >= started]
    assert later, d.windows()
    assert pid_total(read_profile(later[0][1]), p.pid) > 0, (later[0], d.log())
    p.kill()
    p.wait()
    exited = time.time()
    # after the grace period (2 s), windows starting later hold nothing of it
    deadline = time.monotonic() + 30
    while True:
        after = [(slot, path) for slot, path in d.windows()
                 if time.mktime(time.strptime(slot, "%Y%m%dT%H%M%SZ")) - time.timezone
                 >= exited + 1]
        if after:
            break
        assert time.monotonic() < deadline, d.windows()
        time.sleep(0.2)
    assert pid_total(read_profile(after[0][1]), p.pid) == 0


def test_code_first_run_just_before_the_process_exits_is_named(daemon, any_interp, tmp_path):
    """After a few seconds of the same stacks the daemon drains once a second. Each process
    then runs a function it never ran before for 0.15 s of CPU and exits: the new stack wakes
    the daemon, which names the new code while the process still lives. Three processes one
    after another, so that a drain falling in the last moments by chance cannot pass for it."""
    d = daemon(seconds=60, targets="  all_python: false\n  cmdline_regex: ['lastword[.]py']\n")
    pids = []
    for _ in range(3):
        p = subprocess.Popen([any_interp.path, workload_path("lastword.py"), "4", "0.15"],
                             env=dict(os.environ, E2E_WORKDIR=str(tmp_path)))
        try:
            assert p.wait(120) == 0
        finally:
            p.kill()
            p.wait()
        pids.append(p.pid)
    time.sleep(0.5)
    d.stop()
    texts = []
    for _, path in d.windows():  # one, or two if a minute began meanwhile
        with open(path) as f:
            texts.append(f.read())
    prof = Profile("".join(texts))
    for pid in pids:
        last = prof.count(lambda s: s.pid == pid and "last_words" in s.names)
        # under the workload's main() (imports at start-up free their module's code, which
        # can go unnamed)
        unknown = [s for s in prof.samples if s.pid == pid and "<unknown>" in s.markers and any(
            f.name == "main" and f.file.endswith("lastword.py") for f in s.python)]
        # 0.15 s of CPU at 99 Hz: about 15 samples
        assert last >= 8 and not unknown, (pid, last, unknown, prof.show(), d.log())


@pytest.fixture
def bpf_run_counts():
    """runs(pid, prefix): how many times the BPF programs of process pid whose names start with
    prefix have run, by the kernel's BPF statistics (turned on for the test, then back)."""
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        before = f.read().strip()
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=1"], check=True)

    def runs(pid, prefix):
        ids = set()
        for fd in os.listdir("/proc/%d/fdinfo" % pid):
            try:
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    ids.update(int(m) for m in re.findall(r"^prog_id:\s+(\d+)$", f.read(), re.M))
            except OSError:
                pass
        out = subprocess.run(["bpftool", "-j", "prog", "show"], capture_output=True, text=True,
                             timeout=30).stdout
        return sum(p.get("run_cnt", 0) for p in json.loads(out)
                   if p["id"] in ids and p.get("name", "").startswith(prefix))

    yield runs
    subprocess.run(["sysctl", "-q", "kernel.bpf_stats_enabled=%s" % before], check=True)


def test_cpu_clocks_run_only_while_there_is_a_target(daemon, busy, bpf_run_counts):
    """With nothing to profile, the sampler's CPU clocks are off, so its program never runs: a
    host without Python pays no timer interrupt on any CPU. The first target turns them on, and
    the last one gone turns them off again."""
    d = daemon(seconds=60, targets="  all_python: false\n  cmdline_regex: ['clock-marker']\n")

    def targets():
        st = agentctl("status", "--socket", d.sock)
        assert st.returncode == 0, st.stderr
        return int(re.search(r"^targets: (\d+)$", st.stdout, re.M).group(1)), st.stdout

    def runs_in(seconds):
        r0 = bpf_run_counts(d.proc.pid, "pyprof_oncpu")
        time.sleep(seconds)
        return bpf_run_counts(d.proc.pid, "pyprof_oncpu") - r0

    n, st = targets()
    assert n == 0 and "clocks off until there is a target" in st, st
    assert runs_in(1.0) == 0
    p = busy("clock-marker")
    deadline = time.monotonic() + 20
    while targets()[0] != 1:
        assert time.monotonic() < deadline, d.log()
        time.sleep(0.1)
    assert runs_in(1.0) >= 50  # 99 Hz on every CPU, whatever runs there
    p.kill()
    p.wait()
    while targets()[0] != 0:
        assert time.monotonic() < deadline + 10, d.log()
        time.sleep(0.1)
    assert runs_in(1.0) == 0, d.log()


def test_window_totals_match_the_frequency_within_10_percent(daemon, busy):
    p = busy()
    clock = CpuClock(p.pid)
    d = daemon(seconds=3, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    wins = d.wait_windows(5, 40)
    time.sleep(0.2)
    clock.stop()
    # the first window is partial; the next three are whole. They hold one sample per 1/99 s
    # of the process's CPU time: 297 each when it has a whole core, as on an idle machine (each
    # window is then checked on its own); on a busy machine the CPU time (tick-sampled by the
    # kernel, as the sampler is) is compared over the three windows together.
    totals, cpus = [], []
    for slot, path in wins[1:4]:
        totals.append(pid_total(read_profile(path), p.pid))
        cpus.append(clock.between(slot_time(slot), slot_time(slot) + 3))
        if cpus[-1] >= 0.97 * 3:
            assert abs(totals[-1] - 99 * 3) <= 0.10 * 99 * 3, (slot, totals[-1], d.log())
    expected = 99 * sum(cpus)
    assert abs(sum(totals) - expected) <= 0.10 * expected, (totals, cpus, d.log())


def test_target_selection_by_pid_and_by_cmdline_regex(daemon, busy):
    a = busy("alpha-marker")
    b = busy("beta-marker")
    c = busy("gamma-marker")
    d = daemon(seconds=2, targets="  all_python: false\n  pids: [%d]\n"
               "  cmdline_regex: ['busy\\.py 0 beta-m.rker$']\n" % a.pid)
    wins = d.wait_windows(3, 30)
    prof = read_profile(wins[-1][1])
    pids = {s.pid for s in prof.samples}
    assert pids == {a.pid, b.pid}, (pids, a.pid, b.pid, c.pid)


def test_sighup_changes_the_rate_and_a_broken_file_keeps_the_old_config(daemon, busy):
    p = busy()
    clock = CpuClock(p.pid)
    d = daemon(seconds=2, hz=49, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    d.wait_windows(2, 30)
    d.write(hz=197, seconds=2, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    n = len(d.windows())
    wins = d.wait_windows(n + 3, 30)
    slot, path = wins[-2]
    total = pid_total(read_profile(path), p.pid)
    expected = 197 * clock.between(slot_time(slot), slot_time(slot) + 2)
    assert abs(total - expected) <= 0.15 * expected, (total, expected, d.log())
    # a broken file: rejected, logged, and sampling goes on at 197 Hz
    write_config(d.config, "window:\n  seconds: ten\n")
    d.proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert d.proc.poll() is None
    assert "reload rejected" in d.log() and "window.seconds" in d.log()
    n = len(d.windows())
    wins = d.wait_windows(n + 2, 30)
    slot, path = wins[-2]
    total = pid_total(read_profile(path), p.pid)
    expected = 197 * clock.between(slot_time(slot), slot_time(slot) + 2)
    clock.stop()
    assert abs(total - expected) <= 0.15 * expected, (total, expected, d.log())


def test_sigterm_writes_the_partial_window_and_leaves_no_temporary_files(daemon, busy):
    p = busy()
    d = daemon(seconds=60, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    time.sleep(3)
    assert d.windows() == [] or len(d.windows()) == 1
    before = len(d.windows())
    assert d.stop() == 0, d.log()
    wins = d.windows()
    assert len(wins) == before + 1 or (before == 1 and len(wins) >= 1), d.log()
    prof = read_profile(wins[-1][1])
    assert pid_total(prof, p.pid) > 50, d.log()
    leftovers = [f for f in os.listdir(d.out) if not f.endswith(".folded")]
    assert leftovers == [], leftovers


# ---- control socket and metrics --------------------------------------------------------------

def agentctl(*args, timeout=60):
    return subprocess.run([AGENTCTL] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout)


def test_status_and_snapshot_through_the_running_daemon(daemon, busy):
    p = busy()
    d = daemon(seconds=2, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    time.sleep(1.5)
    st = agentctl("status", "--socket", d.sock)
    assert st.returncode == 0, st.stderr
    for key in ("uptime:", "targets: 1", "samples per second:", "ringbuf_drops_total:",
                "sampler_events_total{reason=tstate_not_found}:", "last window written:"):
        assert key in st.stdout, (key, st.stdout)
    clock = CpuClock(p.pid)
    time.sleep(0.2)
    t0 = time.time()
    snap = agentctl("snapshot", "--pid", p.pid, "--duration", 2, "--socket", d.sock)
    t1 = time.time()
    time.sleep(0.2)
    cpu = clock.between(t0, t1)
    clock.stop()
    assert snap.returncode == 0, snap.stderr
    assert "through the agent" in snap.stderr, snap.stderr
    prof = Profile(snap.stdout)
    assert {s.pid for s in prof.samples} == {p.pid}, prof.show()
    assert 0.8 * 99 * cpu <= prof.total <= 1.1 * 99 * cpu, (prof.total, cpu)


def test_kernel_symbols_are_loaded_only_when_a_kernel_frame_is_named(daemon, any_interp):
    """An idle host does not keep the kernel's symbols (megabytes) in the daemon: a target in one
    long sleep has no kernel frame to name; one that wakes every 20 ms has (each wait ends in an
    off-CPU record with the kernel's stack of the wait)."""
    tag = "ksyms-target-%d" % os.getpid()
    # asleep before the daemon starts: its start-up (imports, file reads) has kernel frames
    sleeper = subprocess.Popen([any_interp.path, "-c", "import time; time.sleep(60)", tag])
    try:
        # in its sleep (clock_nanosleep, syscall 230 on x86_64), its start-up over
        deadline = time.time() + 20
        while time.time() < deadline:
            with open("/proc/%d/syscall" % sleeper.pid) as f:
                if f.read().split(" ", 1)[0] == "230":
                    break
            time.sleep(0.1)
        time.sleep(0.5)
        d = daemon(seconds=2, off_cpu=True,
                   targets="  all_python: false\n  cmdline_regex: ['%s']\n" % tag)
        deadline = time.time() + 10
        st = agentctl("status", "--socket", d.sock)
        while time.time() < deadline and "targets: 1" not in st.stdout:
            time.sleep(0.2)
            st = agentctl("status", "--socket", d.sock)
        assert "targets: 1" in st.stdout, st.stdout
        time.sleep(1)
        st = agentctl("status", "--socket", d.sock)
        assert "kernel symbols: not loaded" in st.stdout, st.stdout
        # not a busy loop: on an idle 2-core machine it is seldom preempted for the 1 ms an
        # off-CPU record needs (CI saw 47 switches in 15 s, every one shorter)
        waker = subprocess.Popen([any_interp.path, "-c",
                                  "import time\nwhile True: time.sleep(0.02)", tag])
        try:
            deadline = time.time() + 15
            while time.time() < deadline and "kernel symbols: not loaded" in st.stdout:
                time.sleep(0.2)
                st = agentctl("status", "--socket", d.sock)
            assert re.search(r"kernel symbols: \d+ loaded", st.stdout), st.stdout
        finally:
            waker.kill()
            waker.wait()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_snapshot_of_a_process_the_daemon_does_not_target(daemon, busy):
    p = busy()
    other = busy()
    d = daemon(seconds=2, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    snap = agentctl("snapshot", "--pid", other.pid, "--duration", 1, "--socket", d.sock)
    assert snap.returncode == 0, snap.stderr
    assert {s.pid for s in Profile(snap.stdout).samples} == {other.pid}
    # and it did not leak into the daemon's windows afterwards
    time.sleep(3)
    last = read_profile(d.windows()[-1][1])
    assert {s.pid for s in last.samples} <= {p.pid}


def test_control_socket_refuses_non_root_peers(daemon, tmp_path):
    # a directory any user may traverse (pytest's own are 0700), so only the socket guards it
    sock_dir = tempfile.mkdtemp(prefix="pyprof-sock-", dir="/tmp")
    os.chmod(sock_dir, 0o711)
    d = daemon(seconds=2, sock_dir=sock_dir)
    assert (os.stat(d.sock).st_mode & 0o777) == 0o600
    # a non-root user cannot even connect to the 0600 socket...
    probe = ("import socket,sys\ns=socket.socket(socket.AF_UNIX)\n"
             "try:\n s.connect(sys.argv[1]); s.sendall(b'status v=2\\n'); print(s.recv(100))\n"
             "except PermissionError: print('EACCES')\n")
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c", probe, d.sock], capture_output=True, text=True,
                       timeout=30)
    assert r.stdout.strip() == "EACCES", (r.stdout, r.stderr)
    # ...and if the file mode is loosened, the daemon still refuses by peer credentials
    os.chmod(d.sock, 0o666)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "/usr/bin/python3", "-c", probe, d.sock], capture_output=True, text=True,
                       timeout=30)
    assert "error denied: permission denied" in r.stdout, (r.stdout, r.stderr)
    d.stop()
    shutil.rmtree(sock_dir, ignore_errors=True)


def test_daemon_whose_kernel_takes_no_off_cpu_way_still_profiles_on_cpu(daemon, busy):
    """Degrade, never die for an optional part: where no way of the off-CPU tracer loads
    (forced here with a way that does not exist), the daemon starts, writes cpu windows, says
    once in its log why off-CPU is off, shows it in status and as a gauge with the reason, and
    a snapshot that needs off-CPU fails through it with exit 7 and one line."""
    busy()
    d = daemon(seconds=2, metrics=True, off_cpu=True, env={"PYPROF_OFFCPU_WAY": "no such way"})
    d.wait_windows(1, 20)
    assert d.log().count("off-CPU profiling is off") == 1, d.log()
    st = agentctl("status", "--socket", d.sock)
    assert st.returncode == 0, st.stderr
    assert re.search(r"^off-CPU: unavailable: .+", st.stdout, re.M), st.stdout
    assert re.search(r"^on-CPU: perf_event, bpf_loop$", st.stdout, re.M), st.stdout
    import urllib.request
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.port, timeout=10).read()
    text = text.decode()
    assert re.search(r'^pyprof_part_unavailable\{part="offcpu",reason=".+"\} 1$', text, re.M), text
    assert re.search(r'^pyprof_part_unavailable\{part="process_events",reason=""\} 0$', text,
                     re.M), text
    p = busy()
    snap = agentctl("snapshot", "--pid", p.pid, "--duration", 1, "--mode", "offcpu",
                    "--socket", d.sock)
    assert snap.returncode == 7, (snap.returncode, snap.stderr)
    errors = [l for l in snap.stderr.splitlines() if "error:" in l]
    assert len(errors) == 1 and "off-CPU tracing is unavailable" in errors[0], snap.stderr
    assert d.stop() == 0, d.log()


def test_metrics_endpoint_passes_promtool(daemon, busy):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool (Debian package prometheus) not installed")
    busy()
    d = daemon(seconds=2, metrics=True)
    time.sleep(1.5)
    import urllib.request
    body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % d.port, timeout=10).read()
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    text = body.decode()
    assert re.search(r"^pyprof_samples_total \d+$", text, re.M), text[:500]
    assert 'pyprof_sampler_events_total{reason="tstate_not_found"}' in text
    # request headers over 4 KiB: an HTTP answer (431), not the control socket's error line
    import urllib.error
    req = urllib.request.Request("http://127.0.0.1:%d/metrics" % d.port,
                                 headers={"X-Filler": "x" * 5000})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 431, e.value
    assert e.value.read() == b"request too long (over 4 KiB)\n"
