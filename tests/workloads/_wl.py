"""Helpers shared by the e2e workloads: readiness file, result files, native thread ids, CPU clock.
Every workload runs unchanged on CPython 3.6 to 3.13."""
import json
import os
import sys
import tempfile
import threading
import time

# result files go where the test says; never into the current directory (the repository)
WORKDIR = os.environ.get("E2E_WORKDIR") or os.path.join(tempfile.gettempdir(), "pyprof-e2e")
try:
    os.makedirs(WORKDIR)
except OSError:
    pass  # exists (os.makedirs has no exist_ok before 3.2: fine, but keep 3.6-safe and quiet)

# time.thread_time exists from 3.7; 3.6 workloads that use it are single-threaded.
thread_cpu_time = getattr(time, "thread_time", time.process_time)


def native_tid():
    """The kernel thread id of the calling thread."""
    get = getattr(threading, "get_native_id", None)
    if get is not None:
        return get()
    import ctypes

    return ctypes.CDLL(None, use_errno=True).syscall(186)  # SYS_gettid on x86_64


def write_json(name, obj):
    """Write obj to WORKDIR/name atomically, so the test never reads a half-written file."""
    path = os.path.join(WORKDIR, name)
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.rename(path + ".tmp", path)


def ready(**info):
    """Tell the test the workload has reached its steady state."""
    info.setdefault("pid", os.getpid())
    info.setdefault("version", list(sys.version_info[:3]))
    info.setdefault("prefix", sys.prefix)
    info.setdefault("executable", sys.executable)
    write_json("ready.json", info)


def spin():
    """A few thousand multiply-mods: a unit of pure-Python work, for workloads whose phases
    differ only by their callers' frames."""
    x = 1
    for i in range(3000):
        x = (x * 31 + i) % 1000003
    return x


def spin_for(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass
