"""dump_threads: eight threads in known states for `agentctl dump` (tests/e2e/test_dump.py).

main (main_wait: sleeps, polling for the test's trigger file), holder (hold_lock: holds LOCK and
sleeps), waiter (wait_lock: blocked on LOCK), sleeper (sleep_leaf <- sleep_run: time.sleep),
spinner (spin_leaf <- spin_run: pure Python), compressor (compress_leaf <- compress_run:
zlib.compress of 8 MiB, which releases the GIL), reader (read_leaf <- read_run: blocked reading
an empty pipe) and ticker (tick_run: records time.monotonic() every 1 ms). threads.json gives
each role's native id and the workload's own functions of its stack, innermost first. When the
test creates WORKDIR/trigger, main writes ticks.json: the moments the ticker and the spinner
recorded (time.monotonic()) in about the last 4 s, sorted.

Those moments show whether the process was ever stopped: a stop freezes every thread, while
the GIL keeps only one of them waiting at a time (the ticker waits for the GIL while the spinner
holds it, and the spinner records its moments meanwhile). The ticker runs SCHED_FIFO, so other
CPU-bound threads do not keep it off a CPU for a time slice on this 2-CPU machine, and the GIL
changes hands within 1 ms.

Pass "exit SECONDS" to exit by itself after that long, threads coming and going meanwhile."""
import collections
import os
import sys
import threading
import time
import zlib

import _wl

sys.setswitchinterval(0.001)

LOCK = threading.Lock()
TICKS = collections.deque(maxlen=4000)
MOMENTS = collections.deque(maxlen=20000)  # the spinner's, a few every millisecond
THREADS = {}
STARTED = threading.Semaphore(0)


def register(role, functions):
    THREADS[role] = {"tid": _wl.native_tid(), "name": threading.current_thread().name,
                     "functions": functions}
    STARTED.release()


def hold_lock():
    with LOCK:
        register("holder", ["hold_lock"])
        while True:
            time.sleep(1000)


def wait_lock():
    while not LOCK.locked():
        time.sleep(0.001)
    register("waiter", ["wait_lock"])
    with LOCK:
        pass


def sleep_leaf():
    register("sleeper", ["sleep_leaf", "sleep_run"])
    while True:
        time.sleep(1000)


def sleep_run():
    sleep_leaf()


def spin_leaf(role):
    register(role, ["spin_leaf", "spin_run"])
    x = 0
    while True:
        x += 1
        if not x % 5000:
            MOMENTS.append(time.monotonic())


def spin_run(role):
    spin_leaf(role)


def compress_leaf():
    data = os.urandom(1 << 20) * 8
    register("compressor", ["compress_leaf", "compress_run"])
    while True:
        zlib.compress(data, 6)


def compress_run():
    compress_leaf()


def read_leaf():
    r, _w = os.pipe()
    register("reader", ["read_leaf", "read_run"])
    os.read(r, 1)


def read_run():
    read_leaf()


def tick_run():
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))  # this thread only
    except OSError as e:
        sys.stderr.write("ticker: no SCHED_FIFO (%s): gaps may include CPU waits\n" % e)
    register("ticker", ["tick_run"])
    while True:
        TICKS.append(time.monotonic())
        time.sleep(0.001)


def main_wait():
    trigger = os.path.join(_wl.WORKDIR, "trigger")
    while True:
        if os.path.exists(trigger):
            os.unlink(trigger)
            _wl.write_json("ticks.json", sorted(set(TICKS) | set(MOMENTS)))
        time.sleep(0.25)


def churn(seconds):
    """Threads that start and end until the deadline, then an exit without cleanup."""
    end = time.monotonic() + seconds
    _wl.ready()
    while time.monotonic() < end:
        ts = [threading.Thread(target=time.sleep, args=(0.002,)) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    os._exit(0)


def start(target, *args):
    t = threading.Thread(target=target, args=args, name=target.__name__)
    t.daemon = True
    t.start()


if len(sys.argv) > 2 and sys.argv[1] == "exit":
    churn(float(sys.argv[2]))
THREADS["main"] = {"tid": _wl.native_tid(), "name": threading.current_thread().name,
                   "functions": ["main_wait", "<module>"]}
start(hold_lock)
start(wait_lock)
start(sleep_run)
start(spin_run, "spinner")
start(compress_run)
start(read_run)
start(tick_run)
for _ in range(7):
    STARTED.acquire()
time.sleep(0.2)  # the waiter reaches its acquire, the compressor its first compress
_wl.write_json("threads.json", THREADS)
_wl.ready(tids={role: t["tid"] for role, t in THREADS.items()})
main_wait()
