"""Containerised targets end to end. A container-like process is made with unshare (new mount and
pid namespaces) and pivot_root into a root assembled from bind mounts: the host's /usr, a copy of
a pyenv CPython at /opt/py/3.X and its program at /app-ID/work.py, neither of which exists on the
host. Where the machine lets us create cgroups, the process is moved into a fake container cgroup
(Docker's and containerd-under-Kubernetes' layouts). The agent must name its frames from the
container's own files, record its pid inside the namespace and its container id and pod uid."""
import glob
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
import uuid

import pytest

from conftest import PYENV_ROOT, REPO, run_agentctl, stop_agent

AGENT = os.environ.get("PYPROF_AGENT", os.path.join(REPO, "build", "pyprof-agent"))

WORKLOAD = '''\
import json
import os
import sys


class Worker:
    def spin(self):
        while True:  # LOOP
            sum(range(2000))  # SPIN


def main():
    with open("/tmp/ready.tmp", "w") as f:
        json.dump({"pid": os.getpid(), "exe": sys.executable, "file": __file__}, f)
    os.rename("/tmp/ready.tmp", "/tmp/ready.json")
    Worker().spin()  # CALL


main()  # MODULE
'''

# Runs as pid 1 of the new pid namespace: mounts the root, pivots into it, starts the workload
# and waits (a container's init).
INIT = '''\
set -eu
root=$1 py=$2 ver=$3
mount --make-rprivate /
mount --bind "$root" "$root"
mount --bind /usr "$root/usr"
mount --bind -o ro "$py/lib/python$ver" "$root/opt/py/$ver/lib/python$ver"
mount --bind /dev "$root/dev"
cd "$root"
pivot_root . .old
mount -t proc proc /proc
umount -l /.old
exec /bin/sh -c "LD_LIBRARY_PATH=/opt/py/$ver/lib PYTHONDONTWRITEBYTECODE=1 \\
    /opt/py/$ver/bin/python$ver $4 & wait"
'''


def line_of(marker):
    hits = [i + 1 for i, line in enumerate(WORKLOAD.splitlines()) if marker in line]
    assert len(hits) == 1, marker
    return hits[0]


def pyenv_install(minor):
    """(prefix, version) of the newest pyenv CPython 3.minor with a shared libpython, or skip."""
    prefixes = sorted(glob.glob(os.path.join(PYENV_ROOT, "versions", "3.%d.*" % minor)),
                      key=lambda p: [int(x) for x in re.findall(r"\d+", os.path.basename(p))])
    ver = "3.%d" % minor
    for prefix in reversed(prefixes):
        if os.path.exists(os.path.join(prefix, "lib", "libpython%s.so.1.0" % ver)):
            return prefix, ver
    pytest.skip("no pyenv CPython %s with libpython%s.so under %s/versions" % (ver, ver, PYENV_ROOT))


def children_of(pid):
    out = []
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(path.split("/")[2]))
    return out


def descendants(pid):
    found, todo = [], [pid]
    while todo:
        kids = children_of(todo.pop())
        found += kids
        todo += kids
    return found


class Container:
    """A python process in its own mount and pid namespaces and its own root."""

    def __init__(self, tmp, minor):
        self.prefix, self.ver = pyenv_install(minor)
        self.root = os.path.join(str(tmp), "root")
        self.app_dir = "/app-%s" % secrets.token_hex(4)
        self.app = self.app_dir + "/work.py"
        self.py_dir = "/opt/py/" + self.ver
        for d in ("usr", "proc", "dev", "tmp", ".old", self.app_dir[1:],
                  self.py_dir[1:] + "/bin", self.py_dir[1:] + "/lib/python" + self.ver):
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        for link in ("bin", "lib", "lib64", "sbin"):
            if os.path.islink("/" + link):
                os.symlink(os.readlink("/" + link), os.path.join(self.root, link))
            elif os.path.isdir("/" + link):
                os.makedirs(os.path.join(self.root, link), exist_ok=True)
        # the interpreter and its library are copies: the container's own files
        shutil.copy2(os.path.join(self.prefix, "bin", "python" + self.ver),
                     os.path.join(self.root, self.py_dir[1:], "bin"))
        shutil.copy2(os.path.join(self.prefix, "lib", "libpython%s.so.1.0" % self.ver),
                     os.path.join(self.root, self.py_dir[1:], "lib"))
        with open(os.path.join(self.root, self.app[1:]), "w") as f:
            f.write(WORKLOAD)
        init = os.path.join(str(tmp), "init.sh")
        with open(init, "w") as f:
            f.write(INIT)
        for host_path in (self.app, self.py_dir):
            assert not os.path.exists(host_path), "%s exists on the host: not a fair test" % host_path
        self.log = open(os.path.join(str(tmp), "container.log"), "wb")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "sh", init, self.root, self.prefix,
             self.ver, self.app],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        ready = os.path.join(self.root, "tmp", "ready.json")
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                with open(self.log.name) as f:
                    pytest.fail("the container did not start (%s):\n%s"
                                % (self.proc.returncode, f.read()[-2000:]))
            time.sleep(0.05)
        with open(ready) as f:
            self.ready = json.load(f)
        self.ns_pid = self.ready["pid"]
        self.pid = self._host_pid()
        self.cgroup_dirs = []

    def _host_pid(self):
        want = ["%s/bin/python%s" % (self.py_dir, self.ver), self.app]
        for pid in descendants(self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    argv = f.read().decode().split("\0")[:-1]
            except OSError:
                continue
            if argv == want:
                return pid
        pytest.fail("the container's python is not among the descendants of %d" % self.proc.pid)

    def move_to_cgroup(self, mount, rel):
        """Moves the python into cgroup mount/rel (created); returns its path, or None if the
        machine forbids it."""
        path = os.path.join(mount, rel)
        top = os.path.join(mount, rel.split("/")[0])
        try:
            os.makedirs(path)
            self.cgroup_dirs.append(top)
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(self.pid))
        except OSError as e:
            return "cannot create and enter %s: %s" % (path, e)
        return None

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in descendants(self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)
        self.log.close()
        deadline = time.monotonic() + 10
        for top in self.cgroup_dirs:
            # leaves first; a cgroup is busy until its last process is reaped
            for d in sorted((d for d, _, _ in os.walk(top)), key=len, reverse=True):
                while True:
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)


def cgroup2_mount():
    """The machine's cgroup v2 mount point, or None."""
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


@pytest.fixture
def container(tmp_path):
    made = []

    def _make(minor):
        c = Container(tmp_path / ("c%d" % len(made)), minor)
        made.append(c)
        return c

    yield _make
    for c in made:
        c.kill()


def parse_folded(text):
    """[(frames, count)] of folded text."""
    out = []
    for line in text.splitlines():
        stack, count = line.rsplit(" ", 1)
        out.append((stack.split(";"), int(count)))
    return out


def check_container_profile(c, text, container_id=None, pod_uid=None):
    """Every stack is rooted at the host pid, with the container, pod and ns-pid frames right
    under it, then the workload's Python frames named from the container's own files."""
    samples = parse_folded(text)
    assert samples, "no samples"
    root = re.compile(r"^python%s \(%d\)$" % (re.escape(c.ver), c.pid))
    where = (["[container %s]" % container_id] if container_id else []) + \
        (["[pod %s]" % pod_uid] if pod_uid else []) + ["[ns pid %d]" % c.ns_pid]
    want = [("<module>", {line_of("# MODULE")}), ("main", {line_of("# CALL")}),
            ("Worker.spin", {line_of("# LOOP"), line_of("# SPIN")})]
    total = sum(n for _, n in samples)
    whole = 0
    for frames, n in samples:
        assert root.match(frames[0]), "root %r is not 'python%s (%d)'" % (frames[0], c.ver, c.pid)
        assert frames[1:1 + len(where)] == where, \
            "frames under the root: %r, want %r" % (frames[1:1 + len(where)], where)
        py = frames[1 + len(where):]
        got = []
        for fr in py:
            m = re.match(r"^(.+) \((.+):(\d+)\)$", fr)
            assert m, "not a Python frame: %r in %r" % (fr, frames)
            assert m.group(2) == c.app, "file %r, want the container's path %r" % (m.group(2), c.app)
            got.append((m.group(1), int(m.group(3))))
        assert [g[0] for g in got] == [w[0] for w in want][:len(got)], "stack %r" % frames
        for (name, line), (_, lines) in zip(got, want):
            assert line in lines, "%s at line %d, want one of %s" % (name, line, sorted(lines))
        whole += n if len(got) == len(want) else 0
    assert whole >= 0.8 * total, "only %d of %d samples have the whole stack:\n%s" % (
        whole, total, text[:2000])


@pytest.mark.parametrize("minor", [10, 13], ids=["3.10-names-from-source", "3.13"])
def test_containerised_process_is_named_from_its_own_files_with_its_namespace_pid(container, minor):
    c = container(minor)
    assert c.ns_pid != c.pid
    # the maps name the container's paths, which do not exist on the host
    with open("/proc/%d/maps" % c.pid) as f:
        assert "%s/lib/libpython%s.so.1.0" % (c.py_dir, c.ver) in f.read()
    r = run_agentctl("snapshot", "--pid", c.pid, "--duration", 1.5, "--rate", 199)
    assert r.rc == 0, r.describe()
    # 3.10 has no co_qualname: "Worker.spin" can only come from the container's /app-ID/work.py
    check_container_profile(c, r.stdout)


CONTAINER_ID = "c0ffee" + secrets.token_hex(29)
POD_UID = str(uuid.uuid4())
LAYOUTS = {
    # Docker, systemd cgroup driver, cgroup v2
    "docker-v2": ("docker-%s.scope" % CONTAINER_ID, "docker", None),
    # containerd under Kubernetes, systemd driver, cgroup v2 (a burstable pod)
    "containerd-kubernetes-v2": (
        "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/"
        "cri-containerd-%s.scope" % (POD_UID.replace("-", "_"), CONTAINER_ID),
        "containerd", POD_UID),
}


def go_pprof_labels(path):
    """The label lines `go tool pprof -raw` prints for a profile."""
    go = shutil.which("go")
    if not go:
        pytest.skip("go is not installed (Debian golang-go): cannot read pprof labels")
    r = subprocess.run([go, "tool", "pprof", "-raw", path], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_container_id_and_pod_uid_come_from_the_cgroup_path(container, layout, tmp_path):
    mount = cgroup2_mount()
    if not mount:
        pytest.skip("no cgroup v2 hierarchy is mounted: no fake container cgroup can be made")
    rel, runtime, pod = LAYOUTS[layout]
    c = container(12)
    why = c.move_to_cgroup(mount, "pyprof-e2e-%s/%s" % (secrets.token_hex(4), rel))
    if why:
        pytest.skip("this machine forbids a fake container cgroup: " + why)
    r = run_agentctl("snapshot", "--pid", c.pid, "--duration", 1, "--rate", 199)
    assert r.rc == 0, r.describe()
    check_container_profile(c, r.stdout, container_id=CONTAINER_ID, pod_uid=pod)
    # the same frame is a pprof label of every sample
    out = tmp_path / "c.pb.gz"
    r = run_agentctl("snapshot", "--pid", c.pid, "--duration", 1, "--rate", 199,
                     "--format", "pprof", "--output", out)
    assert r.rc == 0, r.describe()
    raw = go_pprof_labels(str(out))
    assert "container_id:[%s]" % CONTAINER_ID in raw.replace(" ", ""), raw[:3000]


def test_daemon_selects_by_container_id_and_names_the_container_in_status(container, tmp_path):
    """targets.container_ids with a 12-digit prefix profiles the container's process and not a
    host process of the same interpreter; agentctl status names the container, its runtime and
    its namespace pid."""
    mount = cgroup2_mount()
    if not mount:
        pytest.skip("no cgroup v2 hierarchy is mounted: no fake container cgroup can be made")
    c = container(12)
    why = c.move_to_cgroup(mount, "pyprof-e2e-%s/docker-%s.scope" % (secrets.token_hex(4),
                                                                     CONTAINER_ID))
    if why:
        pytest.skip("this machine forbids a fake container cgroup: " + why)
    host = subprocess.Popen([os.path.join(c.prefix, "bin", "python" + c.ver), "-c",
                             "while True: sum(range(2000))"])
    d = str(tmp_path)
    sock = os.path.join(d, "agent.sock")
    cfg = os.path.join(d, "agent.yaml")
    with open(cfg, "w") as f:
        f.write("sampling: {frequency_hz: 199, off_cpu: {enabled: false}}\n"
                "targets: {all_python: false, container_ids: [%s]}\n"
                "window: {seconds: 2}\n"
                "output: {directory: %s/profiles}\n"
                "control: {socket: %s}\n"
                "host: {name: ctest}\n" % (CONTAINER_ID[:12], d, sock))
    log = open(os.path.join(d, "agent.log"), "wb")
    agent = subprocess.Popen([AGENT, "--config", cfg], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        windows = []
        while len(windows) < 2:
            assert agent.poll() is None, open(log.name).read()[-3000:]
            assert time.monotonic() < deadline, "no windows:\n" + open(log.name).read()[-3000:]
            time.sleep(0.2)
            windows = sorted(glob.glob(os.path.join(d, "profiles", "ctest_*_cpu.folded")))
        status = run_agentctl("status", "--socket", sock)
        assert status.rc == 0, status.describe()
        with open(windows[-1]) as f:
            text = f.read()
        roots = {frames[0] for frames, _ in parse_folded(text)}
        assert roots == {"python%s (%d)" % (c.ver, c.pid)}, roots
        check_container_profile(c, text, container_id=CONTAINER_ID)
        targets = [l for l in status.stdout.splitlines() if l.startswith("target:")]
        want = "target: %d python%s in container %s (docker), ns pid %d" % (
            c.pid, c.ver, CONTAINER_ID[:12], c.ns_pid)
        assert targets == [want], status.stdout
    finally:
        host.kill()
        host.wait()
        stop_agent(agent)
        log.close()
