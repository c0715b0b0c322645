"""BPF tier: the agent's BPF programs load and attach on a machine where tracefs is not mounted."""
import warnings

from conftest import check_busy_profile, read_comm, snapshot, tracefs_mounts


def test_bpf_programs_load_and_attach_without_tracefs(any_interp, spawn):
    mounted = tracefs_mounts()
    if mounted:
        # Still run: the property is weaker here, as the agent could be relying on the mount.
        warnings.warn("tracefs/debugfs already mounted at %s: this run does not prove the agent "
                      "works without them" % ", ".join(mounted))
    w = spawn(any_interp.path, "busy.py")
    prof = snapshot(w.pid, duration=1)
    assert prof.total >= 20, prof.show()
    check_busy_profile(prof, w.pid, read_comm(w.pid))


def test_bounded_loop_build_of_the_sampler_names_the_same_frames(interp, spawn, monkeypatch):
    """The on-CPU sampler's build for kernels without bpf_loop (before 5.17; 5.10 is the floor),
    forced on this kernel: the same frames and lines as the default build."""
    w = spawn(interp.path, "busy.py")
    monkeypatch.setenv("PYPROF_FORCE_LEGACY", "1")
    prof = snapshot(w.pid, duration=1)
    assert prof.total >= 20, prof.show()
    check_busy_profile(prof, w.pid, read_comm(w.pid))
