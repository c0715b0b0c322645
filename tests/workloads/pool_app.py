"""agentctl record --subprocesses: a multiprocessing.Pool of 4 workers, each spinning in its own
function for a different time, then exiting 3. Each worker measures its own CPU time in that
function and the parent writes them to $E2E_WORKDIR/pool.json: the profile's shares of the
four functions must match these."""
import json
import multiprocessing
import os
import sys
import time


def spin(seconds):
    t0 = time.process_time()
    n = 0
    while time.process_time() - t0 < seconds:
        n += 1
    return time.process_time() - t0


def alpha_work(s):
    return spin(s)


def beta_work(s):
    return spin(s)


def gamma_work(s):
    return spin(s)


def delta_work(s):
    return spin(s)


WORK = [alpha_work, beta_work, gamma_work, delta_work]


def run(i):
    return os.getpid(), WORK[i].__name__, WORK[i](0.4 * (i + 1))


if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1] if len(sys.argv) > 1 else "fork")
    with ctx.Pool(4) as pool:
        got = pool.map(run, range(4), chunksize=1)
    with open(os.path.join(os.environ.get("E2E_WORKDIR", "."), "pool.json"), "w") as f:
        json.dump([{"pid": p, "function": fn, "cpu_s": s} for p, fn, s in got], f)
    sys.exit(3)
