"""End-to-end tests of `agentctl snapshot` against real CPython processes of every version found."""
import collections
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (EXIT_NO_PROCESS, EXIT_NOT_PYTHON, EXIT_OK,
                      EXIT_UNSUPPORTED, EXIT_USAGE, Profile, check_busy_profile, check_ok,
                      agentctl, free_pid, read_comm, run_agentctl, snapshot, source_line, workload_path)


def ratio(part, whole):
    return part / float(whole) if whole else 0.0


# 1. CPU shares against the workload's own measurement

SHARE_FUNCS = ("share_heavy", "share_medium", "share_light")
# At 99 Hz five seconds give ~500 samples, whose sampling error alone is about 2 points: sample
# faster so that a 3-point bound measures the profiler, not chance. 1500 samples keep it >= 2.3
# standard errors even on a machine busy enough to halve the workload's CPU.
SHARES_RATE = 997
SHARES_MIN_SAMPLES = 1500


def test_cpu_shares_match_measured_thread_cpu_time_within_3_points(interp, spawn):
    w = spawn(interp.path, "shares.py")
    w.signal(signal.SIGUSR1)  # start measuring: the workload is in steady state from here on
    prof = snapshot(w.pid, duration=5, rate=SHARES_RATE)
    w.signal(signal.SIGUSR2)
    measured = w.wait_file("shares.json")["shares"]
    got = dict((name, prof.share(name)) for name in SHARE_FUNCS)
    report = ", ".join("%s profiled %.3f measured %.3f" % (n, got[n], measured[n])
                       for n in SHARE_FUNCS)
    assert prof.total >= SHARES_MIN_SAMPLES, "too few samples (%d) for a 3-point bound\n%s" % (prof.total, prof.show())
    assert all(abs(got[n] - measured[n]) <= 0.03 for n in SHARE_FUNCS), report


# 2. Line numbers


def test_hot_line_gets_95_percent_of_its_function_samples_and_caller_shows_call_site(interp, spawn):
    hot_line = source_line("lines.py", "# HOT-LINE")
    call_line = source_line("lines.py", "# CALL-HOT")
    path = workload_path("lines.py")
    w = spawn(interp.path, "lines.py")
    prof = snapshot(w.pid, duration=2)
    in_hot = prof.count(lambda s: "hot" in s.names)
    on_line = prof.count(lambda s: "hot" in s.names and s.frames_of("hot")[-1].line == hot_line
                         and s.frames_of("hot")[-1].file == path)
    at_call = prof.count(lambda s: "hot" in s.names and s.python[0].name == "<module>"
                         and s.python[0].line == call_line and s.python[0].file == path)
    assert in_hot >= 0.9 * prof.total, prof.show()
    assert ratio(on_line, in_hot) >= 0.95, \
        "%d of %d samples of hot() on line %d\n%s" % (on_line, in_hot, hot_line, prof.show())
    assert ratio(at_call, in_hot) >= 0.95, \
        "%d of %d samples of hot() called from <module> line %d\n%s" % (
            at_call, in_hot, call_line, prof.show())


# 3. Qualified names

QUALNAME_PATHS = [
    ["<module>", "Worker.run", "spin", "spin_for"],
    ["<module>", "outer", "outer.<locals>.inner", "spin", "spin_for"],
    ["<module>", "make_lambda", "make_lambda.<locals>.<lambda>", "spin", "spin_for"],
    ["<module>", "<lambda>", "spin", "spin_for"],
    ["<module>", "Outer.Inner.work", "spin", "spin_for"],
    ["<module>", "spin", "spin_for"],
]


def test_qualified_names_of_methods_nested_functions_lambdas_and_module_code_are_exact(interp, spawn):
    w = spawn(interp.path, "qualnames.py")
    prof = snapshot(w.pid, duration=2)
    paths = collections.Counter()
    for s in prof.samples:
        paths[tuple(s.names)] += s.count
    unexpected = dict((p, n) for p, n in paths.items()
                      if not any(list(p) == full[:len(p)] for full in QUALNAME_PATHS) or not p)
    missing = [";".join(full) for full in QUALNAME_PATHS if paths[tuple(full)] < 5]
    assert not unexpected, "stacks with unexpected names: %r" % unexpected
    assert not missing, "fewer than 5 samples of: %s\n%s" % (missing, prof.show())


# 4. Threads


def test_each_thread_function_appears_only_under_its_own_thread_frame(interp, spawn):
    w = spawn(interp.path, "threads.py")
    tids = w.ready["tids"]
    prof = snapshot(w.pid, duration=3, threads=True)
    per_tid = collections.Counter()
    for s in prof.samples:
        per_tid[s.tid] += s.count
    comms = dict((tid, w.thread_comm(tid)) for tid in per_tid)  # the process is still running
    wrong_names = [s for s in prof.samples if s.thread_name != comms[s.tid]]
    assert not wrong_names, "thread frame name is not the thread's comm: %s" % wrong_names[:3]
    for i in range(8):
        tid, func = tids["worker-%d" % i], "func_%d" % i
        elsewhere = [s for s in prof.samples if func in s.names and s.tid != tid]
        own = prof.count(lambda s: s.tid == tid and func in s.names)
        assert not elsewhere, "%s under a thread other than %d: %s" % (func, tid, elsewhere[:3])
        assert per_tid[tid] >= 5, "thread worker-%d (%d): %d samples\n%s" % (
            i, tid, per_tid[tid], prof.show(20))
        assert own >= 0.95 * per_tid[tid], "thread %d: %d of %d samples in %s\n%s" % (
            tid, own, per_tid[tid], func, prof.show(20))


# 5. A thread running C code with the GIL released


def test_thread_hashing_without_the_gil_keeps_its_python_stack(interp, spawn):
    w = spawn(interp.path, "gil.py")
    hasher, hog = w.ready["tids"]["hasher"], w.ready["tids"]["hog"]
    prof = snapshot(w.pid, duration=3, threads=True)
    n = prof.count(lambda s: s.tid == hasher)
    with_stack = prof.count(lambda s: s.tid == hasher and "hash_loop" in s.names)
    hog_n = prof.count(lambda s: s.tid == hog)
    assert n >= 50, "hasher thread %d: only %d samples\n%s" % (hasher, n, prof.show())
    assert ratio(with_stack, n) >= 0.5, "hasher: %d of %d samples have hash_loop\n%s" % (
        with_stack, n, prof.show())
    assert prof.count(lambda s: s.tid == hog and "gil_hog" in s.names) >= 0.95 * hog_n, prof.show()


# 6. Deep recursion

MAX_FRAMES = 1024


@pytest.fixture(scope="session")
def recursion_profiles():
    return {}


def recursion_profile(interp, spawn, cache):
    """One snapshot of recursion.py per interpreter, shared by the two recursion tests."""
    if interp.id not in cache:
        w = spawn(interp.path, "recursion.py")
        cache[interp.id] = (w.ready, snapshot(w.pid, duration=2, threads=True))
    return cache[interp.id]


def expected_recursion_lines(depth):
    """Lines of depth recurse() frames, outermost first: each calls the next, the last the leaf."""
    return ([source_line("recursion.py", "# RECURSE-CALL")] * (depth - 1)
            + [source_line("recursion.py", "# BOTTOM-CALL")])


def test_stack_deeper_than_1024_frames_is_marked_truncated_with_exact_innermost_1024(
        interp, spawn, recursion_profiles):
    ready, prof = recursion_profile(interp, spawn, recursion_profiles)
    deep = [s for s in prof.samples if s.tid == ready["tids"]["deep"]]
    assert sum(s.count for s in deep) >= 20, prof.show()
    lines = expected_recursion_lines(MAX_FRAMES - 1)
    for s in deep:
        assert s.truncated, "not marked %s: %d frames" % ("[truncated]", len(s.python))
        assert len(s.python) == MAX_FRAMES
        assert s.names == ["recurse"] * (MAX_FRAMES - 1) + ["spin_bottom"], \
            "names: %r" % sorted(set(s.names))
        assert [f.line for f in s.python[:-1]] == lines


def test_stack_of_1000_recursive_frames_is_complete_and_not_truncated(
        interp, spawn, recursion_profiles):
    ready, prof = recursion_profile(interp, spawn, recursion_profiles)
    depth = ready["shallow"]
    main = [s for s in prof.samples if s.tid == ready["tids"]["main"]]
    assert sum(s.count for s in main) >= 20, prof.show()
    lines = expected_recursion_lines(depth)
    for s in main:
        assert not s.truncated
        assert len(s.python) == depth + 2, "%d Python frames" % len(s.python)
        assert s.names == ["<module>"] + ["recurse"] * depth + ["spin_bottom"]
        assert [f.line for f in s.python[1:-1]] == lines


# 7. Renamed interpreters and virtual environments


def test_renamed_copy_of_interpreter_is_profiled_under_its_new_name(interp, spawn, tmp_path):
    # A shared pyenv build finds libpython through its RUNPATH; Debian's is static.
    name = "worker-bin" if interp.kind == "debian" else "myservice"
    exe = tmp_path / "bin" / name
    exe.parent.mkdir()
    shutil.copy2(interp.path, str(exe))
    w = spawn(str(exe), "busy.py")
    prof = snapshot(w.pid, duration=2)
    check_busy_profile(prof, w.pid, name)


def test_interpreter_in_a_venv_is_profiled(interp, spawn, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([interp.path, "-m", "venv", "--without-pip", str(venv)], check=True,
                   capture_output=True, timeout=120)
    w = spawn(str(venv / "bin" / "python"), "busy.py")
    assert os.path.realpath(w.ready["prefix"]) == os.path.realpath(str(venv))
    comm = read_comm(w.pid)
    prof = snapshot(w.pid, duration=2)
    check_busy_profile(prof, w.pid, comm)


# 8. Bad input


def test_unknown_pid_exits_3_naming_the_pid():
    pid = free_pid()
    r = run_agentctl("snapshot", "--pid", pid, "--duration", 1)
    assert r.rc == EXIT_NO_PROCESS, r.describe()
    assert str(pid) in r.stderr, r.describe()
    assert r.stdout == "", r.describe()


def test_non_python_process_exits_4(spawn):
    w = spawn(None, argv=["sleep", "100"], ready=False)
    r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 1)
    assert r.rc == EXIT_NOT_PYTHON, r.describe()
    assert str(w.pid) in r.stderr, r.describe()


def test_python_2_7_exits_5_naming_the_version(spawn, python27):
    script = ("import os, time\n"
              "open(os.path.join(os.environ['E2E_WORKDIR'], 'ready.json'), 'w').write('{}')\n"
              "while True: time.sleep(1)\n")
    w = spawn(python27, argv=[python27, "-c", script])
    r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 1)
    assert r.rc == EXIT_UNSUPPORTED, r.describe()
    assert "2.7" in r.stderr, r.describe()


def test_target_exiting_mid_snapshot_ends_it_early_with_samples_and_exit_0(interp, spawn):
    w = spawn(interp.path, "busy.py", 1.0)  # exits 1 s after it is ready
    started = time.monotonic()
    r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 5, timeout=30)
    elapsed = time.monotonic() - started
    prof = check_ok(r)
    assert elapsed < 4.0, "snapshot took %.1f s for a target that exited after 1 s" % elapsed
    assert "exit" in r.stderr.lower() and str(w.pid) in r.stderr, r.describe()
    check_busy_profile(prof, w.pid, os.path.basename(interp.path))


def test_target_exiting_unreaped_mid_snapshot_ends_it_early_with_exit_0(any_interp, spawn):
    # A zombie (exited, its parent not yet waiting for it) has exited as much as a reaped process.
    w = spawn(any_interp.path, "busy.py", 1.0, reap=False)
    started = time.monotonic()
    r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 5, timeout=30)
    elapsed = time.monotonic() - started
    prof = check_ok(r)
    assert w.state() == "Z", "the target should have exited, unreaped (state %r)" % w.state()
    assert elapsed < 4.0, "snapshot took %.1f s for a target that exited after 1 s" % elapsed
    assert "exit" in r.stderr.lower() and str(w.pid) in r.stderr, r.describe()
    check_busy_profile(prof, w.pid, os.path.basename(any_interp.path))


@pytest.mark.parametrize("args", [
    [],
    ["bogus"],
    ["snapshot"],
    ["snapshot", "--duration", "1"],
    ["snapshot", "--pid"],
    ["snapshot", "--pid", "abc"],
    ["snapshot", "--pid", "-5"],
    ["snapshot", "--pid", "1", "--duration", "0"],
    ["snapshot", "--pid", "1", "--duration", "-1"],
    ["snapshot", "--pid", "1", "--duration", "x"],
    ["snapshot", "--pid", "1", "--rate", "0"],
    ["snapshot", "--pid", "1", "--rate", "100000"],
    ["snapshot", "--pid", "1", "--frobnicate"],
], ids=lambda a: " ".join(a) or "no-args")
def test_usage_error_exits_2_without_output(args):
    r = run_agentctl(*args, timeout=10)
    assert r.rc == EXIT_USAGE, r.describe()
    assert r.stdout.strip() == "" and r.stderr.strip() != "", r.describe()


# 9. Kernel frames


def test_kernel_frames_appear_leafward_of_python_frames_in_a_syscall_loop(interp, spawn):
    w = spawn(interp.path, "syscalls.py")
    prof = snapshot(w.pid, duration=2, kernel=True)
    with_kernel = [s for s in prof.samples if s.kernel]
    n = sum(s.count for s in with_kernel)
    misplaced = [s for s in with_kernel if not s.kernel_leafward]
    not_read_loop = [s for s in with_kernel if not s.names or s.names[-1] != "read_loop"]
    assert ratio(n, prof.total) >= 0.2, "%d of %d samples have kernel frames\n%s" % (
        n, prof.total, prof.show())
    assert not misplaced, "kernel frames not leafward: %s" % misplaced[:3]
    assert sum(s.count for s in not_read_loop) <= 0.05 * n, \
        "kernel samples whose Python leaf is not read_loop: %s" % not_read_loop[:3]


# 10. --output and Ctrl-C


def test_output_option_writes_folded_stacks_to_the_file(any_interp, spawn, tmp_path):
    out = tmp_path / "profile.folded"
    w = spawn(any_interp.path, "busy.py")
    r = run_agentctl("snapshot", "--pid", w.pid, "--duration", 1, "--output", str(out))
    assert r.rc == EXIT_OK, r.describe()
    assert r.stdout == "", "folded output also on stdout: " + r.describe()
    prof = Profile(out.read_text())
    assert prof.total >= 20, prof.show()
    check_busy_profile(prof, w.pid, os.path.basename(any_interp.path))


def test_sigint_ends_a_30_s_snapshot_promptly_with_the_samples_so_far(any_interp, spawn, tmp_path):
    w = spawn(any_interp.path, "busy.py")
    p = subprocess.Popen([agentctl(), "snapshot", "--pid", str(w.pid), "--duration", "30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        p.send_signal(signal.SIGINT)
        try:
            out, err = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("agentctl still running 5 s after SIGINT")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == EXIT_OK, "exit %s after SIGINT; stderr:\n%s" % (p.returncode, err)
    prof = Profile(out)
    assert prof.total >= 50, "%d samples after ~2 s at 99 Hz\n%s" % (prof.total, err)
    check_busy_profile(prof, w.pid, os.path.basename(any_interp.path))
