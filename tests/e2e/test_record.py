"""agentctl record: a command profiled from its start, with --subprocesses every CPython
descendant (forked or spawned pool workers, uvicorn workers) under its own root; its exit status
is the command's. Every test runs agentctl in its own session and kills that process group at
teardown, whatever the outcome."""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import (Profile, agentctl, free_port, workload_path)

DEBIAN_PYTHON3 = "/usr/bin/python3"
_PARENT = re.compile(r"^\[parent (\d+)\]$")


class Recording:
    def __init__(self, argv, rc, stdout, stderr, profile_text):
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        self.profile = Profile(profile_text) if profile_text is not None else None

    def describe(self):
        return "%s -> exit %s\nstderr:\n%s" % (" ".join(self.argv), self.rc, self.stderr[-3000:])


@pytest.fixture
def record(tmp_path):
    """record(*options, command=[...]) runs `agentctl record OPTIONS -o FILE -- COMMAND` and
    returns a Recording (profile None when no file was written)."""
    groups = []

    def _record(*options, command, timeout=90, env=None, output=True, on_start=None):
        out = tmp_path / "profile.folded"
        argv = [agentctl(), "record"] + [str(o) for o in options]
        if output:
            argv += ["-o", str(out)]
        argv += ["--"] + [str(c) for c in command]
        e = dict(os.environ, E2E_WORKDIR=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
        e.update(env or {})
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=str(tmp_path), env=e, start_new_session=True)
        groups.append(p.pid)
        if on_start:
            on_start(p)
        try:
            so, se = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            so, se = p.communicate()
            pytest.fail("%s did not finish within %d s; stderr: %s" % (argv, timeout, se[-2000:]))
        assert p.returncode >= 0, "agentctl record was killed by signal %d: %s" % (-p.returncode, se)
        text = out.read_text() if output and out.exists() else None
        return Recording(argv, p.returncode, so, se, text)

    yield _record
    for pgid in groups:  # the command and every descendant left, whatever happened
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def parents(sample):
    return [int(_PARENT.match(m).group(1)) for m in sample.markers if _PARENT.match(m)]


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_record_subprocesses_finds_every_pool_worker_with_its_share(record, tmp_path, start):
    r = record("--subprocesses", "--rate", 199,
               command=[DEBIAN_PYTHON3, workload_path("pool_app.py"), start])
    assert r.rc == 3, "record must exit with the command's status 3: " + r.describe()
    prof = r.profile
    assert prof and prof.total, r.describe()
    got = json.loads((tmp_path / "pool.json").read_text())
    names = [w["function"] for w in got]
    root_pids = {s.pid for s in prof.samples}
    parent_pid = None
    for s in prof.samples:
        ps = parents(s)
        assert len(ps) == 1, "no [parent PID] frame under the root: %r" % s
    # each function under its own worker's root, that worker's parent being the pool's process
    for w in got:
        under = [s for s in prof.samples if s.pid == w["pid"] and w["function"] in s.names]
        assert under, "%s of worker %d not under its root 'python3 (%d)'\n%s" % (
            w["function"], w["pid"], w["pid"], prof.show())
        ps = parents(under[0])[0]
        assert ps in root_pids, "worker %d's parent %d is not profiled" % (w["pid"], ps)
        parent_pid = parent_pid or ps
        assert ps == parent_pid, "workers have different parents"
    # shares of the four functions within 5 points of the CPU time the workers measured
    counts = {n: prof.count(lambda s, n=n: n in s.names) for n in names}
    total_count, total_cpu = sum(counts.values()), sum(w["cpu_s"] for w in got)
    assert total_count >= 100, "too few worker samples: %s" % counts
    for w in got:
        want = w["cpu_s"] / total_cpu
        share = counts[w["function"]] / total_count
        print("%s: %.1f%% of the worker samples, measured %.1f%%" % (
            w["function"], 100 * share, 100 * want))
        assert abs(share - want) <= 0.05, "%s: share %.3f, measured %.3f (%s)" % (
            w["function"], share, want, counts)


def test_record_profiles_from_the_first_frames(record, tmp_path):
    """Without --subprocesses only the command; its start-up is in: the imports its first line
    makes (tens of milliseconds, before any function of its own runs) are sampled."""
    script = tmp_path / "short.py"
    script.write_text(
        "import asyncio, decimal, email.parser, json, unittest\n"
        "import time\n"
        "def short_spin():\n"
        "    t = time.process_time()\n"
        "    while time.process_time() - t < 0.3:\n"
        "        pass\n"
        "short_spin()\n")
    r = record("--rate", 499, command=[DEBIAN_PYTHON3, str(script)])
    assert r.rc == 0, r.describe()
    prof = r.profile
    assert prof.share("short_spin") > 0.3, prof.show()
    # the first line's imports, under the script's own <module> at line 1
    first_line = [s for s in prof.samples if s.python and s.python[0].name == "<module>"
                  and s.python[0].file == str(script) and s.python[0].line == 1
                  and any("importlib" in f.file for f in s.python)]
    print("first-line import samples: %d" % sum(s.count for s in first_line))
    assert first_line, "no sample of the start-up imports:\n" + prof.show()
    assert {s.pid for s in prof.samples} == {prof.samples[0].pid}
    assert all(not parents(s) for s in prof.samples), "[parent] frames without --subprocesses"
    assert "recording pid" in r.stderr and "wrote " in r.stderr


def test_record_missing_command_exits_127(record):
    r = record(command=["/nonexistent/python-app", "--x"])
    assert r.rc == 127, r.describe()
    assert "/nonexistent/python-app: command not found" in r.stderr, r.stderr
    assert r.profile is None


def test_record_non_python_command_finds_python_children(record, tmp_path):
    cmd = "%s -c 'import time\nt=time.process_time()\nwhile time.process_time()-t<0.5: pass'; exit 5" % (
        DEBIAN_PYTHON3)
    r = record("--subprocesses", command=["/bin/sh", "-c", cmd])
    assert r.rc == 5, r.describe()
    assert r.profile and r.profile.total > 10, r.describe()
    assert all(s.comm == "python3" for s in r.profile.samples), r.profile.show()
    # the shell is not CPython; its child is, under its own root with the shell as parent
    assert all(len(parents(s)) == 1 for s in r.profile.samples)


def test_record_without_python_says_so(record):
    r = record("--subprocesses", command=["/bin/sh", "-c", "sleep 0.2; exit 0"])
    assert r.rc == 0, r.describe()
    assert "ran no CPython: the profile is empty" in r.stderr, r.stderr


def test_record_runs_as_the_sudo_user_and_gives_them_the_file(record, tmp_path):
    os.chmod(str(tmp_path), 0o777)
    r = record(command=[DEBIAN_PYTHON3, "-c", "import os, sys; sys.exit(40 + (os.getuid() == 65534))"],
               env={"SUDO_UID": "65534", "SUDO_GID": "65534", "SUDO_USER": "nobody"})
    assert r.rc == 41, "the command did not run as uid 65534: " + r.describe()
    st = os.stat(str(tmp_path / "profile.folded"))
    assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_record_ctrl_c_writes_and_returns_the_command_status(record, tmp_path):
    script = tmp_path / "forever.py"
    script.write_text(
        "import sys, time\n"
        "def waiting_forever():\n"
        "    try:\n"
        "        while True:\n"
        "            sum(range(1000))\n"
        "    except KeyboardInterrupt:\n"
        "        sys.exit(7)\n"
        "waiting_forever()\n")

    def interrupt(p):
        time.sleep(2)
        os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group

    r = record(command=[DEBIAN_PYTHON3, str(script)], on_start=interrupt)
    assert r.rc == 7, r.describe()
    assert r.profile.share("waiting_forever") > 0.8, r.profile.show()


UVICORN_APP = '''
import hashlib


def handler_work(n):
    h = b"x"
    for _ in range(n):
        h = hashlib.sha256(h).digest()
    return h


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    handler_work(20000)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
'''


def test_record_uvicorn_workers(record, tmp_path):
    pytest.importorskip("uvicorn")
    (tmp_path / "uvapp.py").write_text(UVICORN_APP)
    port = free_port()
    seen = {}

    def load(p):
        deadline = time.monotonic() + 30
        ok = 0
        while time.monotonic() < deadline and ok < 150:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2) as resp:
                    resp.read()
                    ok += 1
            except OSError:
                time.sleep(0.1)
        seen["ok"] = ok
        os.kill(p.pid, signal.SIGTERM)  # record's own: it stops, writes, and ends uvicorn

    r = record("--subprocesses", command=[
        DEBIAN_PYTHON3, "-m", "uvicorn", "--app-dir", str(tmp_path), "--workers", "2",
        "--port", port, "--host", "127.0.0.1", "uvapp:app"], on_start=load, timeout=120)
    assert seen.get("ok", 0) >= 150, "the service answered %s requests" % seen
    prof = r.profile
    assert prof, r.describe()
    handlers = {s.pid for s in prof.samples if "handler_work" in s.names}
    assert len(handlers) == 2, "handler_work in %d worker(s), want 2:\n%s" % (
        len(handlers), prof.show())
