"""GIL contention: two CPU-bound threads in pure Python, each holding the GIL about half the
time; ready.json maps each thread's name to its tid. Pass "switch SECONDS" to hand the GIL over
that often instead of every 5 ms (sys.setswitchinterval)."""
import sys
import threading
import time

import _wl

tids = {}
if len(sys.argv) > 2 and sys.argv[1] == "switch":
    sys.setswitchinterval(float(sys.argv[2]))


def burn_a():
    tids["a"] = _wl.native_tid()
    x = 0
    while True:
        x += 1


def burn_b():
    tids["b"] = _wl.native_tid()
    x = 0
    while True:
        x += 1


threading.Thread(target=burn_a, name="burn-a", daemon=True).start()
threading.Thread(target=burn_b, name="burn-b", daemon=True).start()
while len(tids) < 2:
    time.sleep(0.01)
_wl.ready(tids=tids)
while True:
    time.sleep(1)
