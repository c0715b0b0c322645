"""agentctl through the running daemon beyond one process: snapshot --subprocesses (a tree
snapshot of the daemon, following forks and execs as they happen), top (a daemon snapshot per
second) and record (a held snapshot that lasts until the command exits, ended early by SIGTERM).
Also that the daemon reports forks only while a tree snapshot runs: its fork program is attached
then, and only then. Every test kills what it started, whatever the outcome."""
import json
import os
import re
import signal
import subprocess
import time

from conftest import Profile, workload_path
from test_daemon import AGENTCTL, agentctl, busy, daemon  # noqa: F401 (fixtures)
from test_top import check_terminal_given_back, rows_of, tmux  # noqa: F401 (fixture)

DEBIAN_PYTHON3 = "/usr/bin/python3"
NO_TARGETS = "  all_python: false\n  pids: [1]\n"  # the daemon's windows profile nothing
_PARENT = re.compile(r"^\[parent (\d+)\]$")


def parents(sample):
    return [int(_PARENT.match(m).group(1)) for m in sample.markers if _PARENT.match(m)]


def attached_programs(pid):
    """Names of the BPF programs that process pid keeps attached: the programs of its link
    file descriptors (/proc/PID/fdinfo), named by bpftool."""
    ids = set()
    fdinfo = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^prog_id:\s+(\d+)$", text, re.M)
        if "link_type:" in text and m:
            ids.add(int(m.group(1)))
    names = set()
    for i in ids:
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", str(i)], capture_output=True,
                           text=True, timeout=30)
        if r.returncode == 0:
            names.add(json.loads(r.stdout)["name"])
    return names


def fork_state(d):
    """('on' or 'off' as status says, whether the fork program is attached)."""
    st = agentctl("status", "--socket", d.sock)
    assert st.returncode == 0, st.stderr
    m = re.search(r"^process events: \S+, fork events (on|off)$", st.stdout, re.M)
    assert m, st.stdout
    progs = attached_programs(d.proc.pid)
    assert any(n.startswith("pyprof_exec") for n in progs), progs  # the way of looking works
    return m.group(1), any(n.startswith("pyprof_fork") for n in progs)


class Started:
    """Processes started by a test, each in its own session: their groups are killed at the
    end, whatever happened."""

    def __init__(self):
        self.procs = []

    def popen(self, argv, **kw):
        p = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def kill_all(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()


def kill_pid_in(path, key):
    try:
        with open(path) as f:
            os.kill(json.load(f)[key], signal.SIGKILL)
    except (OSError, ValueError, KeyError):
        pass


def test_tree_snapshot_through_the_daemon_finds_a_child_forked_during_it(daemon, tmp_path):
    d = daemon(seconds=60, targets=NO_TARGETS)
    assert fork_state(d) == ("off", False), "an idle daemon must not follow forks"
    started = Started()
    env = dict(os.environ, E2E_WORKDIR=str(tmp_path))
    result = str(tmp_path / "forker.json")
    try:
        # the parent sleeps, and forks a child (no exec) a second into the snapshot
        parent = started.popen([DEBIAN_PYTHON3, workload_path("forker.py"), 1.5, 2.5], env=env)
        time.sleep(0.5)
        snap = started.popen([AGENTCTL, "snapshot", "--pid", parent.pid, "--subprocesses",
                              "--duration", 4.5, "--socket", d.sock])
        time.sleep(0.7)
        during = fork_state(d)
        out, err = snap.communicate(timeout=60)
    finally:
        kill_pid_in(result, "child")
        started.kill_all()
    assert snap.returncode == 0, err
    assert "and its descendants taken through the agent" in err, err
    assert during == ("on", True), "fork events must be on during a tree snapshot"
    with open(result) as f:
        child = json.load(f)["child"]
    prof = Profile(out)
    under = [s for s in prof.samples if s.pid == child and "forked_child_work" in s.names]
    assert sum(s.count for s in under) >= 50, prof.show()
    assert all(parents(s) == [parent.pid] for s in under), prof.show()
    assert fork_state(d) == ("off", False), "fork events must go off after the tree snapshot"


def test_tree_snapshot_through_the_daemon_follows_an_interpreter_executed_later(daemon, tmp_path):
    d = daemon(seconds=60, targets=NO_TARGETS)
    started = Started()
    try:
        sh = started.popen(["/bin/sh", "-c", "sleep 1; %s %s 3; sleep 1" % (
            DEBIAN_PYTHON3, workload_path("busy.py"))],
            env=dict(os.environ, E2E_WORKDIR=str(tmp_path)))
        snap = agentctl("snapshot", "--pid", sh.pid, "--subprocesses", "--duration", 3.5,
                        "--socket", d.sock)
    finally:
        started.kill_all()
    assert snap.returncode == 0, snap.stderr
    assert "taken through the agent" in snap.stderr, snap.stderr
    prof = Profile(snap.stdout)
    busy_samples = [s for s in prof.samples if "busy_leaf" in s.names]
    assert sum(s.count for s in busy_samples) >= 50, prof.show()
    assert all(s.pid != sh.pid and parents(s) == [sh.pid] for s in busy_samples), prof.show()


def test_top_through_the_daemon_shows_the_hot_function_and_says_it_is_served(daemon, busy):
    d = daemon(seconds=60, targets=NO_TARGETS, hz=49)
    p = busy()
    started = Started()
    try:
        top = started.popen([AGENTCTL, "top", "--pid", p.pid, "--socket", d.sock])
        time.sleep(3.5)
        top.send_signal(signal.SIGINT)
        out, err = top.communicate(timeout=20)
    finally:
        started.kill_all()
    assert top.returncode == 0, err
    assert "\x1b" not in out, out[:300]
    tables = [tb for tb in re.split(r"\n(?=pid \d+ )", out) if "%Own" in tb]
    assert len(tables) >= 2, (out, err)
    head = tables[-1].splitlines()[0]
    assert "at 49 Hz" in head and "served by the agent on %s" % d.sock in head, head
    assert rows_of(tables[-1])[:1] == ["busy_leaf"], tables[-1]


def test_top_through_the_daemon_in_a_terminal_redraws_on_resize_and_q_restores_it(
        daemon, busy, tmux):
    """A resize comes while top waits for the daemon's second: it must redraw, not end."""
    d = daemon(seconds=60, targets=NO_TARGETS)
    p = busy()
    t, started = tmux
    t.start(120, 30)
    t.send("echo BEFORE-TOP", "Enter")
    t.wait_screen(lambda s: "BEFORE-TOP\n$" in s, 10, "the shell did not start")
    t.send("%s top --pid %d --socket %s; echo top-exit=$?" % (AGENTCTL, p.pid, d.sock), "Enter")
    deadline = time.monotonic() + 5
    while not t.children() and time.monotonic() < deadline:
        time.sleep(0.02)
    started.extend(t.children())
    t.wait_screen(lambda s: "served by the agent" in s and rows_of(s)[:1] == ["busy_leaf"], 6,
                  "busy_leaf was not on the first row of the served table")
    for _ in range(3):  # at some point of the daemon's second
        t.run("resize-window", "-t", "t", "-x", "70", "-y", "20")
        time.sleep(0.3)
        t.run("resize-window", "-t", "t", "-x", "72", "-y", "21")
        time.sleep(0.3)
    s = t.wait_screen(lambda s: "(..." in s and rows_of(s)[:1] == ["busy_leaf"], 4,
                      "no redraw after the resizes")
    assert all(len(line) <= 72 for line in s.splitlines()), s
    t.send("q")
    check_terminal_given_back(t, "q")


def record_through(d, tmp_path, started, *options, command, stop_after=None):
    out = tmp_path / "profile.folded"
    rec = started.popen([AGENTCTL, "record", "--socket", d.sock, "-o", out] + list(options)
                        + ["--"] + list(command),
                        env=dict(os.environ, E2E_WORKDIR=str(tmp_path)), cwd=str(tmp_path))
    if stop_after:
        time.sleep(stop_after)
        rec.send_signal(signal.SIGTERM)
    so, se = rec.communicate(timeout=90)
    return rec.returncode, se, Profile(out.read_text()) if out.exists() else None


def test_record_subprocesses_through_the_daemon_finds_every_pool_worker_and_exits_3(
        daemon, tmp_path):
    d = daemon(seconds=60, targets=NO_TARGETS)
    started = Started()
    try:
        rc, err, prof = record_through(d, tmp_path, started, "--subprocesses", command=[
            DEBIAN_PYTHON3, workload_path("pool_app.py"), "fork"])
    finally:
        started.kill_all()
    assert rc == 3, err
    assert "through the agent on %s" % d.sock in err, err
    assert prof and prof.total, err
    with open(tmp_path / "pool.json") as f:
        got = json.load(f)
    for w in got:
        under = [s for s in prof.samples if s.pid == w["pid"] and w["function"] in s.names]
        assert under, "%s of worker %d not under its own root\n%s" % (
            w["function"], w["pid"], prof.show())
        assert all(len(parents(s)) == 1 for s in under), prof.show()
    assert fork_state(d) == ("off", False)


def test_record_through_the_daemon_ended_by_sigterm_writes_what_was_collected(daemon, tmp_path):
    d = daemon(seconds=60, targets=NO_TARGETS)
    started = Started()
    try:
        rc, err, prof = record_through(d, tmp_path, started, command=[
            DEBIAN_PYTHON3, workload_path("busy.py"), 0], stop_after=2.5)
    finally:
        started.kill_all()
    assert rc == 128 + signal.SIGTERM, err  # the command's status: SIGTERM passed on
    assert "through the agent" in err, err
    assert prof and prof.count(lambda s: "busy_leaf" in s.names) >= 50, err
    st = agentctl("status", "--socket", d.sock).stdout
    assert re.search(r"^snapshots_served_total: 1$", st, re.M), st
