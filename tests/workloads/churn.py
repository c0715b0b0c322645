"""Process churn: starts RATE short-lived CPython processes per second for SECONDS, each spinning
5 ms then sleeping 1 s (so a profiler sees it both on and off the CPU) and exiting; reaps them as
they go, waits for the last, and writes a JSON summary to OUT.

    churn.py PYTHON RATE SECONDS OUT

Every child's command line ends with "churn-child", for target selection by cmdline_regex.
Runs under any Python 3 (the test's); the children run under PYTHON, with -S for a quick start.
"rate" in the summary is children started per second while starting them.
"""
import json
import os
import sys
import time

CHILD = ("import time\n"
         "t = time.time()\n"
         "while time.time() - t < 0.005:\n"
         "    pass\n"
         "time.sleep(1.0)\n")


WORKERS = 4  # posix_spawn holds the GIL until the child has exec'd: spawn from a few processes


def worker(k, python, rate, seconds, start, wfd):
    """Spawns the children of slots k, k + WORKERS, ...; reaps its own; reports on wfd."""
    argv = [python, "-S", "-c", CHILD, "churn-child"]
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    alive, spawned, failed, most = set(), 0, 0, 0

    def reap(block=False):
        while alive:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
            if not pid:
                return
            alive.discard(pid)

    for i in range(k, int(rate * seconds), WORKERS):
        while True:
            reap()
            delay = start + i / rate - time.monotonic()
            if delay <= 0:
                break
            time.sleep(min(delay, 0.01))
        try:
            alive.add(os.posix_spawn(python, argv, os.environ, file_actions=actions))
            spawned += 1
        except OSError:
            failed += 1
        most = max(most, len(alive))
    while alive:
        reap(block=True)
    os.write(wfd, json.dumps([spawned, failed, most]).encode())
    os._exit(0)


def main():
    python, rate, seconds, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    start = time.monotonic() + 0.1
    readers = []
    for k in range(WORKERS):
        r, w = os.pipe()
        if os.fork() == 0:
            os.close(r)
            worker(k, python, rate, seconds, start, w)
        os.close(w)
        readers.append(r)
    spawned = failed = most = 0
    for r in readers:
        data = b""
        while True:
            b = os.read(r, 4096)
            if not b:
                break
            data += b
        s, f, m = json.loads(data.decode())
        spawned, failed, most = spawned + s, failed + f, most + m
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    took = time.monotonic() - start
    with open(out + ".tmp", "w") as f:
        json.dump({"spawned": spawned, "failed": failed, "seconds": took,
                   "rate": spawned / (took - 1.0) if took > 1.0 else 0, "max_alive": most}, f)
    os.rename(out + ".tmp", out)


main()
