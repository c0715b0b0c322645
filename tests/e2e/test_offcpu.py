"""Off-CPU and wall-clock profiles on every CPython here: sleep time measured against the
target's own clock, lock waits with their futex frame, a blocking call inside an async def,
GIL contention, --gil, and the counting of short blocks."""
import re
import signal

import pytest

from conftest import Profile, check_ok, run_agentctl, snapshot, source_line

OFFCPU_MARKERS = ("[sleeping]", "[runnable]", "[waiting for GIL]")


def sampled_interval(result):
    m = re.search(r"sampled from ([\d.]+) to ([\d.]+) s of CLOCK_MONOTONIC", result.stderr)
    assert m, result.describe()
    return float(m.group(1)), float(m.group(2))


def counter(result, name):
    m = re.search(r"\b%s=(\d+)" % re.escape(name), result.stderr)
    return int(m.group(1)) if m else 0


def state_of(sample):
    states = [m for m in sample.markers if m in OFFCPU_MARKERS]
    return states[0] if states else None


def test_sleeping_thread_off_cpu_time_matches_its_own_clock_within_5_percent(interp, spawn):
    w = spawn(interp.path, "offcpu_sleep.py")
    check_sleeper(w, snapshot(w.pid, threads=True, mode="offcpu", duration=5))


# The ways of the tracer, in the order the agent tries them (agent/bpf/sampler.c), each forced with
# PYPROF_OFFCPU_WAY; whether it takes the kernel stack of the wait (raw_tp has no trusted
# pointer to the task switching in); whether it times blocks by the run-queue clock where the
# TSC is the clocksource (legacy builds cannot load through the current task).
WAYS = [
    ("tp_btf, task storage, task work", True, True),
    ("tp_btf, task storage, rseq_update", True, True),
    ("raw_tp, map by thread id, rseq_update", False, True),
    ("tp_btf, map by thread id, rseq_update, bounded loops", True, False),
    ("tp_btf, task storage, stack at switch-out", True, True),
    ("raw_tp, map by thread id, stack at switch-out", False, True),
    ("tp_btf, map by thread id, stack at switch-out, bounded loops", True, False),
]
# Ways whose kfuncs this kernel may refuse (unstable interfaces): a refusal skips them, named.
# Every other way needs nothing this kernel (6.18) lacks, so it must load.
MAY_BE_REFUSED = {"tp_btf, task storage, task work"}
EXIT_NO_KERNEL_SUPPORT = 7


def this_clock():
    with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
        return "run-queue clock" if f.read().strip() == "tsc" else "bpf_ktime_get_ns"


def way_snapshot(pid, way, monkeypatch, duration=5):
    """A --mode offcpu snapshot with the tracer forced to way; skips a way this kernel may
    refuse, with the agent's reason."""
    monkeypatch.setenv("PYPROF_OFFCPU_WAY", way)
    r = run_agentctl("snapshot", "--pid", pid, "--duration", duration, "--threads", "--mode",
                     "offcpu", timeout=duration + 60)
    if r.rc == EXIT_NO_KERNEL_SUPPORT and way in MAY_BE_REFUSED:
        refused = [l for l in r.stderr.splitlines() if "refused by the kernel" in l]
        pytest.skip("off-CPU way %r refused by this kernel: %s" % (way, refused[-1:]))
    prof = check_ok(r, threads=True, kernel=True)
    prof.result = r
    return prof


@pytest.mark.parametrize("way,kernel,clock", WAYS, ids=[w[0] for w in WAYS])
def test_every_way_of_the_tracer_gets_the_same_off_cpu_time(any_interp, spawn, monkeypatch,
                                                              way, kernel, clock):
    """The same times whatever the way; each says in the log that it is the one in use."""
    w = spawn(any_interp.path, "offcpu_sleep.py")
    prof = way_snapshot(w.pid, way, monkeypatch)
    desc = "%s, %s" % (way, this_clock() if clock else "bpf_ktime_get_ns")
    assert "off-CPU tracer: " + desc in prof.result.stderr, prof.result.describe()
    check_sleeper(w, prof, kernel=kernel)


@pytest.mark.parametrize("way,kernel,clock", WAYS, ids=[w[0] for w in WAYS])
def test_threads_without_rseq_get_the_same_off_cpu_profile(any_interp, spawn, monkeypatch, way,
                                                           kernel, clock):
    """A thread that did not register rseq (musl; here glibc told not to) is never reported on
    its way back to user mode by rseq_update: there, its Python stack is walked at each
    switch-out instead (counted), as every thread's is in the switch-out ways. Task work needs
    no rseq. The same result every way."""
    w = spawn(any_interp.path, "offcpu_sleep.py", env={"GLIBC_TUNABLES": "glibc.pthread.rseq=0"})
    prof = way_snapshot(w.pid, way, monkeypatch)
    walked = counter(prof.result, "offcpu_no_rseq")
    if "task work" in way:
        assert walked == 0, prof.result.describe()
    else:
        assert walked > 0, prof.result.describe()
    check_sleeper(w, prof, kernel=kernel)


def test_default_way_is_the_first_this_kernel_loads(any_interp, spawn, monkeypatch):
    """Decided by loading: the way a snapshot uses by default is the first of the list that
    loads when forced alone, and each way refused before it is said in one line, not with the
    verifier's log."""
    w = spawn(any_interp.path, "offcpu_sleep.py")
    first = None
    for way, _, clock in WAYS:
        monkeypatch.setenv("PYPROF_OFFCPU_WAY", way)
        r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 1, "--mode", "offcpu",
                         timeout=60)
        if r.rc == 0:
            first = "%s, %s" % (way, this_clock() if clock else "bpf_ktime_get_ns")
            break
        assert r.rc == EXIT_NO_KERNEL_SUPPORT, r.describe()
    assert first, "no way of the off-CPU tracer loads on this kernel"
    monkeypatch.delenv("PYPROF_OFFCPU_WAY")
    prof = snapshot(w.pid, threads=True, mode="offcpu", duration=1)
    assert "off-CPU tracer: " + first in prof.result.stderr, prof.result.describe()
    refusals = [l for l in prof.result.stderr.splitlines() if "refused by the kernel" in l]
    assert len(prof.result.stderr.splitlines()) <= 12 + len(refusals), prof.result.describe()
    for line in refusals:
        assert len(line) < 600, line


def test_no_way_loaded_fails_offcpu_with_one_line_and_exit_7(any_interp, spawn, monkeypatch):
    """When the kernel takes no way (forced here with a way name that does not exist),
    --mode offcpu and --mode wall fail with one line saying why; --mode cpu still works."""
    w = spawn(any_interp.path, "busy.py")
    monkeypatch.setenv("PYPROF_OFFCPU_WAY", "no such way")
    for mode in ("offcpu", "wall"):
        r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 1, "--mode", mode,
                         "--socket", "/nonexistent.sock", timeout=60)
        assert r.rc == EXIT_NO_KERNEL_SUPPORT, r.describe()
        errors = [l for l in r.stderr.splitlines() if "error:" in l]
        assert len(errors) == 1 and "needs the off-CPU tracer" in errors[0], r.describe()
    prof = snapshot(w.pid, duration=1)
    assert prof.total > 0


def check_sleeper(w, prof, kernel=True):
    """offcpu_sleep.py's sleeper: its off-CPU time at its sleep call matches the sleeps it
    measured itself within 5%, and is mostly [sleeping] in the kernel's sleep (kernel: its
    kernel stacks were taken)."""
    tid = w.ready["sleeper_tid"]
    line = source_line("offcpu_sleep.py", "marker: sleep call")
    t0, t1 = sampled_interval(prof.result)
    w.signal(signal.SIGUSR1)
    import os
    os.unlink(os.path.join(w.workdir, "ready.json"))
    sleeps = w.wait_file("sleeps.json")["sleeps"]
    # the sleeps that began and ended while the agent traced (a block is recorded at its end,
    # from its start): the target's own measure, GIL re-acquisition included
    expected_us = sum(e - s for s, e in sleeps if s >= t0 and e <= t1) * 1e6
    assert expected_us > 3e6, (t0, t1, sleeps[-5:])
    at_line = prof.count(lambda s: s.tid == tid and any(
        f.name == "sleeper" and f.line == line for f in s.python))
    thread_total = prof.count(lambda s: s.tid == tid)
    assert abs(at_line - expected_us) <= 0.05 * expected_us, (at_line, expected_us, prof.show())
    assert at_line >= 0.95 * thread_total, prof.show()
    if not kernel:
        return
    # the sleep itself is [sleeping] in the kernel's sleep (clock_nanosleep from 3.11, select
    # before); what follows is the wait for the GIL
    sleeping = prof.count(lambda s: s.tid == tid and state_of(s) == "[sleeping]" and any(
        "nanosleep" in k or "select" in k for k in s.kernel))
    assert sleeping >= 0.5 * at_line, prof.show()


def test_lock_contention_shows_waits_under_the_acquire_call_with_a_futex_frame(interp, spawn):
    w = spawn(interp.path, "locks.py")
    line = source_line("locks.py", "marker: acquire call")
    prof = snapshot(w.pid, threads=True, mode="offcpu", duration=4)
    contenders = prof.count(lambda s: "contend" in s.names)
    at_acquire = prof.count(lambda s: s.python and s.python[-1].name == "contend"
                            and s.python[-1].line == line)
    with_futex = prof.count(lambda s: s.python and s.python[-1].name == "contend"
                            and s.python[-1].line == line and any("futex" in k for k in s.kernel))
    # each of 4 threads holds the lock 1/4 of the time (sleeping) and waits 3/4 for it
    assert at_acquire >= 0.5 * contenders, prof.show()
    assert with_futex >= 0.9 * at_acquire, prof.show()


def test_blocking_call_inside_async_def_shows_under_the_handler_in_wall_mode(interp, spawn):
    w = spawn(interp.path, "asyncblock.py")
    line = source_line("asyncblock.py", "marker: blocking call in async def")
    prof = snapshot(w.pid, threads=True, mode="wall", duration=4)
    loop_thread = prof.count(lambda s: s.tid == w.pid)
    blocked = prof.count(lambda s: s.tid == w.pid and any(
        f.name == "handler" and f.line == line for f in s.python) and
        state_of(s) in ("[sleeping]", "[waiting for GIL]"))
    # the event loop spends most of its wall time inside the blocking call
    assert loop_thread > 3e6 and blocked >= 0.5 * loop_thread, prof.show()


def test_gil_contention_shows_each_thread_waiting_for_the_gil_about_half_the_time(interp, spawn):
    if interp.version < (3, 7):
        pytest.skip("CPython 3.6 keeps its GIL in file-static variables: GIL waits unknown")
    w = spawn(interp.path, "gilfight.py")
    prof = snapshot(w.pid, threads=True, mode="wall", duration=4)
    for name, tid in w.ready["tids"].items():
        total = prof.count(lambda s: s.tid == tid)
        waiting = prof.count(lambda s: s.tid == tid and state_of(s) == "[waiting for GIL]")
        # time spent waiting for a CPU (a busy machine) is not about the GIL: leave it out
        runnable = prof.count(lambda s: s.tid == tid and state_of(s) == "[runnable]")
        assert total > 3e6, (name, total, prof.show())
        share = waiting / float(total - runnable)
        assert 0.3 <= share <= 0.7, (name, waiting, total, runnable, prof.show())


def test_gil_option_keeps_only_samples_of_threads_holding_the_gil(interp, spawn):
    if interp.version < (3, 7):
        pytest.skip("CPython 3.6 keeps its GIL in file-static variables: GIL state unknown")
    w = spawn(interp.path, "gil.py")
    hasher, hog = w.ready["tids"]["hasher"], w.ready["tids"]["hog"]
    plain = snapshot(w.pid, threads=True, mode="cpu", duration=3)
    gil = snapshot(w.pid, threads=True, mode="cpu", duration=3, extra=["--gil"])
    # hashlib hashes with the GIL released: its samples go; the spinning holder's stay
    assert plain.count(lambda s: s.tid == hasher) >= 50, plain.show()
    assert gil.count(lambda s: s.tid == hasher) <= 0.1 * plain.count(lambda s: s.tid == hasher)
    assert gil.count(lambda s: s.tid == hog) >= 0.5 * plain.count(lambda s: s.tid == hog)
    assert counter(gil.result, "gil_not_held_dropped") > 0, gil.result.stderr


def test_blocks_shorter_than_the_threshold_are_counted_not_recorded(any_interp, spawn):
    w = spawn(any_interp.path, "offcpu_sleep.py")
    tid = w.ready["sleeper_tid"]
    r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 3, "--mode", "offcpu",
                     "--threads", "--min-block-us", "200000", timeout=40)
    assert r.rc == 0, r.describe()
    prof = Profile(r.stdout, threads=True)  # may be empty: nothing blocked for 0.2 s
    # every 0.1 s sleep is below 0.2 s: none is in the profile, all are in the counters
    assert prof.count(lambda s: s.tid == tid and "sleeper" in s.names) == 0, prof.show()
    assert counter(r, "offcpu_short_blocks") >= 25, r.stderr
    assert counter(r, "offcpu_short_ns") >= 2.5e9, r.stderr
