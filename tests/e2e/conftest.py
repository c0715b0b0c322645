"""End-to-end fixtures: CPython interpreter discovery, workload processes that are always killed,
and running `agentctl snapshot` with its folded output parsed into samples."""
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WORKLOADS = os.path.join(REPO, "tests", "workloads")
AGENTCTL = os.environ.get("AGENTCTL", os.path.join(REPO, "build", "agentctl"))
PYENV_ROOT = os.environ.get("PYENV_ROOT", "/root/.pyenv")
EXPECTED_MINORS = range(6, 14)  # CPython 3.6 .. 3.13 must all be on the machine
DEBIAN_PYTHON = "/usr/bin/python3.11"
# CPython 3.14 and 3.15 are Debian sid's, run in a sid root file system in their own mount and pid
# namespaces, as a container of another distribution would (tests/pythons/: sid-root.sh builds
# the root and writes the wrappers SID_BIN/python3.X, in-sid.sh runs a program in it).
SID_ROOT = os.path.abspath(os.environ.get("SID_ROOT", os.path.join(REPO, "build", "sid-root")))
SID_BIN = os.path.join(os.path.dirname(SID_ROOT), "sid-bin")
SID_MINORS = (14, 15)
IN_SID = os.path.join(REPO, "tests", "pythons", "in-sid.sh")
SID_WRAPPER_MARK = b"# pyprof-sid-wrapper:"

# Exit codes of agentctl (see `agentctl --help`).
EXIT_OK, EXIT_USAGE, EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_UNSUPPORTED = 0, 2, 3, 4, 5


# ---------------------------------------------------------------------------------------------
# Interpreter discovery (at collection time)


class Interp:
    """One CPython build: id as shown in test ids, (major, minor), path, kind (pyenv|debian|sid).
    A "sid" interpreter's path is a wrapper (SID_BIN/python3.X) that runs it in the sid root; the
    processes spawn() starts with it have their host pid as .pid, like the others."""

    def __init__(self, ident, version, path, kind):
        self.id, self.version, self.path, self.kind = ident, version, path, kind

    def __repr__(self):
        return "Interp(%s, %s)" % (self.id, self.path)


def _probe_version(path):
    try:
        out = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, "cannot run %s: %s" % (path, e)
    if out.returncode != 0:
        return None, "%s exited %d: %s" % (path, out.returncode, out.stderr.strip()[-200:])
    return tuple(int(x) for x in out.stdout.split(".")), None


def _candidate(ident, version, where, paths, kind):
    """A pytest.param for one expected interpreter: usable, or skipped with the reason."""
    want = "%d.%d" % version
    paths = [p for p in paths if os.access(p, os.X_OK)]
    if not paths:
        return pytest.param(None, id=ident, marks=pytest.mark.skip(
            reason="CPython %s (%s) expected but not found: nothing executable at %s"
            % (want, ident, where)))
    path = max(paths, key=lambda p: [int(x) for x in re.findall(r"\d+", p)])  # newest patch
    got, err = _probe_version(path)
    if err or got != version:
        return pytest.param(None, id=ident, marks=pytest.mark.skip(
            reason="CPython %s (%s) at %s unusable: %s" % (want, ident, path, err or "is %r" % (got,))))
    return pytest.param(Interp(ident, version, path, kind), id=ident)


def _sid_candidate(minor):
    """CPython 3.minor of the Debian sid root, through its wrapper; skipped, with the reason,
    when the root could not be built (e.g. the mirror was unreachable) or the wrapper fails."""
    ident, want = "3.%d" % minor, (3, minor)
    stamp = os.path.join(SID_ROOT, ".pyprof-sid-root")
    if not os.path.isfile(stamp):
        why = "run tests/pythons/sid-root.sh (make test does)"
        try:
            with open(os.path.join(os.path.dirname(SID_ROOT), "sid-root.failed")) as f:
                why = "its build failed: " + f.read().strip()
        except OSError:
            pass
        return pytest.param(None, id=ident, marks=pytest.mark.skip(
            reason="CPython %s (sid) expected but the Debian sid root %s is not there: %s"
            % (ident, SID_ROOT, why)))
    with open(stamp) as f:
        if not any(line.startswith("python3.%d: " % minor) for line in f):
            return pytest.param(None, id=ident, marks=pytest.mark.skip(
                reason="CPython %s (sid) not in the Debian sid root (%s)" % (ident, stamp)))
    wrapper = os.path.join(SID_BIN, "python3.%d" % minor)
    return _candidate(ident, want, wrapper + " (run tests/pythons/sid-root.sh)", [wrapper], "sid")


def discover_interpreters():
    params = []
    for minor in EXPECTED_MINORS:
        pattern = os.path.join(PYENV_ROOT, "versions", "3.%d.*" % minor, "bin", "python3.%d" % minor)
        params.append(_candidate("3.%d" % minor, (3, minor), pattern, glob.glob(pattern), "pyenv"))
    params.append(_candidate("debian-3.11", (3, 11), DEBIAN_PYTHON, [DEBIAN_PYTHON], "debian"))
    for minor in SID_MINORS:
        params.append(_sid_candidate(minor))
    return params


INTERPRETERS = discover_interpreters()
PYTHON27 = sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", "2.7*", "bin", "python2.7")))


def pytest_generate_tests(metafunc):
    # Every test that takes `interp` runs once per interpreter, expected-but-absent ones skipped.
    if "interp" in metafunc.fixturenames:
        metafunc.parametrize("interp", INTERPRETERS)


@pytest.fixture(scope="session")
def any_interp():
    """One usable interpreter, for tests whose property does not depend on the CPython version."""
    usable = [p.values[0] for p in INTERPRETERS if p.values[0] is not None]
    if not usable:
        pytest.skip("no usable CPython 3 interpreter found")
    pyenv = [i for i in usable if i.kind == "pyenv"]
    return (pyenv or usable)[-1]  # the newest pyenv build


@pytest.fixture(scope="session", autouse=True)
def sid_binds(tmp_path_factory):
    """Programs run in the sid root see the session's temporary directories at their host paths
    (in-sid.sh binds them), also when a test runs a wrapper itself (`python -m venv TMP/venv`)."""
    os.environ["PYPROF_SID_BINDS"] = str(tmp_path_factory.getbasetemp())


def _is_sid_wrapper(path):
    try:
        with open(path, "rb") as f:
            return SID_WRAPPER_MARK in f.read(256)
    except OSError:
        return False


def _sid_venv(exe):
    """True for a virtual environment's interpreter made by a sid Python: its links lead to the
    root's /usr/bin/python3.X, so they dangle on the host, and run only in the root."""
    if not os.path.lexists(exe) or os.path.exists(exe):
        return False
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(exe)), "pyvenv.cfg")) as f:
            cfg = {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in f if "=" in line)}
    except OSError:
        return False
    home = cfg.get("home", "")
    return home.startswith("/") and os.path.isdir(SID_ROOT + home)


def sid_argv(argv):
    """argv as it runs a program of the sid root (in its namespaces), or None if it is not one."""
    exe = argv[0] if argv else None
    if not exe or not os.path.isfile(SID_ROOT + "/.pyprof-sid-root"):
        return None
    if _is_sid_wrapper(exe):  # a wrapper, or a renamed copy of one
        return list(argv)
    if _sid_venv(exe):
        return [IN_SID, "--root", SID_ROOT, os.path.abspath(exe)] + list(argv[1:])
    return None


def sid_host_ids(pid):
    """{pid in its pid namespace: host pid} for every thread of the host's process pid."""
    ids = {}
    for status in glob.glob("/proc/%d/task/*/status" % pid):
        try:
            with open(status) as f:
                nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")]
        except OSError:
            continue
        if nspid and len(nspid[0]) >= 2:
            ids[int(nspid[0][-1])] = int(nspid[0][0])
    return ids


@pytest.fixture(scope="session")
def python27():
    if not PYTHON27:
        pytest.skip("CPython 2.7 not found under %s/versions" % PYENV_ROOT)
    return PYTHON27[-1]


# ---------------------------------------------------------------------------------------------
# Processes under test


class Process:
    """A child process, reaped in the background as a supervisor would, killed at teardown.

    A program of the sid root (a sid wrapper, a renamed copy of one, a venv made by a sid
    Python) runs in its own mount and pid namespaces through tests/pythons/in-sid.sh: then
    .pid is the interpreter's host pid (in-sid.sh writes it to WORKDIR/NAME.hostpid before the
    exec), pids and tids in its result files are translated to the host's, and the interpreter
    is always reaped at once (by the namespace's init: reap=False has no effect)."""

    def __init__(self, argv, workdir, env=None, name="proc", reap=True):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "%s.log" % name)
        self._log = open(self.log_path, "wb")
        launch = sid_argv(argv)
        self.sid = launch is not None
        if self.sid:
            argv = launch
            env = dict(os.environ if env is None else env)
            pidfile = env["PYPROF_SID_PIDFILE"] = os.path.join(workdir, "%s.hostpid" % name)
            if os.path.exists(pidfile):
                os.unlink(pidfile)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pgid = self.pid = self.proc.pid  # a session and process group of its own
        self._reaper = None
        if reap:
            self._reaper = threading.Thread(target=self.proc.wait, daemon=True)
            self._reaper.start()
        if self.sid:
            self.pid = self._sid_host_pid(pidfile)

    def _sid_host_pid(self, pidfile, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not os.path.exists(pidfile):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail("the sid launcher %s did not start its program (exit %s; no %s):\n%s"
                            % (self.proc.args[0], self.proc.returncode, pidfile, self.log()))
            time.sleep(0.01)
        with open(pidfile) as f:
            return int(f.read())

    def _sid_translate(self, obj):
        """The workload's own pid and thread ids (its namespace's) as the host's: "pid", "tid",
        "*_tid" and the values of "tids" (a name -> tid map or a list)."""
        if not isinstance(obj, dict):
            return obj
        ids = sid_host_ids(self.pid)

        def host(v):
            if not isinstance(v, int) or isinstance(v, bool):
                return v
            if v not in ids:
                pytest.fail("pid %d: thread %d of its pid namespace not found among its threads "
                            "%r (the sid launcher cannot translate it)" % (self.pid, v, ids))
            return ids[v]

        out = dict(obj)
        for key, v in obj.items():
            if key in ("pid", "tid") or key.endswith("_tid"):
                out[key] = host(v)
            elif key == "tids" and isinstance(v, dict):
                out[key] = {k: host(t) for k, t in v.items()}
            elif key == "tids" and isinstance(v, list):
                out[key] = [host(t) for t in v]
        out["ns_ids"] = obj
        return out

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-3000:]

    def state(self):
        """The process state letter from /proc (Z: exited, not yet reaped), or None once reaped."""
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            return None

    def alive(self):
        if self._reaper is None:  # polling would reap it
            return self.state() not in (None, "Z")
        return self.proc.poll() is None

    def signal(self, signum):
        os.kill(self.pid, signum)

    def wait_file(self, name, timeout=20.0):
        """Wait for the workload to write WORKDIR/name; return its parsed JSON."""
        path = os.path.join(self.workdir, name)
        deadline = time.monotonic() + timeout
        while not os.path.exists(path):
            if not self.alive():
                pytest.fail("pid %d exited (%s) before writing %s:\n%s"
                            % (self.pid, self.proc.returncode, name, self.log()))
            if time.monotonic() > deadline:
                pytest.fail("pid %d did not write %s in %.0f s:\n%s"
                            % (self.pid, name, timeout, self.log()))
            time.sleep(0.02)
        with open(path) as f:
            obj = json.load(f)
        return self._sid_translate(obj) if self.sid else obj

    def wait_ready(self, timeout=20.0):
        self.ready = self.wait_file("ready.json", timeout)
        return self.ready

    def thread_comm(self, tid):
        """The thread's comm, or None if the process has no such thread."""
        try:
            with open("/proc/%d/task/%d/comm" % (self.pid, tid)) as f:
                return f.read().rstrip("\n")
        except OSError:
            return None

    def kill(self):
        if self.alive() or self.proc.poll() is None:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._reaper is not None:
            self._reaper.join(10)
        else:
            self.proc.wait(10)
        self._log.close()


@pytest.fixture
def spawn(tmp_path):
    """spawn(exe, workload, *args) starts tests/workloads/<workload> under exe and waits until it
    is ready (ready=False: does not wait; argv=[...]: runs that instead; env={...}: added to
    its environment).

    The process gets E2E_WORKDIR (its result files), is reaped as soon as it exits, like a
    supervisor would (reap=False: left a zombie until teardown), and is SIGKILLed at teardown."""
    started = []

    def _spawn(exe, workload=None, *args, ready=True, argv=None, reap=True, env=None):
        extra, env = env or {}, dict(os.environ)
        for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
            env.pop(var, None)
        env.update(extra)
        env["E2E_WORKDIR"] = str(tmp_path)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if argv is None:
            argv = [exe, os.path.join(WORKLOADS, workload)] + [str(a) for a in args]
        p = Process(argv, str(tmp_path), env, name="workload%d" % len(started), reap=reap)
        started.append(p)
        if ready:
            p.wait_ready()
        return p

    yield _spawn
    for p in started:
        p.kill()


# ---------------------------------------------------------------------------------------------
# agentctl and its folded output

_LINE = re.compile(r"^(.+) (\d+)$")
_ROOT = re.compile(r"^(.*) \((\d+)\)$")
_THREAD = re.compile(r"^thread (\d+) \((.*)\)$")
_PYFRAME = re.compile(r"^(.+) \((.+):(\d+)\)$")
# Where a process in a container or its own pid namespace (the sid interpreters) runs: frames the
# agent puts under the root and the thread frame (README, "Kubernetes" section).
_WHERE = re.compile(r"^\[(container [0-9a-f]+|pod [^\]]+|ns pid (\d+))\]$")
TRUNCATED = "[truncated]"


class PyFrame:
    def __init__(self, name, file, line):
        self.name, self.file, self.line = name, file, line

    def __repr__(self):
        return "%s (%s:%d)" % (self.name, self.file, self.line)


class Sample:
    """One folded line: the stack (root first) and its count, with the frames classified."""

    def __init__(self, stack, count, threads):
        self.stack, self.count = stack, count
        m = _ROOT.match(stack[0])
        assert m, "root frame %r is not 'COMM (PID)'" % stack[0]
        self.comm, self.pid = m.group(1), int(m.group(2))
        rest = stack[1:]
        self.tid = self.thread_name = None
        if threads:
            assert rest, "no thread frame in %r" % stack
            m = _THREAD.match(rest[0])
            assert m, "frame %r after the root is not 'thread TID (name)'" % rest[0]
            self.tid, self.thread_name = int(m.group(1)), m.group(2)
            rest = rest[1:]
        self.where, self.ns_pid = [], None  # [container ID], [pod UID], [ns pid N]
        while rest and _WHERE.match(rest[0]):
            m = _WHERE.match(rest[0])
            self.where.append(rest[0])
            if m.group(2):
                self.ns_pid = int(m.group(2))
            rest = rest[1:]
        self.truncated = bool(rest) and rest[0] == TRUNCATED
        if self.truncated:
            rest = rest[1:]
        self.python, self.kernel, self.markers = [], [], []
        self.kernel_leafward = True  # no Python frame or marker after a kernel frame
        for frame in rest:
            if frame.endswith("_[k]"):
                self.kernel.append(frame[:-4])
                continue
            if self.kernel:
                self.kernel_leafward = False
            m = _PYFRAME.match(frame)
            if m and not frame.startswith("["):
                self.python.append(PyFrame(m.group(1), m.group(2), int(m.group(3))))
            else:
                self.markers.append(frame)

    @property
    def names(self):
        return [f.name for f in self.python]

    def frames_of(self, name):
        return [f for f in self.python if f.name == name]

    def __repr__(self):
        return "%s %d" % (";".join(self.stack), self.count)


class Profile:
    def __init__(self, text, threads=False):
        self.text = text
        self.samples = []
        for line in text.splitlines():
            m = _LINE.match(line)
            assert m, "folded line without a trailing count: %r" % line[:300]
            self.samples.append(Sample(m.group(1).split(";"), int(m.group(2)), threads))

    @property
    def total(self):
        return sum(s.count for s in self.samples)

    def count(self, pred):
        return sum(s.count for s in self.samples if pred(s))

    def share(self, name):
        """Fraction of all samples whose Python stack contains a frame called name."""
        return self.count(lambda s: name in s.names) / float(self.total)

    def show(self, limit=15):
        top = sorted(self.samples, key=lambda s: -s.count)[:limit]
        return "\n".join(repr(s)[-400:] for s in top)


class Result:
    def __init__(self, argv, rc, stdout, stderr):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr

    def describe(self):
        return "%s -> exit %s\nstderr:\n%s\nstdout (head):\n%s" % (
            " ".join(self.argv), self.rc, self.stderr[-3000:], self.stdout[:2000])


def run_agentctl(*args, timeout=60):
    """Run agentctl; a crash (killed by a signal, or exit >= 128) always fails the test."""
    argv = [agentctl()] + [str(a) for a in args]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail("%s did not finish within %d s; stderr: %s" % (" ".join(argv), timeout, e.stderr))
    r = Result(argv, p.returncode, p.stdout, p.stderr)
    assert 0 <= r.rc < 128, "agentctl crashed: " + r.describe()
    return r


def check_ok(r, threads=False, kernel=False):
    """Assert a snapshot exited 0 with well-formed, non-empty folded output, with kernel frames
    only if asked for; return the Profile."""
    assert r.rc == EXIT_OK, r.describe()
    prof = Profile(r.stdout, threads=threads)
    assert prof.total > 0, "no samples: " + r.describe()
    if not kernel:
        with_kernel = [s for s in prof.samples if s.kernel]
        assert not with_kernel, "kernel frames without --kernel: %s" % with_kernel[:3]
    return prof


def snapshot(pid, duration=2, threads=False, kernel=False, rate=None, mode=None, extra=()):
    """`agentctl snapshot` of pid; asserts success and returns the parsed Profile. Kernel frames
    are allowed with --kernel and in --mode offcpu|wall (where a thread waited)."""
    args = ["snapshot", "--pid", pid, "--duration", duration]
    if threads:
        args.append("--threads")
    if kernel:
        args.append("--kernel")
    if rate:
        args += ["--rate", rate]
    if mode:
        args += ["--mode", mode]
    r = run_agentctl(*(args + list(extra)), timeout=duration + 30)
    prof = check_ok(r, threads, kernel or mode in ("offcpu", "wall"))
    prof.result = r
    return prof


_session_agentctl = []  # the copy every test runs, set once per session


def agentctl():
    """Path of the agentctl binary under test (a session copy of AGENTCTL)."""
    assert _session_agentctl, "the agentctl_copy fixture has not run"
    return _session_agentctl[0]


@pytest.fixture(scope="session", autouse=True)
def agentctl_copy(tmp_path_factory):
    """Copy AGENTCTL once, so that every test runs the same binary even when `make` relinks
    build/agentctl while the suite runs; retry while the file is being written."""
    dest = str(tmp_path_factory.mktemp("bin") / "agentctl")
    problem = "not found"
    for _ in range(20):
        if os.access(AGENTCTL, os.X_OK):
            shutil.copy2(AGENTCTL, dest)
            v = subprocess.run([dest, "version"], capture_output=True, text=True, timeout=30)
            if v.returncode == 0:
                _session_agentctl[:] = [dest]
                return dest
            problem = "`version` exited %d: %s" % (v.returncode, v.stderr.strip())
        time.sleep(0.5)
    pytest.fail("%s unusable (%s): run `make all` or set AGENTCTL" % (AGENTCTL, problem))


def source_line(workload, marker):
    """The 1-based line number of the only line of tests/workloads/<workload> containing marker."""
    with open(os.path.join(WORKLOADS, workload)) as f:
        hits = [i + 1 for i, line in enumerate(f) if marker in line]
    assert len(hits) == 1, "marker %r found on lines %r of %s" % (marker, hits, workload)
    return hits[0]


def workload_path(workload):
    return os.path.join(WORKLOADS, workload)


BUSY_PATH = ["<module>", "busy_main", "busy_leaf"]


def check_busy_profile(prof, pid, comm):
    """A profile of tests/workloads/busy.py: every sample is rooted at `comm (pid)` and its Python
    stack is a prefix of <module>;busy_main;busy_leaf, at least half of them the whole path."""
    wrong_root = [s for s in prof.samples if (s.comm, s.pid) != (comm, pid)]
    assert not wrong_root, "root frame is not %r:\n%s" % ("%s (%d)" % (comm, pid), wrong_root[:5])
    busy_file = workload_path("busy.py")
    other = [s for s in prof.samples
             if s.names != BUSY_PATH[:len(s.names)] or not s.names
             or any(f.file != busy_file for f in s.python)]
    assert prof.count(lambda s: s in other) <= 0.05 * prof.total, \
        "stacks other than a prefix of %s:\n%s" % (";".join(BUSY_PATH), other[:5])
    assert prof.count(lambda s: s.names == BUSY_PATH) >= 0.5 * prof.total, prof.show()


def free_pid():
    """A pid no process has now (the highest free one: the kernel hands them out upward)."""
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists("/proc/%d" % pid):
        pid -= 1
    return pid


def read_comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().rstrip("\n")


def tracefs_mounts():
    with open("/proc/mounts") as f:
        return [line.split()[1] for line in f if line.split()[2] in ("tracefs", "debugfs")]


def free_port():
    """A TCP port on 127.0.0.1 free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_agent(agent, timeout=20):
    """SIGTERM (the daemon flushes its window and exits), SIGKILL if it has not within timeout.
    Returns its exit status."""
    agent.send_signal(signal.SIGTERM)
    try:
        return agent.wait(timeout)
    except subprocess.TimeoutExpired:
        agent.kill()
        return agent.wait()


def npm_packages(packages, prefix=None):
    """Installs the pinned npm packages ({name: version}) into build/npm, once. Returns
    (node_modules, None), or (None, why) when node or npm is missing or the install failed."""
    prefix = prefix or os.path.join(REPO, "build", "npm")
    missing = []
    for pkg, ver in packages.items():
        try:
            with open(os.path.join(prefix, "node_modules", pkg, "package.json")) as f:
                if json.load(f).get("version") == ver:
                    continue
        except (OSError, ValueError):
            pass
        missing.append("%s@%s" % (pkg, ver))
    if missing:
        npm = shutil.which("npm")
        if not npm or not shutil.which("node"):
            return None, "node and npm are needed (for %s)" % " ".join(missing)
        r = subprocess.run([npm, "install", "--prefix", prefix, "--no-audit", "--no-fund"] + missing,
                           capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            return None, "npm install %s failed: %s" % (" ".join(missing), r.stderr[-2000:])
    return os.path.join(prefix, "node_modules"), None
