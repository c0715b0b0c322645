"""Lock contention: four threads take turns holding one threading.Lock for 20 ms of sleep, so
each spends most of its time in acquire()."""
import threading
import time

import _wl

lock = threading.Lock()


def contend():
    while True:
        lock.acquire()  # marker: acquire call
        try:
            time.sleep(0.02)
        finally:
            lock.release()


for i in range(4):
    threading.Thread(target=contend, name="contender-%d" % i, daemon=True).start()
_wl.ready()
while True:
    time.sleep(1)
