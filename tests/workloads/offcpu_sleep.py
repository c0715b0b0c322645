"""Off-CPU: a thread sleeping 0.1 s in a loop next to a CPU-bound thread. On SIGUSR1 it writes
sleeps.json: the (start, end) CLOCK_MONOTONIC times of every sleep so far, as the sleeper saw
them (time.sleep returns once it holds the GIL again, so they include that wait)."""
import signal
import threading
import time

import _wl

sleeps = []


def sleeper():
    while True:
        t0 = time.monotonic()
        time.sleep(0.1)  # marker: sleep call
        sleeps.append((t0, time.monotonic()))


def spinner():
    x = 0
    while True:
        x += 1


def dump(signum, frame):
    _wl.write_json("sleeps.json", {"sleeps": list(sleeps)})


signal.signal(signal.SIGUSR1, dump)
tids = {}
t = threading.Thread(target=lambda: (tids.update(sleeper=_wl.native_tid()), sleeper()),
                     name="sleeper", daemon=True)
t.start()
while "sleeper" not in tids:
    time.sleep(0.01)
_wl.ready(sleeper_tid=tids["sleeper"])
spinner()
