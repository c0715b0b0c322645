"""The deployment artifacts, checked as far as this machine allows: `make install` with DESTDIR,
the systemd unit (systemd-analyze verify and security, its capabilities each shown to be needed
by running the agent as an unprivileged user without it, its system call filter against every
call the daemon makes under strace), readiness over NOTIFY_SOCKET, the tmpfiles rule, the
Kubernetes manifests (parsed, validated against the Kubernetes schemas shipped in npm packages,
their config accepted by --check-config) and the container image's root file system, run in a
chroot as the image would run. There is no Docker engine here: the image itself is not built."""
import glob
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest
import yaml

from conftest import PYENV_ROOT, REPO, free_port, npm_packages, stop_agent

BUILD = os.environ.get("BUILD", os.path.join(REPO, "build"))
AGENT = os.environ.get("PYPROF_AGENT", os.path.join(BUILD, "pyprof-agent"))
AGENTCTL = os.environ.get("AGENTCTL", os.path.join(BUILD, "agentctl"))
UNIT = os.path.join(REPO, "deploy", "systemd", "pyprof-agent.service")
K8S = os.path.join(REPO, "deploy", "kubernetes")
DOCKERFILE = os.path.join(REPO, "deploy", "Dockerfile")
NOBODY = 65534

# What `make install` lays out (README "Run as a systemd service" and the Makefile say so).
INSTALLED = {
    "usr/local/bin/pyprof-agent": 0o755,
    "usr/local/bin/agentctl": 0o755,
    "usr/local/lib/systemd/system/pyprof-agent.service": 0o644,
    "usr/local/lib/tmpfiles.d/pyprof-agent.conf": 0o644,
    "etc/pyprof-agent/agent.yaml": 0o644,
}


def version():
    with open(os.path.join(REPO, "agent", "util", "version.h")) as f:
        return re.search(r'PYPROF_VERSION "([^"]+)"', f.read()).group(1)


# ---------------------------------------------------------------------------------------------
# The unit file


def parse_unit(path):
    """{(section, key): [values]} of a unit file, and its comment text."""
    entries, comments, section = {}, [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                comments.append(line)
            elif line.startswith("["):
                section = line.strip("[]")
            elif "=" in line:
                k, v = line.split("=", 1)
                entries.setdefault((section, k.strip()), []).append(v.strip())
    return entries, "\n".join(comments)


UNIT_ENTRIES, UNIT_COMMENTS = parse_unit(UNIT)
UNIT_CAPS = UNIT_ENTRIES.get(("Service", "AmbientCapabilities"), [""])[0].split()


def unit_value(key):
    vals = UNIT_ENTRIES.get(("Service", key))
    assert vals, "the unit has no %s=" % key
    return vals[-1]


def run(argv, timeout=120, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, **kw)


def default_socket(tmp_path):
    """control.socket's default in the daemon, checked to be agentctl's default too."""
    (empty := tmp_path / "empty.yaml").write_text("{}\n")
    r = run([AGENT, "--check-config", empty])
    assert r.returncode == 0, r.stderr
    sock = yaml.safe_load(r.stdout)["control"]["socket"]
    r = run([AGENTCTL, "--help"])
    assert "\n  %s  the daemon's control socket" % sock in r.stdout, r.stdout
    return sock


def make_install(destdir, *args):
    """`make install DESTDIR=destdir ARGS...`, outside any make that runs this test."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return run(["make", "--no-print-directory", "-C", REPO, "install", "DESTDIR=%s" % destdir]
               + list(args), timeout=600, env=env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A `make install DESTDIR=...` tree."""
    dest = tmp_path_factory.mktemp("destdir")
    r = make_install(dest)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return str(dest)


def tree(root):
    out = {}
    for d, _, files in os.walk(root):
        for name in files:
            p = os.path.join(d, name)
            out[os.path.relpath(p, root)] = os.stat(p).st_mode & 0o7777
    return out


def test_make_install_lays_out_exactly_the_documented_files(installed, tmp_path):
    assert tree(installed) == INSTALLED
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    for path in INSTALLED:
        assert "/" + path in readme, "README does not document /%s" % path
    # the unit as installed runs the installed binary with the installed config
    entries, _ = parse_unit(os.path.join(installed, "usr/local/lib/systemd/system/pyprof-agent.service"))
    assert entries[("Service", "ExecStart")] == [
        "/usr/local/bin/pyprof-agent --config /etc/pyprof-agent/agent.yaml"]
    # another PREFIX moves binaries, unit and tmpfiles rule, and the unit follows
    dest = tmp_path / "usr"
    r = make_install(dest, "PREFIX=/usr")
    assert r.returncode == 0, r.stderr[-2000:]
    assert set(tree(str(dest))) == {p.replace("usr/local/", "usr/") for p in INSTALLED}
    entries, _ = parse_unit(str(dest / "usr/lib/systemd/system/pyprof-agent.service"))
    assert entries[("Service", "ExecStart")] == [
        "/usr/bin/pyprof-agent --config /etc/pyprof-agent/agent.yaml"]
    assert entries[("Service", "ExecReload")][0].startswith("/usr/bin/pyprof-agent --check-config")
    # an edited configuration survives a reinstall
    conf = dest / "etc/pyprof-agent/agent.yaml"
    conf.write_text("window:\n  seconds: 30\n")
    r = make_install(dest, "PREFIX=/usr")
    assert r.returncode == 0 and conf.read_text() == "window:\n  seconds: 30\n", r.stdout


def test_installed_config_is_valid_and_puts_files_where_the_unit_lets_it_write(installed,
                                                                              tmp_path):
    conf = os.path.join(installed, "etc/pyprof-agent/agent.yaml")
    r = run([AGENT, "--check-config", conf])
    assert r.returncode == 0, r.stderr
    eff = yaml.safe_load(r.stdout)
    state = "/var/lib/%s/" % unit_value("StateDirectory")
    runtime = "/run/%s/" % unit_value("RuntimeDirectory")
    assert eff["control"]["socket"] == runtime + "agent.sock"
    assert eff["output"]["directory"].startswith(state)
    assert eff["upload"]["spool"]["directory"].startswith(state)
    # where agentctl looks by default (no link, no --socket needed)
    assert eff["control"]["socket"] == default_socket(tmp_path)


def test_installed_unit_passes_systemd_analyze_verify_and_security(installed):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    unit = os.path.join(installed, "usr/local/lib/systemd/system/pyprof-agent.service")
    # verify checks that ExecStart's binary exists: show it the DESTDIR's, in a private mount
    # namespace, so nothing is installed on this machine
    os.makedirs("/usr/local/bin", exist_ok=True)
    r = run(["unshare", "--mount", "sh", "-c",
             "mount --make-rprivate / && mount --bind %s/usr/local/bin /usr/local/bin && "
             "exec systemd-analyze verify %s" % (installed, unit)])
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr
    r = run(["systemd-analyze", "security", "--offline=true", "--no-pager", unit])
    m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", r.stdout)
    assert m, r.stdout[-2000:] + r.stderr
    assert float(m.group(1)) <= 3.0 and m.group(2) == "OK", m.group(0)


EXPECTED_CAPS = ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYSLOG",
                 "CAP_CHECKPOINT_RESTORE"]

# Settings that would break the agent silently, and why.
FORBIDDEN = {
    "ProtectKernelTunables": "hides /proc/kallsyms: kernel frames unnamed",
    "ProtectKernelLogs": "drops CAP_SYSLOG: kernel frames unnamed",
    "PrivateUsers": "capabilities in a user namespace do not count for BPF",
    "ProtectProc": "hides other users' processes",
    "ProcSubset": "hides /proc/kallsyms",
    "PrivateNetwork": "no S3 uploads, no metrics",
    "User": "DynamicUser= is the identity",
}


def test_unit_runs_the_daemon_with_least_privilege_and_says_why():
    assert unit_value("Type") == "notify" and unit_value("NotifyAccess") == "main"
    assert unit_value("Restart") == "on-failure"
    reload = UNIT_ENTRIES[("Service", "ExecReload")]
    assert "--check-config" in reload[0] and reload[-1] == "/bin/kill -HUP $MAINPID", reload
    for key, want in (("DynamicUser", "yes"), ("NoNewPrivileges", "yes"),
                      ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                      ("StateDirectory", "pyprof-agent"), ("RuntimeDirectory", "pyprof-agent")):
        assert unit_value(key) == want, key
    assert unit_value("CapabilityBoundingSet").split() == EXPECTED_CAPS
    assert UNIT_CAPS == EXPECTED_CAPS
    for cap in EXPECTED_CAPS:
        assert re.search(r"^# %s:\s+\S" % cap, UNIT_COMMENTS, re.M), "%s is not explained" % cap
    for key, why in FORBIDDEN.items():
        assert ("Service", key) not in UNIT_ENTRIES, "%s= must stay unset: %s" % (key, why)
    assert {"bpf", "perf_event_open"} <= set(unit_value("SystemCallFilter").split())


class Workdir:
    """A directory under /tmp the unprivileged agent owns (pytest's are root-only)."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="pyprof-deploy-", dir="/tmp")
        os.chown(self.path, NOBODY, NOBODY)

    def file(self, name, text, mode=0o644):
        p = os.path.join(self.path, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def workdir():
    w = Workdir()
    yield w
    w.remove()


def setpriv(caps, uid=NOBODY):
    """argv prefix: run as uid with exactly caps (bounding, inheritable, ambient), no new
    privileges: what the unit's DynamicUser, AmbientCapabilities, CapabilityBoundingSet and
    NoNewPrivileges give the daemon."""
    names = ",".join("+" + c[len("CAP_"):].lower() for c in caps)
    sets = "-all" + ("," + names if names else "")
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
            "--inh-caps=" + sets, "--ambient-caps=" + sets, "--bounding-set=" + sets,
            "--no-new-privs"]


def newest_pyenv():
    cands = []
    for exe in glob.glob(os.path.join(PYENV_ROOT, "versions", "3.*", "bin", "python3.*")):
        m = re.search(r"python(3\.(\d+))$", exe)
        prefix = os.path.dirname(os.path.dirname(exe))
        if m and os.path.exists(os.path.join(prefix, "lib", "libpython%s.so.1.0" % m.group(1))):
            cands.append((int(m.group(2)), prefix, m.group(1)))
    if not cands:
        pytest.skip("no pyenv CPython 3 with a shared libpython under %s" % PYENV_ROOT)
    _, prefix, ver = max(cands)
    return prefix, ver


class Target:
    """A CPython process running from a copy of a pyenv install in dir (mode given), its
    libpython optionally deleted once loaded (a package upgraded under a running service)."""

    def __init__(self, base, code, dir_mode=0o700, delete_lib=False):
        prefix, ver = newest_pyenv()
        self.dir = tempfile.mkdtemp(prefix="pyprof-target-", dir=base)
        os.chmod(self.dir, dir_mode)
        os.makedirs(os.path.join(self.dir, "bin"))
        os.makedirs(os.path.join(self.dir, "lib"))
        exe = os.path.join(self.dir, "bin", "python" + ver)
        lib = os.path.join(self.dir, "lib", "libpython%s.so.1.0" % ver)
        shutil.copy2(os.path.join(prefix, "bin", "python" + ver), exe)
        shutil.copy2(os.path.join(prefix, "lib", "libpython%s.so.1.0" % ver), lib)
        env = dict(os.environ, LD_LIBRARY_PATH=os.path.dirname(lib), PYTHONHOME=prefix)
        self.proc = subprocess.Popen([exe, "-c", "print('ready', flush=True)\n" + code],
                                     stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        assert self.proc.stdout.readline().strip() == b"ready"
        self.pid = self.proc.pid
        with open("/proc/%d/maps" % self.pid) as f:
            assert lib in f.read(), "the target did not load its own libpython"
        if delete_lib:
            os.unlink(lib)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


SPIN = "def spin():\n    while True:\n        sum(range(1000))\nspin()\n"
SLEEP = "import time\ndef nap():\n    while True:\n        time.sleep(0.005)\nnap()\n"


@pytest.fixture(scope="module")
def targets():
    """Targets owned by root, in a 0700 directory the agent's user cannot enter, plus one whose
    libpython is deleted."""
    base = tempfile.mkdtemp(prefix="pyprof-targets-", dir="/tmp")
    made = {}
    try:
        made["spin"] = Target(base, SPIN)
        made["sleep"] = Target(base, SLEEP)
        made["deleted"] = Target(base, SPIN, dir_mode=0o755, delete_lib=True)
        yield made
    finally:
        for t in made.values():
            t.kill()
        shutil.rmtree(base, ignore_errors=True)


def snapshot_as(caps, pid, mode="cpu"):
    r = run(setpriv(caps) + [AGENTCTL, "snapshot", "--pid", pid, "--duration", "0.7", "--rate",
                             "199", "--mode", mode], timeout=60)
    assert 0 <= r.returncode < 128, "agentctl crashed: %s" % r.stderr
    return r


def kernel_frames(folded):
    return [f for line in folded.splitlines() for f in line.rsplit(" ", 1)[0].split(";")
            if f.endswith("_[k]")]


def kallsyms_needs_syslog():
    """Why an unprivileged reader sees zero addresses in /proc/kallsyms, or None if it does not
    (then CAP_SYSLOG changes nothing here)."""
    with open("/proc/sys/kernel/kptr_restrict") as f:
        kptr = int(f.read())
    with open("/proc/sys/kernel/perf_event_paranoid") as f:
        paranoid = int(f.read())
    if kptr == 0 and paranoid <= 1:
        return None
    return "kptr_restrict=%d, perf_event_paranoid=%d" % (kptr, paranoid)


def check_capability_needed(cap, targets):
    """Runs agentctl as nobody with the unit's capabilities but cap: it must fail in the way that
    capability explains; with all of them (the control) it must succeed."""
    without = [c for c in UNIT_CAPS if c != cap]
    if cap in ("CAP_BPF", "CAP_PERFMON"):
        r = snapshot_as(without, targets["spin"].pid)
        assert r.returncode == 6 and cap in r.stderr, r.stderr[-1500:]
    elif cap == "CAP_SYS_PTRACE":
        r = snapshot_as(without, targets["spin"].pid)
        assert r.returncode == 6, r.stderr[-1500:]
    elif cap == "CAP_DAC_READ_SEARCH":
        r = snapshot_as(without, targets["spin"].pid)
        assert r.returncode == 6 and "not allowed to read" in r.stderr, r.stderr[-1500:]
        assert "(needs CAP_DAC_READ_SEARCH)" in r.stderr, r.stderr[-1500:]
    elif cap == "CAP_CHECKPOINT_RESTORE":
        r = snapshot_as(without, targets["deleted"].pid)
        assert r.returncode == 4, r.stderr[-1500:]
        ok = snapshot_as(UNIT_CAPS, targets["deleted"].pid)
        assert ok.returncode == 0 and "spin (<string>:" in ok.stdout, ok.stderr[-1500:]
    elif cap == "CAP_SYSLOG":
        why = kallsyms_needs_syslog()
        if not why:
            pytest.skip("kernel symbols are readable without CAP_SYSLOG on this machine")
        r = snapshot_as(without, targets["sleep"].pid, mode="offcpu")
        assert r.returncode == 0, r.stderr[-1500:]
        ks = kernel_frames(r.stdout)
        assert ks and set(ks) == {"[unknown]_[k]"}, ks[:10]
        ok = snapshot_as(UNIT_CAPS, targets["sleep"].pid, mode="offcpu")
        named = [k for k in kernel_frames(ok.stdout) if k != "[unknown]_[k]"]
        assert any("sleep" in k for k in named), "%s (%s)" % (named[:10], why)
    else:
        pytest.fail("%s is in the unit with no test showing it is needed" % cap)


@pytest.mark.parametrize("cap", UNIT_CAPS)
def test_each_capability_of_the_unit_is_needed(cap, targets):
    control = snapshot_as(UNIT_CAPS, targets["spin"].pid)
    assert control.returncode == 0 and "spin (<string>:" in control.stdout, control.stderr[-1500:]
    check_capability_needed(cap, targets)


def test_daemon_works_as_an_unprivileged_user_with_only_the_units_capabilities(workdir, targets):
    """As nobody with the six capabilities: BPF loaded, root's processes in a private directory
    named, kernel frames named, the control socket answers root, SIGTERM exits 0."""
    sock = os.path.join(workdir.path, "agent.sock")
    cfg = workdir.file("agent.yaml",
                       "sampling: {frequency_hz: 199, off_cpu: {enabled: true}}\n"
                       "targets: {all_python: false, pids: [%d, %d]}\n"
                       "window: {seconds: 2}\n"
                       "output: {directory: %s/profiles}\n"
                       "control: {socket: %s}\n"
                       "host: {name: nobody}\n"
                       % (targets["spin"].pid, targets["sleep"].pid, workdir.path, sock))
    log = open(os.path.join(workdir.path, "agent.log"), "wb")
    agent = subprocess.Popen(setpriv(UNIT_CAPS) + [AGENT, "--config", cfg], stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while len(glob.glob(os.path.join(workdir.path, "profiles", "nobody_*_offcpu.folded"))) < 2:
            assert agent.poll() is None, open(log.name).read()[-3000:]
            assert time.monotonic() < deadline, open(log.name).read()[-3000:]
            time.sleep(0.2)
        with open("/proc/%d/status" % agent.pid) as f:
            status = f.read()
        assert re.search(r"^Uid:\s+%d\s" % NOBODY, status, re.M)
        r = run([AGENTCTL, "status", "--socket", sock])
        assert r.returncode == 0 and "targets: 2" in r.stdout, r.stdout + r.stderr
        cpu = sorted(glob.glob(os.path.join(workdir.path, "profiles", "nobody_*_cpu.folded")))[-1]
        off = sorted(glob.glob(os.path.join(workdir.path, "profiles", "nobody_*_offcpu.folded")))[-1]
        with open(cpu) as f:
            assert "spin (<string>:" in f.read()
        with open(off) as f:
            text = f.read()
        assert "nap (<string>:" in text
        named = [k for k in kernel_frames(text) if k != "[unknown]_[k]"]
        assert named, "kernel frames unnamed:\n" + text[:2000]
        assert stop_agent(agent) == 0, open(log.name).read()[-3000:]
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        log.close()


# ---------------------------------------------------------------------------------------------
# System calls


def syscall_groups():
    out = run(["systemd-analyze", "syscall-filter", "--no-pager"]).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = line.split()[0]
            groups[cur] = []
        elif cur and line.startswith("    ") and not line.strip().startswith("#"):
            groups[cur].append(line.split()[0])
    return groups


def expand_filter(tokens, groups):
    allowed, todo, seen = set(), list(tokens), set()
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        if t.startswith("@"):
            assert t in groups, "unknown syscall group %s" % t
            todo += groups[t]
        else:
            allowed.add(t)
    return allowed


def test_system_call_filter_allows_every_call_the_daemon_makes(workdir, targets):
    """strace -f of the daemon through start, status, a snapshot, metrics, S3 upload attempts,
    a reload and SIGTERM: every system call is in SystemCallFilter=, every socket family in
    RestrictAddressFamilies=."""
    if not shutil.which("strace") or not shutil.which("systemd-analyze"):
        pytest.skip("strace and systemd-analyze (Debian packages strace, systemd) are needed")
    sock = os.path.join(workdir.path, "agent.sock")
    port = free_port()
    cfg = workdir.file("agent.yaml",
                       "sampling: {frequency_hz: 99, off_cpu: {enabled: true}}\n"
                       "targets: {all_python: false, pids: [%d]}\n"
                       "window: {seconds: 1}\n"
                       "output: {directory: %s/profiles, formats: [folded, pprof]}\n"
                       "control: {socket: %s}\n"
                       "metrics: {listen: \"127.0.0.1:%d\"}\n"
                       "host: {name: traced}\n"
                       "upload:\n"
                       "  s3: {enabled: true, endpoint: \"http://127.0.0.1:%d\", bucket: b,\n"
                       "       path_style: true, interval_seconds: 1}\n"
                       "  spool: {directory: %s/spool}\n"
                       % (targets["spin"].pid, workdir.path, sock, port, free_port(),
                          workdir.path))
    trace = os.path.join(workdir.path, "trace")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret")
    log = open(os.path.join(workdir.path, "agent.log"), "wb")
    tracer = subprocess.Popen(["strace", "-f", "-qq", "-o", trace, AGENT, "--config", cfg],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            assert tracer.poll() is None and time.monotonic() < deadline, \
                open(log.name).read()[-3000:]
            time.sleep(0.1)
        assert run([AGENTCTL, "status", "--socket", sock]).returncode == 0
        r = run([AGENTCTL, "snapshot", "--socket", sock, "--pid", targets["spin"].pid,
                 "--duration", "1"])
        assert r.returncode == 0, r.stderr
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
            assert resp.status == 200
        time.sleep(1.5)  # windows written, uploads tried
        agent_pid = int(subprocess.check_output(["pgrep", "-P", str(tracer.pid)]).split()[0])
        os.kill(agent_pid, signal.SIGHUP)
        time.sleep(1.0)
        os.kill(agent_pid, signal.SIGTERM)
        assert tracer.wait(30) == 0, open(log.name).read()[-3000:]
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait()
        log.close()
    used, families = set(), set()
    with open(trace) as f:
        for line in f:
            m = re.match(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
            if m:
                used.add(m.group(1))
            m = re.match(r"^\d+\s+socket\((AF_\w+)", line)
            if m:
                families.add(m.group(1))
    assert {"bpf", "perf_event_open", "process_vm_readv", "clone3" if "clone3" in used else
            "clone"} <= used, sorted(used)
    allowed = expand_filter(unit_value("SystemCallFilter").split(), syscall_groups())
    assert not used - allowed, "calls outside SystemCallFilter=: %s" % sorted(used - allowed)
    assert families <= set(unit_value("RestrictAddressFamilies").split()), families


# ---------------------------------------------------------------------------------------------
# Readiness


class Notifications:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, tmp, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "pyprof-notify-" + secrets.token_hex(6)
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.env = os.path.join(str(tmp), "notify")
            self.sock.bind(self.env)
        self.got = []

    def wait(self, pred, timeout=20.0, proc=None):
        deadline = time.monotonic() + timeout
        while True:
            for i, msg in enumerate(self.got):
                if pred(msg):
                    del self.got[:i + 1]
                    return msg
            left = deadline - time.monotonic()
            assert left > 0, "no such notification in %.0f s; got %r" % (timeout, self.got)
            if proc is not None:
                assert proc.poll() is None, "the daemon exited %s" % proc.returncode
            self.sock.settimeout(min(left, 0.5))
            try:
                self.got.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def fields(self, msg):
        return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_readiness_reload_and_stop_are_notified(tmp_path, abstract):
    n = Notifications(tmp_path, abstract)
    sock = str(tmp_path / "agent.sock")
    good = ("sampling: {off_cpu: {enabled: false}}\n"
            "targets: {all_python: false, pids: [4194304]}\n"
            "window: {seconds: 3600}\n"
            "output: {directory: %s}\n"
            "control: {socket: %s}\n" % (tmp_path / "profiles", sock))
    cfg = tmp_path / "agent.yaml"
    cfg.write_text(good)
    env = dict(os.environ, NOTIFY_SOCKET=n.env)
    log = open(str(tmp_path / "agent.log"), "wb")
    agent = subprocess.Popen([AGENT, "--config", str(cfg)], env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        ready = n.wait(lambda m: "READY=1" in m.split("\n"), proc=agent)
        # ready means ready: the control socket already answers
        assert os.path.exists(sock)
        assert "profiling 0 processes" in n.fields(ready).get("STATUS", ""), ready
        assert run([AGENTCTL, "status", "--socket", sock]).returncode == 0
        for text in (good, "window:\n  seconds: ten\n"):  # a valid, then a rejected reload
            cfg.write_text(text)
            agent.send_signal(signal.SIGHUP)
            reloading = n.wait(lambda m: "RELOADING=1" in m.split("\n"), proc=agent)
            usec = int(n.fields(reloading)["MONOTONIC_USEC"])
            assert abs(usec - time.monotonic_ns() // 1000) < 10_000_000, reloading
            n.wait(lambda m: "READY=1" in m.split("\n"), proc=agent)
        agent.send_signal(signal.SIGTERM)
        n.wait(lambda m: m == "STOPPING=1")
        assert agent.wait(20) == 0
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        log.close()
    with open(log.name) as f:
        assert "reload rejected" in f.read()


def test_watchdog_pings_at_half_the_period_and_only_for_its_own_pid(tmp_path):
    n = Notifications(tmp_path, False)
    cfg = tmp_path / "agent.yaml"
    cfg.write_text("sampling: {off_cpu: {enabled: false}}\n"
                   "targets: {all_python: false, pids: [4194304]}\n"
                   "output: {directory: %s}\ncontrol: {socket: %s}\n"
                   % (tmp_path / "profiles", tmp_path / "agent.sock"))
    for watchdog_pid, want in (("", True), ("1", False)):
        env = dict(os.environ, NOTIFY_SOCKET=n.env, WATCHDOG_USEC="1000000")
        if watchdog_pid:
            env["WATCHDOG_PID"] = watchdog_pid
        agent = subprocess.Popen([AGENT, "--config", str(cfg)], env=env,
                                 stderr=subprocess.DEVNULL)
        try:
            n.wait(lambda m: "READY=1" in m.split("\n"), proc=agent)
            start = time.monotonic()
            if want:
                for _ in range(3):
                    n.wait(lambda m: m == "WATCHDOG=1", timeout=2.0, proc=agent)
                # three pings at 0.5 s intervals
                assert time.monotonic() - start < 2.5
            else:
                with pytest.raises(AssertionError):
                    n.wait(lambda m: m == "WATCHDOG=1", timeout=1.5, proc=agent)
        finally:
            stop_agent(agent)
            n.got.clear()


def test_tmpfiles_rule_removes_windows_older_than_a_week(installed, tmp_path):
    if not shutil.which("systemd-tmpfiles"):
        pytest.skip("systemd-tmpfiles is not installed (Debian package systemd)")
    root = tmp_path / "root"
    conf = root / "etc/tmpfiles.d"
    conf.mkdir(parents=True)
    shutil.copy(os.path.join(installed, "usr/local/lib/tmpfiles.d/pyprof-agent.conf"),
                conf / "pyprof-agent.conf")
    # DynamicUser keeps the state in /var/lib/private/NAME behind a /var/lib/NAME link
    profiles = root / "var/lib/private/pyprof-agent/profiles"
    profiles.mkdir(parents=True)
    os.symlink("private/pyprof-agent", root / "var/lib/pyprof-agent")
    old, new = profiles / "old_cpu.folded", profiles / "new_cpu.folded"
    old.write_text("x 1\n")
    new.write_text("x 1\n")
    week = time.time() - 8 * 86400
    os.utime(old, (week, week))
    r = run(["systemd-tmpfiles", "--clean", "--root=%s" % root])
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(profiles)) == ["new_cpu.folded"]


# ---------------------------------------------------------------------------------------------
# Kubernetes


def k8s_documents():
    """[(file, document)] of every manifest, examples included."""
    docs = []
    for path in sorted(glob.glob(os.path.join(K8S, "*.yaml")) +
                       glob.glob(os.path.join(K8S, "examples", "*.yaml"))):
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    docs.append((os.path.relpath(path, K8S), doc))
    return docs


def k8s_find(kind, name=None):
    hits = [d for _, d in k8s_documents()
            if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(hits) == 1, "%d %s manifests" % (len(hits), kind)
    return hits[0]


NPM_PACKAGES = {"kubernetes-models": "5.1.0", "typescript": "5.9.3", "kubernetes-types": "1.30.0"}


@pytest.fixture(scope="module")
def k8s_validators():
    """build/npm with the pinned schema packages (installed through npm once)."""
    prefix = os.path.join(BUILD, "npm")
    modules, why = npm_packages(NPM_PACKAGES, prefix)
    if why and "are needed" in why:
        pytest.skip(why + ", for the Kubernetes schema check")
    assert modules, why
    return prefix


MODELS = {("v1", "Namespace"): "v1/Namespace", ("v1", "ServiceAccount"): "v1/ServiceAccount",
          ("v1", "ConfigMap"): "v1/ConfigMap", ("v1", "Secret"): "v1/Secret",
          ("apps/v1", "DaemonSet"): "apps/v1/DaemonSet"}
TYPES = {("v1", "Namespace"): "core/v1", ("v1", "ServiceAccount"): "core/v1",
         ("v1", "ConfigMap"): "core/v1", ("v1", "Secret"): "core/v1",
         ("apps/v1", "DaemonSet"): "apps/v1"}

VALIDATE_JS = r"""
import { readFileSync } from "node:fs";
const docs = JSON.parse(readFileSync(process.argv[2], "utf8"));
let bad = 0;
for (const [name, model, doc] of docs) {
  const mod = await import("kubernetes-models/" + model);
  try {
    new mod[doc.kind](doc).validate();
    console.log(`${name}: ${doc.kind} valid`);
  } catch (e) {
    console.log(`${name}: ${doc.kind} INVALID: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
"""


def validate_k8s(prefix, docs, workdir):
    """Runs both checks on [(name, doc)]: the OpenAPI schemas (kubernetes-models: types,
    required fields, formats such as quantities), and TypeScript's excess-property check
    against kubernetes-types (unknown or misspelt fields). Returns {name: [problems]}."""
    for key in ((d["apiVersion"], d["kind"]) for _, d in docs):
        assert key in MODELS, "no schema for %s/%s" % key
    problems = {n: [] for n, _ in docs}
    data = os.path.join(workdir, "docs.json")
    with open(data, "w") as f:
        json.dump([[n, MODELS[(d["apiVersion"], d["kind"])], d] for n, d in docs], f)
    script = os.path.join(prefix, "validate-k8s.mjs")  # resolves node_modules beside it
    with open(script, "w") as f:
        f.write(VALIDATE_JS)
    models = run(["node", script, data])
    for line in models.stdout.splitlines():
        name, _, rest = line.partition(": ")
        if "INVALID" in rest:
            problems[name].append(rest)
    assert len(models.stdout.splitlines()) == len(docs), models.stdout + models.stderr
    # one TypeScript file, one typed constant per document; line ranges tell which it is
    tag = secrets.token_hex(4)
    ts = os.path.join(prefix, "manifests-%s.ts" % tag)
    lines, ranges = [], []
    for i, (n, d) in enumerate(docs):
        mod = TYPES[(d["apiVersion"], d["kind"])]
        lines.append('import type { %s as T%d } from "kubernetes-types/%s";' % (d["kind"], i, mod))
    for i, (n, d) in enumerate(docs):
        first = len(lines) + 1
        lines += ("export const doc%d: T%d = %s;" % (i, i, json.dumps(d, indent=1))).split("\n")
        ranges.append((first, len(lines), n))
    with open(ts, "w") as f:
        f.write("\n".join(lines) + "\n")
    tsconfig = os.path.join(prefix, "tsconfig-%s.json" % tag)
    with open(tsconfig, "w") as f:
        json.dump({"compilerOptions": {"noEmit": True, "strict": True, "skipLibCheck": True,
                                       "types": [], "moduleResolution": "node",
                                       "target": "es2020"},
                   "files": [os.path.basename(ts)]}, f)
    try:
        tsc = run(["node", os.path.join(prefix, "node_modules", "typescript", "bin", "tsc"),
                   "-p", tsconfig])
    finally:
        os.unlink(ts)
        os.unlink(tsconfig)
    for line in tsc.stdout.splitlines():
        m = re.match(r"^\S+\.ts\((\d+),\d+\): error (.*)$", line)
        if m:
            at = int(m.group(1))
            name = [n for lo, hi, n in ranges if lo <= at <= hi]
            assert name, line
            problems[name[0]].append(m.group(2))
    assert tsc.returncode == 0 or any(problems.values()), tsc.stdout + tsc.stderr
    return problems


def test_kubernetes_manifests_pass_the_schema_check(k8s_validators, tmp_path):
    docs = k8s_documents()
    kinds = sorted(d["kind"] for _, d in docs)
    assert kinds == ["ConfigMap", "DaemonSet", "Namespace", "Secret", "ServiceAccount"], kinds
    # with a broken copy, to show the check can fail: a misspelt field and a bad quantity
    ds = json.loads(json.dumps(k8s_find("DaemonSet")))
    spec = ds["spec"]["template"]["spec"]
    spec["hostPid"] = spec.pop("hostPID")
    spec["containers"][0]["resources"]["limits"]["cpu"] = "lots"
    problems = validate_k8s(k8s_validators, docs + [("broken", ds)], str(tmp_path))
    broken = problems.pop("broken")
    assert not any(problems.values()), problems
    assert any("hostPid" in p for p in broken) and any("cpu" in p for p in broken), broken


def configmap_config():
    return k8s_find("ConfigMap", "pyprof-agent")["data"]["agent.yaml"]


def test_configmap_config_is_accepted_and_names_the_host_after_the_node(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text(configmap_config())
    env = dict(os.environ, NODE_NAME="ip-10-0-1-17.ec2.internal")
    r = run([AGENT, "--check-config", path], env=env)
    assert r.returncode == 0, r.stderr
    eff = yaml.safe_load(r.stdout)
    assert eff["host"]["name"] == "ip-10-0-1-17.ec2.internal"
    assert eff["upload"]["s3"]["enabled"] is True
    env.pop("NODE_NAME")
    r = run([AGENT, "--check-config", path], env=env)
    assert r.returncode == 2 and "NODE_NAME" in r.stderr, r.stderr


def test_daemonset_uses_capabilities_not_privileged_on_every_node(tmp_path):
    ds = k8s_find("DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert pod["hostPID"] is True
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    # the same capabilities as the systemd unit, which says why each
    assert ["CAP_" + x for x in sc["capabilities"]["add"]] == UNIT_CAPS
    assert {"operator": "Exists"} in pod["tolerations"]
    assert pod["serviceAccountName"] == k8s_find("ServiceAccount")["metadata"]["name"]
    assert c["image"].endswith(":" + version())
    env = {e["name"]: e for e in c["env"]}
    assert env["NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    secret = k8s_find("Secret")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        ref = env[key]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"] and key in secret["stringData"]
    # the config, as the pod sees it
    (path := tmp_path / "agent.yaml").write_text(configmap_config())
    r = run([AGENT, "--check-config", path], env=dict(os.environ, NODE_NAME="n"))
    eff = yaml.safe_load(r.stdout)
    # agentctl in the pod finds the socket without --socket or $PYPROF_SOCKET
    assert "PYPROF_SOCKET" not in env and eff["control"]["socket"] == default_socket(tmp_path)
    port = int(eff["metrics"]["listen"].rsplit(":", 1)[1])
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports["metrics"] == port
    for probe in ("livenessProbe", "readinessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/metrics" and ports[get["port"]] == port
    # with a read-only root, everything the agent writes is on a volume
    mounts = [m["mountPath"] for m in c["volumeMounts"] if not m.get("readOnly")]
    for written in (os.path.dirname(eff["control"]["socket"]), eff["output"]["directory"],
                    eff["upload"]["spool"]["directory"]):
        assert any(written == m or written.startswith(m + "/") for m in mounts), written
    cfg_mount = [m for m in c["volumeMounts"] if m["name"] == "config"][0]["mountPath"]
    assert c["args"] == ["--config", cfg_mount + "/agent.yaml"]
    res = c["resources"]
    assert res["requests"]["memory"] == "64Mi" and res["limits"]["memory"] == "256Mi"


# ---------------------------------------------------------------------------------------------
# The container image


def dockerfile():
    with open(DOCKERFILE) as f:
        text = f.read()
    return re.sub(r"\\\n", " ", text)


def makefile_list(name):
    with open(os.path.join(REPO, "Makefile")) as f:
        text = re.sub(r"\\\n", " ", f.read())
    return re.search(r"^%s\s*:=(.*)$" % name, text, re.M).group(1).split()


def test_dockerfile_builds_on_debian_and_runs_from_an_empty_base():
    """Read, not built (no Docker engine here): two stages, the build's packages are the
    Makefile's, every COPY source exists and is in the build context."""
    text = dockerfile()
    froms = re.findall(r"^FROM\s+(.*)$", text, re.M)
    assert froms == ["debian:bookworm AS build", "scratch"], froms
    apt = re.search(r"apt-get install -y --no-install-recommends (.*?)&&", text).group(1).split()
    assert sorted(apt) == sorted(makefile_list("DEB_BUILD") + ["ca-certificates"])
    with open(os.path.join(REPO, "deploy", "Dockerfile.dockerignore")) as f:
        allowed = [l.strip().lstrip("!").rstrip("/") for l in f if l.startswith("!")]
    for src in re.findall(r"^COPY\s+(?!--)(\S+)\s", text, re.M):
        assert os.path.exists(os.path.join(REPO, src)), src
        assert src.rstrip("/") in allowed, "%s is not in the build context" % src
    assert re.search(r'^ENTRYPOINT \["/usr/local/bin/pyprof-agent"\]$', text, re.M)
    assert "image-rootfs.sh build /rootfs" in text and "COPY --from=build /rootfs/ /" in text


def test_image_root_runs_the_agent_with_the_kubernetes_config_in_a_chroot(tmp_path):
    """deploy/image-rootfs.sh's tree is the whole image: in a chroot with the host's /proc (as
    hostPID gives), /sys read-only and the ConfigMap's config, the agent profiles a host process,
    names the window after NODE_NAME, answers the liveness probe and `agentctl status`."""
    root = str(tmp_path / "rootfs")
    r = run(["sh", os.path.join(REPO, "deploy", "image-rootfs.sh"), BUILD, root])
    assert r.returncode == 0, r.stderr
    files = [os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs]
    assert not [f for f in files if not re.match(
        r"^(usr/local/bin/(pyprof-agent|agentctl)|lib(64|/x86_64-linux-gnu)?/[^/]+\.so[.\d]*|"
        r"etc/ssl/certs/ca-certificates\.crt|etc/nsswitch\.conf)$", f)], sorted(files)
    port = free_port()
    cfg = yaml.safe_load(configmap_config())
    cfg["window"]["seconds"] = 2
    cfg["metrics"]["listen"] = "127.0.0.1:%d" % port
    cfg["upload"]["s3"]["enabled"] = False  # no network here
    with open(os.path.join(root, "etc/pyprof-agent/agent.yaml"), "w") as f:
        yaml.safe_dump(cfg, f)
    prefix, ver = newest_pyenv()
    busy = subprocess.Popen([os.path.join(prefix, "bin", "python" + ver), "-c", SPIN])
    env = dict(os.environ, NODE_NAME="node-7")
    env.pop("PYPROF_SOCKET", None)  # agentctl status finds the daemon at its default socket
    log = open(str(tmp_path / "agent.log"), "wb")
    agent = subprocess.Popen(
        ["unshare", "--mount", "sh", "-c",
         'set -e; r=$1; mount --make-rprivate /; mount --bind /proc "$r/proc"; '
         'mount --bind -o ro /sys "$r/sys"; mount --bind /dev "$r/dev"; '
         'exec chroot "$r" /usr/local/bin/pyprof-agent --config /etc/pyprof-agent/agent.yaml',
         "sh", root], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        windows = []
        while len(windows) < 2:
            assert agent.poll() is None, open(log.name).read()[-3000:]
            assert time.monotonic() < deadline, open(log.name).read()[-3000:]
            time.sleep(0.2)
            windows = sorted(glob.glob(os.path.join(
                root, "var/lib/pyprof-agent/profiles/node-7_*_cpu.folded")))
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as resp:
            assert resp.status == 200 and b"pyprof_samples_total" in resp.read()
        status = run(["chroot", root, "/usr/local/bin/agentctl", "status"], env=env)
        assert status.returncode == 0 and "target: %d python%s" % (busy.pid, ver) in status.stdout, \
            status.stdout + status.stderr
        with open(windows[-1]) as f:
            assert "python%s (%d);<module> (<string>:" % (ver, busy.pid) in f.read()
    finally:
        busy.kill()
        busy.wait()
        stop_agent(agent)
        log.close()


# ---------------------------------------------------------------------------------------------
# Help


def long_options(*sources):
    opts = set()
    for src in sources:
        with open(os.path.join(REPO, "agent", "cmd", src)) as f:
            opts |= set(re.findall(r'\{\s*"([a-z-]+)",\s*(?:no|required)_argument', f.read()))
    return opts


@pytest.mark.parametrize("binary,sources,codes", [
    (AGENT, ["pyprof-agent.c"], ["0", "1", "2", "6"]),
    (AGENTCTL, ["agentctl.c", "convert.c"], ["0", "1", "2", "3", "4", "5", "6"]),
], ids=["pyprof-agent", "agentctl"])
def test_help_names_every_option_exit_code_and_the_environment(binary, sources, codes):
    r = run([binary, "--help"])
    assert r.returncode == 0 and not r.stderr, r.stderr
    text = r.stdout
    missing = sorted(o for o in long_options(*sources) if "--" + o not in text)
    assert not missing, "options missing from --help: %s" % missing
    exit_part = text[text.index("Exit status:"):]
    for code in codes:
        assert re.search(r"\b%s\b" % code, exit_part), "exit code %s" % code
    for word in ("Environment:", "Files:", "Privileges:"):
        assert word in text
    assert max(len(l) for l in text.splitlines()) <= 90
