"""A plain CPU-bound process: busy_main() calls busy_leaf() in a loop, forever or for argv[1]
seconds, then exits."""
import sys
import time

import _wl


def busy_leaf():
    x = 0
    for i in range(20000):
        x += i
    return x


def busy_main(seconds):
    end = time.time() + seconds if seconds > 0 else None
    while end is None or time.time() < end:
        busy_leaf()


_wl.ready()
busy_main(float(sys.argv[1]) if len(sys.argv) > 1 else 0.0)
