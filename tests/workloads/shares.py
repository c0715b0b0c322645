"""Ground truth for CPU shares: three CPU-bound functions called in an interleaved loop in one thread.
SIGUSR1 starts measuring each function's thread CPU time, SIGUSR2 writes the measured shares of the
CPU time since SIGUSR1 to shares.json and exits."""
import signal

import _wl

CHUNK = 300  # loop iterations per work unit: one pass of the main loop takes about a millisecond


def share_heavy():
    x = 1
    for i in range(5 * CHUNK):
        x = (x * 31 + i) % 1000003
    return x


def share_medium():
    x = 1
    for i in range(3 * CHUNK):
        x = (x * 31 + i) % 1000003
    return x


def share_light():
    x = 1
    for i in range(2 * CHUNK):
        x = (x * 31 + i) % 1000003
    return x


FUNCS = (share_heavy, share_medium, share_light)
flags = {"start": False, "stop": False}


def on_usr1(signum, frame):
    flags["start"] = True


def on_usr2(signum, frame):
    flags["stop"] = True


def main():
    clock = _wl.thread_cpu_time
    signal.signal(signal.SIGUSR1, on_usr1)
    signal.signal(signal.SIGUSR2, on_usr2)
    spent = dict((f.__name__, 0.0) for f in FUNCS)
    measuring = False
    t_start = 0.0
    _wl.ready()
    while True:
        if flags["start"] and not measuring:
            measuring = True
            t_start = clock()
        for f in FUNCS:
            t0 = clock()
            f()
            if measuring:
                spent[f.__name__] += clock() - t0
        if flags["stop"] and measuring:
            total = clock() - t_start
            _wl.write_json("shares.json", {
                "cpu_seconds": total,
                "shares": dict((name, s / total) for name, s in spent.items()),
            })
            return


main()
