"""Ground truth for CPU shares: three CPU-bound functions called in an interleaved loop in one thread.
SIGUSR1 starts measuring each function's thread CPU time, SIGUSR2 writes the measured shares of the
CPU time since SIGUSR1 to shares.json and exits."""
import random
import signal

import _wl

CHUNK = 300  # loop iterations per work unit: one pass of the main loop takes about a millisecond


# Each call's length is drawn at random (0.5 to 1.5 times its mean): a main loop of fixed
# period near the sampling period (about 1 ms, against 997 Hz) would stay in phase with the
# sampler for seconds and skew the shares (seen once in CI: 3.5 points on one function).
def share_heavy():
    x = 1
    for i in range(int(5 * CHUNK * random.uniform(0.5, 1.5))):
        x = (x * 31 + i) % 1000003
    return x


def share_medium():
    x = 1
    for i in range(int(3 * CHUNK * random.uniform(0.5, 1.5))):
        x = (x * 31 + i) % 1000003
    return x


def share_light():
    x = 1
    for i in range(int(2 * CHUNK * random.uniform(0.5, 1.5))):
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
