"""`agentctl dump` on every CPython here: each thread's stack (innermost first) and state
(sleeping in the right kernel function, running without the GIL, holding or waiting for the
GIL), read without stopping the process (its own 1 ms clock shows no gap of 10 ms), within a
bound; --json, --subprocesses, and bad input (no such pid, not Python, a pid that exits while
it is read)."""
import json
import os
import re
import time

import pytest

from conftest import (EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_OK, run_agentctl, workload_path)

WORKLOAD = "dump_threads.py"
DUMPS = 12  # the spinner shares the GIL with the 1 ms ticker: 5 dumps once never saw it hold it
SLEEP_KERNEL = re.compile(r"nanosleep|poll_schedule_timeout|schedule_hrtimeout|do_select|do_sys_poll")
LOCK_KERNEL = re.compile(r"futex")
MAX_GAP_S = 0.010  # the target's clock never stands still this long: it was not stopped
HANDOFF_DUMPS = 100  # 200 reads: the old reads made a sleep of 1 in 80 to 1 in 500
MAX_WALL_S = 1.0  # a generous bound for a test; the real figure is printed


def dump_json(pid, *extra):
    t0 = time.monotonic()
    r = run_agentctl("dump", "--pid", pid, "--json", *extra)
    t1 = time.monotonic()
    assert r.rc == EXIT_OK, r.describe()
    try:
        doc = json.loads(r.stdout)
    except ValueError as e:
        pytest.fail("--json output does not parse (%s): %s" % (e, r.describe()))
    return doc, r, t0, t1


def read_interval(r):
    """agentctl's own figures: ms reading the threads, ms in all, and the CLOCK_MONOTONIC
    interval of the reads."""
    m = re.search(r"threads read in ([\d.]+) ms \(([\d.]+) ms with .*, from ([\d.]+) to ([\d.]+) s "
                  r"of CLOCK_MONOTONIC", r.stderr)
    assert m, r.describe()
    return (float(m.group(1)), float(m.group(2))), (float(m.group(3)), float(m.group(4)))


def by_tid(doc, pid):
    procs = [p for p in doc["processes"] if p["pid"] == pid]
    assert len(procs) == 1, doc
    return {t["tid"]: t for t in procs[0]["threads"]}


def own_frames(thread, path):
    return [f["name"] for f in thread["frames"] if f["file"] == path]


def max_gap_within(ticks, windows):
    """The largest gap between consecutive moments the target recorded that overlaps one of
    the windows."""
    gap = 0.0
    for a, b in zip(ticks, ticks[1:]):
        if any(b >= t0 and a <= t1 for t0, t1 in windows):
            gap = max(gap, b - a)
    return gap


def fresh_ticks(w):
    path = os.path.join(w.workdir, "ticks.json")
    if os.path.exists(path):
        os.unlink(path)
    open(os.path.join(w.workdir, "trigger"), "w").close()
    return w.wait_file("ticks.json")


def test_dump_shows_every_thread_stack_and_state_without_stopping_the_process(interp, spawn):
    w = spawn(interp.path, WORKLOAD)
    tids = w.ready["tids"]
    with open(os.path.join(w.workdir, "threads.json")) as f:
        functions = {role: t["functions"] for role, t in json.load(f).items()}
    path = workload_path(WORKLOAD)
    gil_known = interp.version >= (3, 7)
    reads, walls, seen = [], [], {role: [] for role in tids}
    for _ in range(DUMPS):
        doc, r, t0, t1 = dump_json(w.pid)
        ms, interval = read_interval(r)
        reads.append(interval)
        walls.append((t1 - t0, ms))
        threads = by_tid(doc, w.pid)
        for role, tid in tids.items():
            assert tid in threads, "%s thread %d not in the dump:\n%s" % (role, tid, r.stdout)
            t = threads[tid]
            assert t["python"], (role, t)
            names = [f["name"] for f in t["frames"]]
            # innermost first: the thread's own function leads, then its callers in order
            assert names and names[0] == functions[role][0], (role, names)
            assert own_frames(t, path) == functions[role], (role, t["frames"])
            assert all(f["line"] > 0 for f in t["frames"]), (role, t["frames"])
            seen[role].append((t["state"], t["kernel_function"], t["gil"]))
    ticks = fresh_ticks(w)
    gaps = [max_gap_within(ticks, [iv]) for iv in reads]
    before = max_gap_within(ticks, [(ticks[0], reads[0][0])])
    print("\n%s: dump wall %s; agentctl's own read / total: %s; largest gap of the target's "
          "clock during each read %s (before them %.2f ms)"
          % (interp.id, ", ".join("%.1f ms" % (wall * 1e3) for wall, _ in walls),
             ", ".join("%s/%s ms" % ms for _, ms in walls),
             ", ".join("%.2f ms" % (g * 1e3) for g in gaps), before * 1e3))
    assert max(wall for wall, _ in walls) < MAX_WALL_S, walls
    # this machine's other load alone makes a gap of 10 ms now and then (printed "before"): a
    # process stopped for its dumps would show one at every read. The bound is 10 ms, or twice
    # the largest gap the target saw before any dump when the machine itself is noisier
    # (10.07 ms once, in a make test of its own)
    limit = max(MAX_GAP_S, 2 * before)
    assert sorted(gaps)[len(gaps) // 2] < limit, "the target's clock stood still: %s (%.2f ms " \
        "before the dumps)" % (gaps, before * 1e3)

    for role in ("holder", "sleeper"):  # they never wake
        for state, kfunc, gil in seen[role]:
            assert state == "sleeping" and SLEEP_KERNEL.search(kfunc or ""), "%s: %s" % (
                role, seen[role])
            assert gil is not True, "%s: %s" % (role, seen[role])
    # main wakes every 250 ms to look for the trigger file, and takes the GIL back from the
    # spinner first: a dump may find it running, or waiting for the GIL (on 3.6, asleep on its
    # futex). CI saw that once on 3.6; beside a busy loop 3 runs of 20 did, "running" and
    # "waiting for the GIL". Most dumps find it in its sleep.
    asleep = [(s, k, g) for s, k, g in seen["main"]
              if s == "sleeping" and SLEEP_KERNEL.search(k or "")]
    woken = [(s, k, g) for s, k, g in seen["main"]
             if s in ("running", "waiting for the GIL") or
             (s == "sleeping" and LOCK_KERNEL.search(k or ""))]
    assert len(asleep) + len(woken) == len(seen["main"]), "main: %s" % seen["main"]
    assert len(asleep) > DUMPS // 2, "main: %s" % seen["main"]
    assert all(g is not True for _, _, g in asleep), "main: %s" % seen["main"]
    for state, kfunc, gil in seen["waiter"]:
        assert state == "sleeping" and LOCK_KERNEL.search(kfunc or ""), seen["waiter"]
        assert gil is not True, seen["waiter"]
    for state, kfunc, gil in seen["reader"]:
        assert state == "sleeping" and "pipe" in (kfunc or ""), seen["reader"]
    spin = seen["spinner"]
    nogil = seen["compressor"]
    if not gil_known:
        # 3.6 keeps its GIL in file-static variables: neither held nor waited for is known
        assert all(g is None for _, _, g in spin + nogil), spin + nogil
        assert all(s == "running" or LOCK_KERNEL.search(k or "") for s, k, _ in spin), spin
        assert any(s == "running" for s, _, _ in nogil), nogil
        return
    # the spinner holds the GIL but when another thread takes it for a moment
    assert all(s in ("running", "waiting for the GIL") for s, _, _ in spin), "%s" % spin
    assert any(g for _, _, g in spin), "the spinner never held the GIL: %s" % spin
    # compressing megabytes at a time without the GIL, taking it back after each block of
    # output and between two compressions, when it frees and maps 8 MiB buffers: once in a make
    # test one dump found it in neither state (pytest cut which from the output: a GIL handoff
    # read half before and half after, fixed since, or a sleep on the memory map's lock, which
    # a dump's own reads take), so a few such dumps are allowed
    odd = [(s, k) for s, k, _ in nogil if s not in ("running", "waiting for the GIL")]
    assert len(odd) <= DUMPS // 4, "%s in %s" % (odd, nogil)
    # mostly it runs without the GIL, but in some runs the spinner and the ticker keep it waiting
    # for the GIL after its blocks of output half the time: in 104 cases on 3.7-3.15 beside a
    # busy loop, with the old reads of /proc and the new, 4 of 12 dumps at the fewest found it
    # running (the old bound, more than 6, failed 4 of 20 runs of this file)
    running = sum(1 for s, _, g in nogil if s == "running" and g is False)
    assert running >= DUMPS // 6, "found running without the GIL %d times: %s" % (running, nogil)


def test_dump_shows_the_thread_waiting_for_the_gil_on_its_futex(interp, spawn):
    """Two threads spinning in Python: one holds the GIL, the other waits for it, blocked on a
    futex inside the GIL's state, which is what "waiting for the GIL" means (3.7+; 3.6 keeps
    its GIL in file-static variables, which the agent does not locate). The threads are read
    one after the other while the GIL moves every 5 ms, so one dump may show it held twice."""
    if interp.version < (3, 7):
        pytest.skip("CPython 3.6: the GIL's state is not located")
    w = spawn(interp.path, "gilfight.py")
    tids = w.ready["tids"]
    seen = []
    # ends at the first dump that shows it; on a loaded machine the waiter is often runnable
    # (woken by its 5 ms timeout, not yet back on its futex): 20 dumps once missed it on 3.12
    for _ in range(60):
        doc, r, _, _ = dump_json(w.pid)
        threads = by_tid(doc, w.pid)
        now = [(threads[tids[k]]["state"], threads[tids[k]]["kernel_function"],
                threads[tids[k]]["gil"]) for k in ("a", "b")]
        seen.append(now)
        if any(s == "waiting for the GIL" and LOCK_KERNEL.search(k or "") and g is False
               for s, k, g in now) and any(g for _, _, g in now):
            return
    pytest.fail("never one thread holding the GIL and the other waiting for it: %s" % seen)


def test_dump_never_reads_a_thread_handing_the_gil_over_as_asleep(interp, spawn):
    """Two threads handing the GIL over every 100 us: each is, at every dump, running or
    waiting for the GIL. A thread's state and its system call are two reads of /proc; one that
    finds it asleep and the other running made "sleeping, in no system call" of a GIL handoff
    (CI saw it once in test_dump_shows_every_thread_stack..., for the spinner)."""
    w = spawn(interp.path, "gilfight.py", "switch", "0.0001")
    tids = w.ready["tids"]
    gil_known = interp.version >= (3, 7)  # 3.6: its GIL is not located, a wait is a sleep
    seen = []
    for _ in range(HANDOFF_DUMPS):
        doc, r, _, _ = dump_json(w.pid)
        threads = by_tid(doc, w.pid)
        for k in ("a", "b"):
            t = threads[tids[k]]
            seen.append((t["state"], t["kernel_function"]))
    odd = [(s, k) for s, k in seen if s not in ("running", "waiting for the GIL") and
           (gil_known or s != "sleeping" or not LOCK_KERNEL.search(k or ""))]
    assert not odd, "%d of %d thread reads neither running nor waiting for the GIL: %s" % (
        len(odd), len(seen), odd)


def test_dump_text_is_innermost_first_under_process_and_thread_headers(any_interp, spawn):
    w = spawn(any_interp.path, WORKLOAD)
    r = run_agentctl("dump", "--pid", w.pid)
    assert r.rc == EXIT_OK, r.describe()
    lines = r.stdout.splitlines()
    assert re.match(r"^Process %d: .*%s$" % (w.pid, re.escape(WORKLOAD)), lines[0]), lines[:2]
    assert re.match(r"^Python 3\.\d+ \(.+\), parent \d+$", lines[1]), lines[:2]
    sleeper = w.ready["tids"]["sleeper"]
    head = [i for i, l in enumerate(lines) if l.startswith("Thread %d (" % sleeper)]
    assert len(head) == 1, r.stdout
    assert re.match(r'^Thread %d \(sleeping in \S+\): ".*"$' % sleeper, lines[head[0]])
    frames = lines[head[0] + 1:head[0] + 3]
    path = re.escape(workload_path(WORKLOAD))
    assert re.match(r"^    sleep_leaf \(%s:\d+\)$" % path, frames[0]), frames
    assert re.match(r"^    sleep_run \(%s:\d+\)$" % path, frames[1]), frames


def test_dump_subprocesses_shows_each_python_child_under_its_parent(any_interp, spawn, tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys, time, json, os\n"
        "kids = [subprocess.Popen([sys.executable, '-c', 'import time\\n"
        "def child_wait():\\n    time.sleep(1000)\\nchild_wait()']) for _ in range(2)]\n"
        "time.sleep(0.5)\n"
        "with open(os.path.join(os.environ['E2E_WORKDIR'], 'ready.json'), 'w') as f:\n"
        "    json.dump({'kids': [k.pid for k in kids]}, f)\n"
        "def parent_wait():\n    time.sleep(1000)\n"
        "parent_wait()\n")
    w = spawn(any_interp.path, argv=[any_interp.path, str(script)])
    kids = w.ready["kids"]
    doc, r, _, _ = dump_json(w.pid, "--subprocesses")
    procs = {p["pid"]: p for p in doc["processes"]}
    assert set(procs) == {w.pid} | set(kids), r.describe()
    assert doc["processes"][0]["pid"] == w.pid
    for k in kids:
        assert procs[k]["parent"] == w.pid, procs[k]
        names = [f["name"] for t in procs[k]["threads"] for f in t["frames"]]
        assert names == ["child_wait", "<module>"], procs[k]
    names = [f["name"] for t in procs[w.pid]["threads"] for f in t["frames"]]
    assert names == ["parent_wait", "<module>"], procs[w.pid]
    t = run_agentctl("dump", "--pid", w.pid, "--subprocesses")
    assert t.rc == EXIT_OK, t.describe()
    for k in kids:
        assert re.search(r"^Process %d: .*\nPython 3\.\d+ \(.*\), parent %d$" % (k, w.pid),
                         t.stdout, re.M), t.stdout


def test_dump_of_a_pid_that_does_not_exist_exits_3():
    pid = 4194303  # above any pid this machine hands out (pid_max is lower)
    r = run_agentctl("dump", "--pid", pid)
    assert r.rc == EXIT_NO_PROCESS, r.describe()
    assert "no process" in r.stderr, r.describe()
    assert r.stdout == ""


def test_dump_of_a_process_that_is_not_python_exits_4(spawn):
    w = spawn(None, ready=False, argv=["/bin/sleep", "1000"])
    time.sleep(0.2)
    r = run_agentctl("dump", "--pid", w.pid, "--json")
    assert r.rc == EXIT_NOT_PYTHON, r.describe()
    assert "not a CPython process" in r.stderr, r.describe()
    assert json.loads(r.stdout) == {"processes": []}


def test_dump_of_a_process_exiting_meanwhile_never_crashes_and_says_so(any_interp, spawn):
    """Threads come and go, then the process exits on its own: each dump either succeeds, with
    JSON that parses, or says the process is gone (exit 3); never a crash (run_agentctl fails
    the test on a signal)."""
    w = spawn(any_interp.path, WORKLOAD, "exit", 1.5)
    codes = []
    for _ in range(500):
        r = run_agentctl("dump", "--pid", w.pid, "--json")
        codes.append(r.rc)
        assert r.rc in (EXIT_OK, EXIT_NO_PROCESS), r.describe()
        if r.rc == EXIT_OK or r.stdout:
            json.loads(r.stdout)
        if r.rc == EXIT_NO_PROCESS:
            assert re.search(r"no process with pid|exited while it was being read", r.stderr), \
                r.describe()
            if not w.alive():
                break
    assert EXIT_OK in codes and codes[-1] == EXIT_NO_PROCESS, codes
    print("\n%d dumps while it ran and exited: %d complete, %d said it was gone"
          % (len(codes), codes.count(EXIT_OK), codes.count(EXIT_NO_PROCESS)))
