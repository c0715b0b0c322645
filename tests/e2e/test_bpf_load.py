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
