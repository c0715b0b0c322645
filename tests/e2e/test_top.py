"""End-to-end tests of `agentctl top`: the live table in a real terminal (tmux, on a socket of its
own), its keys, its redraw on resize, the terminal given back on every way out, the plain tables
written to a pipe, and bad input."""
import os
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from conftest import (EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_OK, EXIT_USAGE, agentctl, free_pid, workload_path,
                      run_agentctl)

COLUMNS = re.compile(r"^\s*%Own\s+%Total\s+OwnTime\s+TotalTime\s+Function")
ROW = re.compile(r"^\s*\d+\.\d\d%\s+\d+\.\d\d%\s+\S+s\s+\S+s\s+(\S+) \((.*)\)$")


def rows_of(screen):
    """The function names of the table's rows on a screen (or in one plain table), in order."""
    lines = screen.splitlines()
    start = [i for i, line in enumerate(lines) if COLUMNS.match(line)]
    if not start:
        return []
    names = []
    for line in lines[start[-1] + 1:]:
        m = ROW.match(line.rstrip())
        if not m:
            break
        names.append(m.group(1))
    return names


class Tmux:
    """A tmux server of this test's own (-L), whose one pane runs a plain shell; killed, with
    whatever runs in it, at teardown."""

    def __init__(self, workdir):
        self.sock = "pyprof-top-%s" % uuid.uuid4().hex[:12]
        self.workdir = workdir

    def run(self, *args, check=True):
        p = subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                           text=True, timeout=10)
        if check:
            assert p.returncode == 0, "tmux %s: %s" % (" ".join(args), p.stderr)
        return p.stdout

    def start(self, width, height):
        env = "env -i PATH=/usr/bin:/bin TERM=tmux-256color HOME=%s PS1='$ '" % self.workdir
        self.run("new-session", "-d", "-x", str(width), "-y", str(height), "-s", "t",
                 "%s bash --norc --noprofile" % env)
        self.shell_pid = int(self.run("display", "-p", "-t", "t", "#{pane_pid}").strip())
        self.socket_path = self.run("display", "-p", "-t", "t", "#{socket_path}").strip()

    def send(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def screen(self, history=False):
        """The pane's visible lines; with history, the lines scrolled off the top first (a
        narrower window wraps and scrolls what the shell wrote)."""
        extra = ["-S", "-200"] if history else []
        return self.run("capture-pane", "-p", "-t", "t", *extra)

    def alternate_on(self):
        return self.run("display", "-p", "-t", "t", "#{alternate_on}").strip() == "1"

    def wait_screen(self, pred, timeout, what):
        """Polls the pane until pred(screen) holds; returns the screen, fails naming what."""
        deadline = time.monotonic() + timeout
        while True:
            s = self.screen()
            if pred(s):
                return s
            if time.monotonic() > deadline:
                pytest.fail("%s within %.1f s; the pane shows:\n%s" % (what, timeout, s))
            time.sleep(0.05)

    def children(self):
        """Pids of the shell's children (agentctl while it runs)."""
        try:
            with open("/proc/%d/task/%d/children" % (self.shell_pid, self.shell_pid)) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def kill(self):
        self.run("kill-server", check=False)
        path = getattr(self, "socket_path", "")
        if path.endswith(self.sock) and os.path.exists(path):
            os.unlink(path)  # the server leaves its socket file behind


@pytest.fixture
def tmux(tmp_path):
    if not shutil.which("tmux"):
        pytest.fail("tmux is not installed (make deps installs it)")
    t = Tmux(str(tmp_path))
    started = []
    yield t, started
    for pid in list(started) + t.children():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    t.kill()


def start_top(t, started, pid, width=120, height=30):
    """Starts `agentctl top --pid PID` in the pane after a marker line; returns the time."""
    t.start(width, height)
    t.send("echo BEFORE-TOP", "Enter")
    t.wait_screen(lambda s: "BEFORE-TOP\n$" in s, 10, "the shell did not start")
    t.send("%s top --pid %d; echo top-exit=$?" % (agentctl(), pid), "Enter")
    launched = time.monotonic()
    deadline = launched + 5
    while not t.children() and time.monotonic() < deadline:
        time.sleep(0.02)
    started.extend(t.children())
    return launched


def check_terminal_given_back(t, what, marker="BEFORE-TOP"):
    """After top: the prior screen is back (alternate screen left), top exited 0, and the
    terminal reads lines with echo again (cbreak mode undone)."""
    exit_line = re.compile(r"^top-exit=(\d+)$", re.M)  # not the command line's "top-exit=$?"
    s = t.wait_screen(lambda s: exit_line.search(s), 10, "top did not exit after %s" % what)
    assert exit_line.search(s).group(1) == str(EXIT_OK), s
    s = t.screen(history=True)
    assert marker in s, "the screen before top is not back after %s:\n%s" % (what, s)
    assert not t.alternate_on(), "the alternate screen is still on after %s" % what
    t.send("clear; echo \"MODES=[$(stty -a | tr ' ;' '\\n\\n' | "
           "grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' ')]\"", "Enter")
    found = re.compile(r"MODES=\[([-a-z ]*)\]")
    s = t.wait_screen(lambda s: found.search(s), 10, "stty did not answer")
    modes = found.search(s).group(1).split()
    assert modes == ["icanon", "echo"], \
        "terminal modes after %s: %r" % (what, modes)


def test_top_shows_hot_function_first_within_3s_sorts_by_key_redraws_on_resize_and_q_restores(
        any_interp, spawn, tmux):
    t, started = tmux
    w = spawn(any_interp.path, "busy.py")
    launched = start_top(t, started, w.pid)
    s = t.wait_screen(lambda s: rows_of(s)[:1] == ["busy_leaf"],
                      3.0 - (time.monotonic() - launched),
                      "busy_leaf was not on the first row 3 s after start")
    assert t.alternate_on(), "top does not draw in the alternate screen"
    assert "Sort: 3 OwnTime" in s, s
    wide = [line.rstrip() for line in s.splitlines() if ROW.match(line.rstrip())]

    # key 4 (TotalTime): the callers, with no own time, come before the leaf
    t.send("4")
    s = t.wait_screen(lambda s: "Sort: 4 TotalTime" in s and rows_of(s)[:1] != ["busy_leaf"],
                      3, "key 4 did not sort by TotalTime")
    assert rows_of(s)[-1] == "busy_leaf", s
    # r reverses: the smallest first
    t.send("3")
    t.wait_screen(lambda s: rows_of(s)[:1] == ["busy_leaf"], 3, "key 3 did not sort by OwnTime")
    t.send("r")
    s = t.wait_screen(lambda s: "smallest first" in s, 3, "r did not reverse the order")
    assert rows_of(s)[-1] == "busy_leaf" and rows_of(s)[:1] != ["busy_leaf"], s
    t.send("r")

    # a narrower, shorter window: every line fits in it, the file names lose their beginning
    t.run("resize-window", "-t", "t", "-x", "70", "-y", "20")
    s = t.wait_screen(lambda s: "(..." in s and rows_of(s)[:1] == ["busy_leaf"], 3,
                      "no redraw at 70 columns")
    lines = s.splitlines()
    assert len(lines) <= 20 and all(len(line) <= 70 for line in lines), s
    narrow = [line.rstrip() for line in lines if ROW.match(line.rstrip())]
    assert narrow and all(re.search(r"\.py:\d+\)$", line) for line in narrow), s
    assert wide != narrow

    t.send("q")
    check_terminal_given_back(t, "q")
    assert w.alive(), "top stopped or killed its target"


def test_top_sigterm_and_ctrl_c_give_the_terminal_back(any_interp, spawn, tmux):
    t, started = tmux
    w = spawn(any_interp.path, "busy.py")
    start_top(t, started, w.pid)
    t.wait_screen(lambda s: rows_of(s)[:1] == ["busy_leaf"], 10, "no table")
    assert t.alternate_on()
    for pid in t.children():
        os.kill(pid, signal.SIGTERM)
    check_terminal_given_back(t, "SIGTERM")

    t.send("clear; echo BEFORE-TOP-2; %s top --pid %d; echo top-exit=$?" % (agentctl(), w.pid),
           "Enter")
    t.wait_screen(lambda s: rows_of(s)[:1] == ["busy_leaf"], 10, "no table the second time")
    started.extend(t.children())
    t.send("C-c")
    check_terminal_given_back(t, "Ctrl-C", "BEFORE-TOP-2")


def test_top_piped_prints_plain_tables_and_exits_0_with_the_last_when_the_target_exits(
        any_interp, spawn):
    w = spawn(any_interp.path, "busy.py", 3.5)
    p = subprocess.Popen([agentctl(), "top", "--pid", str(w.pid)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EXIT_OK, err.decode(errors="replace")
    assert b"\x1b" not in out, "escape bytes in piped output: %r" % out[:300]
    text = out.decode()
    tables = [tb for tb in re.split(r"\n(?=pid \d+ )", text) if "%Own" in tb]
    assert len(tables) >= 2, text
    assert all(rows_of(tb)[:1] == ["busy_leaf"] for tb in tables[:-1]), text
    assert ", exited" in tables[-1].splitlines()[0], tables[-1]
    assert "pid %d exited" % w.pid in err.decode(), err.decode()


def top_piped(pid, seconds, *args):
    """`agentctl top` into a pipe for seconds, then Ctrl-C: (exit code, tables, stderr)."""
    p = subprocess.Popen([agentctl(), "top", "--pid", str(pid)] + list(args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(seconds)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert b"\x1b" not in out, "escape bytes in piped output: %r" % out[:300]
    tables = [tb for tb in re.split(r"\n(?=pid \d+ )", out.decode()) if "%Own" in tb]
    return p.returncode, tables, err.decode(errors="replace")


def header_figure(table, name):
    m = re.search(r"%s: ([\d.]+)%%" % name, table)
    assert m, "no %s figure in\n%s" % (name, table)
    return float(m.group(1))


def test_top_header_shows_gil_share_threads_and_wall_mode_off_cpu_share(any_interp, spawn):
    # one thread, always running Python: it holds the GIL in every on-CPU sample
    w = spawn(any_interp.path, "busy.py")
    rc, tables, err = top_piped(w.pid, 2.6)
    assert rc == EXIT_OK and tables, err
    assert header_figure(tables[-1], "GIL") >= 90, tables[-1]
    assert "Threads: 1 (1 sampled)" in tables[-1], tables[-1]
    assert "Off-CPU" not in tables[-1], tables[-1]

    # a thread sleeping next to a spinning one: about half the wall-clock time is off-CPU
    w = spawn(any_interp.path, "offcpu_sleep.py")
    rc, tables, err = top_piped(w.pid, 8, "--mode", "wall")  # loading off-CPU: 1-2 s, 4 on a busy host
    if rc == 7:
        pytest.skip("the kernel refused the off-CPU tracer: " + err)
    assert rc == EXIT_OK and len(tables) >= 2, err
    off = header_figure(tables[-1], "Off-CPU")
    assert 25 <= off <= 85, tables[-1]
    assert {"sleeper", "spinner"} <= set(rows_of(tables[-1])[:4]), tables[-1]


def test_top_of_no_such_pid_exits_3_and_of_a_non_python_process_exits_4(spawn):
    pid = free_pid()
    r = run_agentctl("top", "--pid", pid)
    assert r.rc == EXIT_NO_PROCESS, r.describe()
    assert str(pid) in r.stderr and r.stdout == "", r.describe()
    w = spawn(None, argv=["sleep", "100"], ready=False)
    r = run_agentctl("top", "--pid", w.pid)
    assert r.rc == EXIT_NOT_PYTHON, r.describe()
    assert str(w.pid) in r.stderr and r.stdout == "", r.describe()


def test_top_subprocesses_shows_a_child_started_later(any_interp, spawn):
    """The root is a shell, not CPython; its Python child starts a second after top."""
    sh = spawn(None, argv=["/bin/sh", "-c", "sleep 1; %s %s 6; sleep 1" % (
        any_interp.path, workload_path("busy.py"))], ready=False)
    rc, tables, err = top_piped(sh.pid, 4.5, "--subprocesses")
    assert rc == EXIT_OK, err
    assert tables, err
    late = tables[-1]
    assert "and descendants, 1 sampled" in late.splitlines()[0], late
    assert rows_of(late)[:1] == ["busy_leaf"], late


@pytest.mark.parametrize("args", [[], ["--pid", "x"], ["--pid", "1", "--mode", "gpu"],
                                  ["--pid", "1", "--output", "x"], ["--pid", "1", "extra"]])
def test_top_usage_errors_exit_2(args):
    r = run_agentctl("top", *args)
    assert r.rc == EXIT_USAGE, r.describe()
    assert r.stdout == "", r.describe()
