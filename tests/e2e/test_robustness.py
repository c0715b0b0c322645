"""Never crash, never hang, never lie (issue 8), end to end: a target that corrupts its own frame
chain and code objects while it is profiled, hostile control-socket clients, missing
capabilities, an output directory that fills up, turns read-only or disappears, and processes
that come and go fifty times a second. Each test is bounded in time and uses loopback only."""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import INTERPRETERS, Profile, agentctl, run_agentctl, source_line, workload_path
from test_daemon import AGENT, Daemon, CpuClock, read_profile, slot_time

HOSTILE = "hostile.py"
# Corruption kinds of tests/workloads/hostile.py and what each must produce: the counter named
# in the closing `counters:` line, and the frame standing where the damage is.
HOSTILE_EXPECTED = {
    "cycle_self": ("frame_cycle", "[partial: frame cycle]"),
    "unmapped_frame": ("frame_read_failed", "[partial: frame read failed]"),
    "not_code": ("not_a_code_object", "<unknown>"),
    "unmapped_code": ("code_unreadable", "<unknown>"),
    "huge_name": ("bad_string", "<unknown>"),
    "bad_str_kind": ("bad_string", "<unknown>"),
    "huge_linetable": ("bad_linetable", "<unknown>"),
    "cycle_two": ("frame_cycle", "[partial: frame cycle]"),
}
HOSTILE_KINDS = list(HOSTILE_EXPECTED)
INCOMPLETE_MARKERS = {"[partial: frame cycle]", "[partial: frame read failed]", "[truncated]"}


def counters_of(stderr):
    """The closing `counters:` line of agentctl as {name: value}."""
    lines = [l for l in stderr.splitlines() if "counters:" in l]
    assert lines, "no counters: line in\n" + stderr[-2000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", lines[-1].split("counters:", 1)[1])}


class Hostile:
    """Drives tests/workloads/hostile.py through its corruption kinds (see its docstring)."""

    def __init__(self, proc):
        self.proc, self.n = proc, 0

    def command(self, text):
        """Writes the next cmd-N whole: the workload polls for the file, and one it found
        created but not yet written (open, then write at close) once read as no kind at all."""
        self.n += 1
        path = os.path.join(self.proc.workdir, "cmd-%d" % self.n)
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.rename(path + ".tmp", path)
        return self.n

    def corrupt(self, kind, hold):
        """Corrupts, and restores once the target has had hold seconds of CPU on the corrupted
        stack (wall time alone once left a kind with no sample under a loaded make test)."""
        n = self.command("%s %s" % (kind, hold))
        ack = self.proc.wait_file("ack-%d.json" % n, timeout=20)
        assert (ack["kind"], ack["cpu_s"]) == (kind, hold), ack
        self.proc.wait_file("spun-%d.json" % n, timeout=30)
        open(os.path.join(self.proc.workdir, "release-%d" % n), "w").close()
        self.proc.wait_file("done-%d.json" % n, timeout=20)

    def exit(self):
        self.command("exit")


def spawn_hostile(spawn, interp):
    p = spawn(interp.path, HOSTILE)
    if p.ready.get("skip"):
        pytest.skip("%s: hostile.py cannot corrupt frames here: %s" % (interp.id, p.ready["skip"]))
    return p


def wait_sampling(pid, timeout=15):
    """Until process pid (agentctl, or the daemon) has its perf events open: sampling began."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            links = [os.readlink("/proc/%d/fd/%s" % (pid, fd))
                     for fd in os.listdir("/proc/%d/fd" % pid)]
        except OSError:
            links = []
        if any("perf_event" in l for l in links):
            return
        time.sleep(0.05)


def snapshot_while(pid, tmp, action, extra=()):
    """Runs `agentctl snapshot` of pid for as long as action() takes, then ends it with SIGINT
    (as Ctrl-C would); returns (rc, folded text, stderr). Fails if it does not end in 30 s."""
    out, err = os.path.join(tmp, "snap.folded"), os.path.join(tmp, "snap.err")
    with open(out, "w") as fo, open(err, "w") as fe:
        p = subprocess.Popen([agentctl(), "snapshot", "--pid", str(pid), "--duration", "120",
                              "--socket", os.path.join(tmp, "none.sock")] + list(extra),
                             stdout=fo, stderr=fe)
        try:
            wait_sampling(p.pid)
            action()
            p.send_signal(signal.SIGINT)
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            pytest.fail("agentctl snapshot did not end within 30 s of SIGINT")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    with open(out) as f, open(err) as g:
        return rc, f.read(), g.read()


def hostile_functions():
    """{name: (first line, last line)} of every function defined in hostile.py."""
    with open(workload_path(HOSTILE)) as f:
        lines = f.read().splitlines()
    defs = [(i + 1, re.match(r"\s*def (\w+)", l).group(1)) for i, l in enumerate(lines)
            if re.match(r"\s*def \w+", l)]
    spans = {}
    for k, (start, name) in enumerate(defs):
        end = defs[k + 1][0] - 1 if k + 1 < len(defs) else len(lines)
        spans[name] = (start, end)
    spans["<module>"] = (1, len(lines))
    return spans


def check_good_samples(prof, pid, path):
    """Every sample of the undamaged code path names it exactly: <module>;main;good_main
    [;good_leaf], in hostile.py, on the lines they run, with no marker."""
    good_line = source_line(HOSTILE, "GOOD-LINE")
    good = [s for s in prof.samples if "good_main" in s.names]
    assert sum(s.count for s in good) > 0, "no good samples:\n" + prof.show()
    for s in good:
        assert s.pid == pid and not s.markers and not s.truncated, s
        assert s.names in (["<module>", "main", "good_main"],
                           ["<module>", "main", "good_main", "good_leaf"]), s
        assert all(f.file == path for f in s.python), s
        if s.names[-1] == "good_leaf":
            # the function's lines: its def line (3.11+ puts the RESUME instruction a call
            # starts on there), x = 0, the loop's two, return x (each call runs all)
            assert good_line - 3 <= s.python[-1].line <= good_line + 1, s
    return sum(s.count for s in good)


def test_hostile_target_cannot_crash_hang_or_fool_the_sampler(interp, spawn, tmp_path):
    """A process corrupts its own frame chain and code objects (cycles, wild pointers, absurd
    lengths) while `agentctl snapshot` runs: the snapshot completes, every bad sample is counted
    by reason and marked incomplete, and the samples of the undamaged code are exactly right."""
    p = spawn_hostile(spawn, interp)
    h = Hostile(p)
    path = workload_path(HOSTILE)

    def drive():
        time.sleep(0.5)  # good samples before
        for kind in HOSTILE_KINDS:
            h.corrupt(kind, 0.6)  # CPU seconds on the damage, not wall time
        time.sleep(0.5)  # good samples after everything was restored

    rc, text, err = snapshot_while(p.pid, str(tmp_path), drive)
    assert rc == 0, err[-3000:]
    assert p.alive(), "the target died (restoring failed?):\n" + p.log()
    prof, counters = Profile(text), counters_of(err)
    for kind in HOSTILE_KINDS:
        counter, marker = HOSTILE_EXPECTED[kind]
        assert counters.get(counter, 0) > 0, (kind, counter, counters, prof.show())
        assert any(marker in s.stack for s in prof.samples), (kind, marker, prof.show())
    check_good_samples(prof, p.pid, path)
    spans = hostile_functions()
    bad = 0
    for s in prof.samples:
        assert s.pid == p.pid, s
        # a named frame of hostile.py is one of its functions, on one of that function's lines
        # (the fresh copies of hostile_middle are named once restored: samples are named after
        # they are taken, and the name of the code that ran is the truth)
        for f in s.python:
            if f.file == path:
                name = re.sub(r"_(huge_name|bad_str_kind|huge_linetable)_\d+$", "", f.name)
                assert name in spans, s
                first, last = spans[name]
                assert first <= f.line <= last or (f.name == "<module>" and f.line == 0), s
        if "hostile_leaf" not in s.names:
            assert not INCOMPLETE_MARKERS.intersection(s.markers), s
            continue
        at = s.stack.index(next(x for x in s.stack if x.startswith("hostile_leaf (")))
        incomplete = INCOMPLETE_MARKERS.intersection(s.markers)
        unknown = s.stack.count("<unknown>")
        if incomplete or unknown:
            bad += s.count
        if unknown:
            # the damaged code object is the caller's, and only it is unknown
            assert unknown == 1 and s.stack[at - 1] == "<unknown>", s
        if "[truncated]" in s.markers:
            # only the two-frame cycle is walked to the depth budget: leaf and middle, repeated
            own = [f.name for f in s.python if f.file == path]
            assert set(own) <= {"hostile_leaf", "hostile_middle"}, s
    assert bad > 0, prof.show()
    h.exit()


def test_cycle_through_two_frames_is_counted_as_a_cycle(any_interp, spawn, tmp_path):
    p = spawn_hostile(spawn, any_interp)
    h = Hostile(p)
    rc, text, err = snapshot_while(p.pid, str(tmp_path), lambda: h.corrupt("cycle_two", 1.0))
    assert rc == 0, err[-3000:]
    counters = counters_of(err)
    prof = Profile(text)
    assert counters.get("frame_cycle", 0) > 0 and not counters.get("stack_truncated"), (
        counters, prof.show(3))
    h.exit()


def sampling_record(status, wins, log):
    """What to look at when a kind of damage was not counted: the sampler's non-zero counters,
    the samples of each window, and the daemon's log."""
    counters = [l.strip() for l in status.splitlines()
                if re.match(r"\s*(sampler_events_total|samples_total|events_sent).*: [1-9]", l)]
    per_window = ["%s: %d samples" % (stamp, sum(int(l.rsplit(" ", 1)[1]) for l in open(path)
                                                 if l.strip() and not l.startswith("#")))
                  for stamp, path in wins]
    return "\n".join(counters + per_window + ["daemon log:", log])


def test_daemon_survives_a_hostile_target_and_its_windows_stay_readable(any_interp, spawn,
                                                                        tmp_path):
    """The same damage under the running daemon: it keeps running, answers status with the
    failures counted by reason, and every window it writes reads back."""
    p = spawn_hostile(spawn, any_interp)
    h = Hostile(p)
    d = Daemon(tmp_path, seconds=1, targets="  all_python: false\n  pids: [%d]\n" % p.pid)
    try:
        wait_sampling(d.proc.pid)
        time.sleep(1.0)
        for kind in HOSTILE_KINDS:
            h.corrupt(kind, 0.3)
        time.sleep(1.5)
        assert d.proc.poll() is None, d.log()
        st = subprocess.run([agentctl(), "status", "--socket", d.sock], capture_output=True,
                            text=True, timeout=10)
        assert st.returncode == 0, st.stderr
        wins = d.windows()
        for reason in ("frame_cycle", "frame_read_failed"):
            m = re.search(r"\{reason=%s\}: (\d+)" % reason, st.stdout)
            assert m and int(m.group(1)) > 0, "no %s counted\n%s" % (
                reason, sampling_record(st.stdout, wins, d.log()))
        assert len(wins) >= 3, d.log()
        for _, path in wins:
            read_profile(path)  # parses, or fails the test
            r = run_agentctl("convert", path, "--format", "pprof", "-o", path + ".pb.gz")
            assert r.rc == 0, r.describe()
        assert d.stop() == 0, d.log()
    finally:
        d.kill()
    h.exit()


@pytest.mark.parametrize("threads", [
    pytest.param(False, id="process-and-code-names"),
    pytest.param(True, id="thread-names"),
])
def test_names_with_control_characters_keep_profiles_readable(threads, any_interp, spawn,
                                                              tmp_path):
    """A process may name itself and its code anything (prctl, code.replace): control
    characters must not break the folded lines, so `convert` still reads the snapshot."""
    script = os.path.join(str(tmp_path), "evil.py")
    with open(script, "w") as fh:
        fh.write("import ctypes, sys, types\n"
                 "sys.path.insert(0, %r)\n"
                 "import _wl\n"
                 "ctypes.CDLL(None).prctl(15, b'ev\\x01l;\\nname 7', 0, 0, 0)\n"
                 "def spin():\n"
                 "    while True:\n"
                 "        for i in range(1000): pass\n"
                 "bad = 'bad\\x01na\\x7fme;\\nfoo 99'\n"
                 "kw = {'co_name': bad}\n"
                 "if sys.version_info >= (3, 11): kw['co_qualname'] = bad\n"
                 "f = types.FunctionType(spin.__code__.replace(**kw), globals())\n"
                 "_wl.ready()\n"
                 "f()\n" % os.path.dirname(workload_path("busy.py")))
    if any_interp.version < (3, 8):
        pytest.skip("code.replace() needs CPython 3.8")
    p = spawn(any_interp.path, argv=[any_interp.path, script])
    out = os.path.join(str(tmp_path), "evil.folded")
    r = run_agentctl("snapshot", "--pid", p.pid, "--duration", 1, "--socket",
                     os.path.join(str(tmp_path), "none.sock"), "-o", out,
                     *(["--threads"] if threads else []), timeout=40)
    assert r.rc == 0, r.describe()
    with open(out, "rb") as f:
        data = f.read()
    assert data, r.describe()
    assert not [c for c in data if (c < 0x20 and c != 0x0a) or c == 0x7f], data[:600]
    for line in data.decode("utf-8").splitlines():
        assert re.match(r"^.+ \d+$", line), line
    r = run_agentctl("convert", out, "--format", "svg", "-o", out + ".svg")
    assert r.rc == 0, r.describe()


# ---- control socket ---------------------------------------------------------------------------

def status_ok(sock, within=2.0):
    """agentctl status answers within `within` seconds."""
    t0 = time.monotonic()
    r = subprocess.run([agentctl(), "status", "--socket", sock], capture_output=True, text=True,
                       timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert took <= within, "status took %.1f s" % took
    return r.stdout


def raw_request(sock, payload, timeout=5.0):
    """Sends payload on a new connection; returns what the daemon answers before closing, and
    whether the connection was reset (closed with part of the request unread)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(timeout)
    s.connect(sock)
    out, reset = b"", False
    try:
        s.sendall(payload)
        while True:
            b = s.recv(4096)
            if not b:
                break
            out += b
    except (ConnectionResetError, BrokenPipeError):
        reset = True
    finally:
        s.close()
    return out, reset


def test_control_socket_survives_malformed_oversized_half_sent_and_silent_clients(tmp_path):
    """Garbage, 5 KiB lines, half-sent requests and clients that never read: each gets an
    error or is dropped, and other clients keep being served within 2 s throughout."""
    d = Daemon(tmp_path, seconds=2, targets="  all_python: false\n  pids: [1]\n")
    held = []
    try:
        status_ok(d.sock, within=5.0)
        # a client that connects and never sends anything: dropped after NETSERVER_IDLE_NS (10 s)
        idle = socket.socket(socket.AF_UNIX)
        idle.connect(d.sock)
        idle_since = time.monotonic()
        held.append(idle)
        # half-sent: no newline, ever
        half = socket.socket(socket.AF_UNIX)
        half.connect(d.sock)
        half.sendall(b"snapshot v=2 pid=1 durat")
        held.append(half)
        status_ok(d.sock)
        # malformed requests: each answered with an error line, then closed
        for payload in (b"\x00\xff\xfe garbage\n", b"snapshot v=2 pid=abc duration_ms=1\n",
                        b"status v=2 please\n", b"snapshot v=2 pid=1\n", b"\n",
                        b"snapshot v=2 pid=99999999999999999999 duration_ms=1\n",
                        b"snapshot v=2 pid=1 duration_ms=100 mode=cpu mode=wall\n"):
            out, reset = raw_request(d.sock, payload)
            assert out.startswith(b"error bad-request: ") and not reset, (payload, out)
            status_ok(d.sock)
        # another protocol version (an agentctl of another release): a version error, whatever
        # else the request says
        for payload in (b"status\n", b"ping v=1\n", b"snapshot v=3 pid=1 duration_ms=1\n",
                        b"snapshot pid=1 duration_ms=100 mode=nonsense\n"):
            out, reset = raw_request(d.sock, payload)
            assert out.startswith(b"error version: ") and not reset, (payload, out)
        # oversized: 5 KiB without a newline, and 5 KiB with one. The daemon answers after
        # 4 KiB, shuts its side and discards the rest before closing: the client reads the
        # error and then EOF, not a reset
        for payload in (b"s" * 5000, b"status " + b"x" * 5000 + b"\n"):
            out, reset = raw_request(d.sock, payload)
            assert out.startswith(b"error bad-request: ") and b"too long" in out and not reset, (
                out[:200], reset)
            status_ok(d.sock)
        # beyond what the daemon discards (64 KiB) it closes anyway: a reset is allowed, a hang
        # or a success is not
        out, reset = raw_request(d.sock, b"status " + b"x" * (1 << 20) + b"\n")
        assert not out.startswith(b"ok"), out[:200]
        status_ok(d.sock)
        # asks for status and never reads the answer; and one that hangs up before it comes
        silent = socket.socket(socket.AF_UNIX)
        silent.connect(d.sock)
        silent.sendall(b"status v=2\n")
        held.append(silent)
        gone = socket.socket(socket.AF_UNIX)
        gone.connect(d.sock)
        gone.sendall(b"status v=2\n")
        gone.close()
        for _ in range(5):
            status_ok(d.sock)
        # the idle and half-sent clients are dropped after the idle timeout, not before
        idle.settimeout(20)
        half.settimeout(20)
        assert idle.recv(100) == b""
        idle_for = time.monotonic() - idle_since
        assert 9.0 <= idle_for <= 16.0, idle_for
        assert half.recv(100) == b""
        assert d.proc.poll() is None, d.log()
        status_ok(d.sock)
    finally:
        for s in held:
            s.close()
        d.kill()


def test_control_socket_serves_status_while_64_clients_sit_idle(tmp_path, busy_target):
    """With every one of the 64 slots taken, a new client is served: the client idle for
    longest is closed for it, never one waiting for its snapshot (though older still)."""
    d = Daemon(tmp_path, seconds=2, targets="  all_python: false\n  pids: [1]\n")
    held = []
    try:
        snap = socket.socket(socket.AF_UNIX)
        snap.connect(d.sock)
        held.append(snap)
        snap.sendall(b"snapshot v=2 pid=%d duration_ms=3000\n" % busy_target.pid)
        time.sleep(0.3)
        idle = []
        for _ in range(63):
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.sock)
            held.append(s)
            idle.append(s)
        time.sleep(0.3)
        status_ok(d.sock)
        idle[0].settimeout(5)
        assert idle[0].recv(100) == b"", "the oldest idle client was not closed"
        # the status client's own slot is free again: this one is served without an eviction
        assert "control_clients_evicted_total: 1\n" in status_ok(d.sock)
        for s in idle[1:]:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                s.recv(100)  # still open, nothing to read
        snap.settimeout(20)
        answer = b""
        while True:
            b = snap.recv(65536)
            if not b:
                break
            answer += b
        # "ok" and its fields (rate=N): the snapshot was answered, not dropped
        assert answer.split(b"\n", 1)[0].split()[0] == b"ok", answer[:300]
        assert d.proc.poll() is None, d.log()
    finally:
        for s in held:
            s.close()
        d.kill()


# ---- privilege --------------------------------------------------------------------------------

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
          "--bounding-set=-all"]
ALL_NEEDED = ["bpf", "perfmon", "sys_ptrace"]


def root_without(cap):
    """setpriv prefix: root, holding the capabilities the agent needs except cap (and without
    CAP_SYS_ADMIN, which would stand in for CAP_BPF and CAP_PERFMON)."""
    keep = ",".join("+" + c for c in ALL_NEEDED if c != cap)
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all," + keep]


def world_readable_config(tmp):
    """A config a non-root user can read: a 0755 directory in /tmp."""
    d = tempfile.mkdtemp(prefix="pyprof-priv-", dir="/tmp")
    os.chmod(d, 0o755)
    cfg = os.path.join(d, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("window:\n  seconds: 60\noutput:\n  directory: %s/out\n"
                "control:\n  socket: %s/agent.sock\nhost:\n  name: priv\n" % (d, d))
    os.chmod(cfg, 0o644)
    return d, cfg


def copy_for_nobody(path):
    """A copy of a binary that a non-root user may execute (the build tree may be private)."""
    d = tempfile.mkdtemp(prefix="pyprof-bin-", dir="/tmp")
    os.chmod(d, 0o755)
    dest = os.path.join(d, os.path.basename(path))
    with open(path, "rb") as src, open(dest, "wb") as dst:
        dst.write(src.read())
    os.chmod(dest, 0o755)
    return dest


CAP_NAMES = ("CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE")
PRIV_CASES = [
    pytest.param(NOBODY, None, id="nobody-no-capabilities"),
    pytest.param(root_without("bpf"), "CAP_BPF", id="root-without-CAP_BPF"),
    pytest.param(root_without("perfmon"), "CAP_PERFMON", id="root-without-CAP_PERFMON"),
    pytest.param(root_without("sys_ptrace"), "CAP_SYS_PTRACE", id="root-without-CAP_SYS_PTRACE"),
]


@pytest.mark.parametrize("prefix,missing", PRIV_CASES)
def test_daemon_without_capabilities_names_the_missing_one_and_exits_6(prefix, missing,
                                                                       tmp_path, busy_target):
    d, cfg = world_readable_config(tmp_path)
    agent = copy_for_nobody(AGENT)
    try:
        r = subprocess.run(prefix + [agent, "--config", cfg], capture_output=True, text=True,
                           timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail("pyprof-agent kept running without %s" % (missing or "any capability"))
    finally:
        subprocess.run(["rm", "-rf", d, os.path.dirname(agent)])
    assert r.returncode == 6, (r.returncode, r.stderr[-2000:])
    named = [c for c in CAP_NAMES if c in r.stderr]
    assert named and (missing is None or missing in named), r.stderr[-2000:]


@pytest.mark.parametrize("prefix,missing", PRIV_CASES)
def test_agentctl_without_capabilities_names_the_missing_one_and_exits_6(prefix, missing,
                                                                         tmp_path, busy_target):
    tool = copy_for_nobody(agentctl())
    try:
        r = subprocess.run(prefix + [tool, "snapshot", "--pid", str(busy_target.pid),
                                     "--duration", "1", "--socket", "/nonexistent/pyprof.sock"],
                           capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["rm", "-rf", os.path.dirname(tool)])
    assert r.returncode == 6, (r.returncode, r.stderr[-2000:])
    named = [c for c in CAP_NAMES if c in r.stderr]
    assert named and (missing is None or missing in named), r.stderr[-2000:]


@pytest.fixture
def busy_target(any_interp, tmp_path):
    p = subprocess.Popen([any_interp.path, workload_path("busy.py"), "0"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, E2E_WORKDIR=str(tmp_path)))
    time.sleep(0.5)
    yield p
    p.kill()
    p.wait()


# ---- storage faults ---------------------------------------------------------------------------

def mount_tmpfs(path, size="64k"):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % r.stderr.strip())


def fill(path):
    """Fills the filesystem of directory path; returns the filler file."""
    filler = os.path.join(path, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while os.write(fd, b"\0" * 4096) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


class StorageDaemon(Daemon):
    """The test Daemon, writing its windows to `out` (inside a small tmpfs)."""

    def __init__(self, tmp, out, **kw):
        self._out = out
        Daemon.__init__(self, tmp, **kw)

    def write(self, hz, seconds, targets, extra=""):
        Daemon.write(self, hz, seconds, targets, extra)
        with open(self.config) as f:
            text = f.read()
        text = text.replace("  directory: %s\n" % self.out, "  directory: %s\n" % self._out)
        with open(self.config, "w") as f:
            f.write(text)
        self.out = self._out


def test_output_directory_full_read_only_or_deleted_is_survived_and_recovered(tmp_path,
                                                                              busy_target):
    """The window directory on a 64 KiB tmpfs: filled up, remounted read-only, then deleted
    under the running daemon. Each time it logs the failed window, keeps running and serving
    status, leaves no temporary file behind, and writes windows again once it can."""
    mnt = os.path.join(str(tmp_path), "small")
    mount_tmpfs(mnt)
    out = os.path.join(mnt, "profiles")
    d = None
    try:
        d = StorageDaemon(tmp_path, out, seconds=1,
                          targets="  all_python: false\n  pids: [%d]\n" % busy_target.pid)
        d.wait_windows(2, 20)

        def recovers(what):
            n = len(d.windows())
            wait_for(lambda: len(d.windows()) > n, 10, "no window after %s:\n%s" % (what, d.log()))

        def fails(what, errno_text):
            errors = d.log().count("cannot write window")
            wait_for(lambda: d.log().count("cannot write window") > errors, 10,
                     "no write error logged while %s:\n%s" % (what, d.log()))
            assert errno_text in d.log(), d.log()
            assert d.proc.poll() is None, d.log()
            st = status_ok(d.sock, within=5.0)
            m = re.search(r"window_write_errors_total: (\d+)", st)
            assert m and int(m.group(1)) > 0, st
            if os.path.isdir(out):
                litter = [f for f in os.listdir(out) if ".tmp" in f]
                assert not litter, litter

        # 1. full
        filler = fill(mnt)
        fails("the filesystem is full", "No space left on device")
        os.unlink(filler)
        recovers("space returned")
        # 2. read-only
        subprocess.run(["mount", "-o", "remount,ro", mnt], check=True)
        try:
            fails("the filesystem is read-only", "Read-only file system")
        finally:
            subprocess.run(["mount", "-o", "remount,rw", mnt], check=True)
        recovers("the filesystem became writable")
        # 3. deleted under the daemon: recreated at the next window
        subprocess.run(["rm", "-rf", out], check=True)
        recovers("the directory was deleted")
        assert d.proc.poll() is None, d.log()
        for _, path in d.windows():
            read_profile(path)
        assert d.stop() == 0, d.log()
    finally:
        if d:
            d.kill()
        subprocess.run(["umount", "-l", mnt], capture_output=True)


# ---- churn --------------------------------------------------------------------------------------

def daemon_maps(pid):
    """{map name: [map ids]} of the BPF maps the daemon holds (from /proc/PID/fdinfo)."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"^map_id:\s*(\d+)", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    maps = {}
    for i in sorted(ids):
        r = subprocess.run(["bpftool", "-j", "map", "show", "id", str(i)], capture_output=True,
                           text=True, timeout=30)
        if r.returncode == 0:
            info = json.loads(r.stdout)
            maps.setdefault(info.get("name", "?"), []).append((i, info.get("type")))
    return maps


def map_entries(map_id):
    r = subprocess.run(["bpftool", "-j", "map", "dump", "id", str(map_id)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return len(json.loads(r.stdout))


def hash_map_occupancy(pid):
    """Entries of every hash-type map of the daemon: {name: entries}."""
    occ = {}
    for name, lst in daemon_maps(pid).items():
        for map_id, kind in lst:
            if kind and "hash" in kind:
                occ[name] = occ.get(name, 0) + map_entries(map_id)
    return occ


def proc_figures(pid):
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"VmRSS:\s*(\d+)", f.read()).group(1))
    return {"fds": len(os.listdir("/proc/%d/fd" % pid)), "rss_kib": rss}


class ChurnDaemon(Daemon):
    """The test Daemon with off-CPU recording on (as shipped) and churn processes selected."""

    def write(self, hz, seconds, targets, extra=""):
        Daemon.write(self, hz, seconds, targets, extra)
        with open(self.config) as f:
            text = f.read()
        text = text.replace("off_cpu: {enabled: false}", "off_cpu: {enabled: true}")
        with open(self.config, "w") as f:
            f.write(text)


def run_churn(interp_path, tmp, seconds, rate=50, report=None):
    """Runs the daemon, a reference busy process and `rate` short-lived CPython processes per
    second for `seconds` (the first 5 s as warm-up); returns the figures taken after warm-up
    and at the end, once every churned process is gone and released."""
    tmp = str(tmp)
    ref = subprocess.Popen([interp_path, workload_path("busy.py"), "0", "churn-ref"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, E2E_WORKDIR=tmp))
    clock = CpuClock(ref.pid)
    d = ChurnDaemon(tmp, seconds=2, targets="  all_python: false\n"
                    "  cmdline_regex: ['churn-(ref|child)']\n")
    churn = None
    try:
        d.wait_windows(1, 20)
        warm = min(5, seconds // 3)
        churn = subprocess.Popen([sys.executable, workload_path("churn.py"), interp_path,
                                  str(rate), str(seconds), os.path.join(tmp, "churn.json")],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(warm)
        start = proc_figures(d.proc.pid)
        start_maps = hash_map_occupancy(d.proc.pid)
        churn_err = churn.communicate(timeout=seconds + 120)[1]
        assert churn.returncode == 0, churn_err
        with open(os.path.join(tmp, "churn.json")) as f:
            summary = json.load(f)
        # every churned process exits within 2 s; released 2 s later; one more window
        time.sleep(2 + 2 + 2.5)
        assert d.proc.poll() is None, d.log()
        end = proc_figures(d.proc.pid)
        end_maps = hash_map_occupancy(d.proc.pid)
        status = status_ok(d.sock, within=5.0)
        wins = d.windows()
        clock.stop()
        return {"start": start, "end": end, "start_maps": start_maps, "end_maps": end_maps,
                "summary": summary, "windows": wins, "status": status, "clock": clock,
                "log": d.log(), "ref": ref.pid, "out": d.out}
    finally:
        if churn and churn.poll() is None:
            churn.kill()
            churn.wait()
        d.kill()
        ref.kill()
        ref.wait()


CHURN_SECONDS = int(os.environ.get("CHURN_SECONDS", "30"))
# Hash maps keyed by thread id that are LRU by design: bounded, a dead thread's entry ages out.


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    """One churn run shared by the churn tests: 50 short-lived CPython processes a second for
    CHURN_SECONDS (30 s; `make bench`: 120 s) under the daemon."""
    usable = [p.values[0] for p in INTERPRETERS if p.values[0] is not None]
    if not usable:
        pytest.skip("no usable CPython 3 interpreter found")
    pyenv = [i for i in usable if i.kind == "pyenv"]
    return run_churn((pyenv or usable)[-1].path, tmp_path_factory.mktemp("churn"),
                     CHURN_SECONDS)


def test_churn_leaks_no_fds_targets_or_memory_and_writes_every_window(churn):
    """Once the churned processes are gone the daemon's descriptors and target map are back
    where they were after warm-up, its RSS grew less than 5 MiB, and every window was written,
    parses and holds the reference process's CPU time; discovery kept up with the churn."""
    r = churn
    s, e = r["start"], r["end"]
    print("churn: %d processes in %.0f s (%.1f/s); daemon fds %d -> %d, RSS %d -> %d KiB; "
          "hash-map entries %s -> %s; %d windows" % (
              r["summary"]["spawned"], r["summary"]["seconds"], r["summary"]["rate"], s["fds"],
              e["fds"], s["rss_kib"], e["rss_kib"], r["start_maps"], r["end_maps"],
              len(r["windows"])))
    assert r["summary"]["spawned"] == 50 * CHURN_SECONDS and not r["summary"]["failed"], (
        r["summary"])
    assert e["fds"] <= s["fds"], (s, e)
    assert e["rss_kib"] - s["rss_kib"] < 5 * 1024, (s, e)
    # only the reference process is left selected
    assert r["end_maps"].get("targets", 0) == 1, (r["start_maps"], r["end_maps"])
    wins = r["windows"]
    slots = [slot_time(slot) for slot, _ in wins[1:]]  # the first, partial, window is unaligned
    assert slots == list(range(slots[0], slots[0] + 2 * len(slots), 2)), (
        "missing windows: %s" % [w[0] for w in wins])
    totals, cpus = 0, 0.0
    for slot, path in wins[1:-1]:
        prof = read_profile(path)
        totals += sum(x.count for x in prof.samples if x.pid == r["ref"])
        cpus += r["clock"].between(slot_time(slot), slot_time(slot) + 2)
    expected = 99 * cpus
    assert 0.75 * expected <= totals <= 1.1 * expected, (totals, expected)
    churned = set()
    for path in glob.glob(os.path.join(r["out"], "*_offcpu.folded")):
        churned |= {x.pid for x in read_profile(path).samples if x.pid != r["ref"]}
    # each child spins 5 ms and sleeps 1 s: its sleep is in a window only if it was a target
    # before the sleep began. An exec wakes the daemon, which examines the process at once and
    # again every few ms until its libpython is mapped, so nearly all are (1498 of 1500 here;
    # before, with exec events drained on the loop's tick, 1.5% to 43% depending on load)
    print("churned processes seen in windows: %d of %d" % (len(churned),
                                                           r["summary"]["spawned"]))
    assert len(churned) >= 0.8 * r["summary"]["spawned"], (len(churned), r["summary"])


# Not strict: a leaked entry needs a thread to sleep inside exit_group, which about one exiting
# process in 500 does here; a run without one passes (XPASS).
def test_churn_leaves_no_per_thread_entries(churn):
    """A thread's off-CPU records and cached thread state go at its last switch-out, even for a
    thread that dies inside exit_group (it never returns to user mode to collect a pending
    block): LRU maps included, nothing is left of the churned processes."""
    r = churn
    for name, n in r["end_maps"].items():
        if name == "targets":
            continue
        assert n <= r["start_maps"].get(name, 0), (name, r["start_maps"], r["end_maps"])
