"""A parent that sleeps, and after argv[1] seconds forks a child (no exec) that spins in
forked_child_work() for argv[2] seconds and exits; the parent waits for it, then sleeps until
killed. For following a process tree: the child appears during the profile."""
import os
import sys
import time

import _wl


def forked_child_work(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        for i in range(10000):
            x += i
    return x


def parent_main(delay, seconds):
    _wl.ready()
    time.sleep(delay)
    pid = os.fork()
    if pid == 0:
        forked_child_work(seconds)
        os._exit(0)
    _wl.write_json("forker.json", {"child": pid})
    os.waitpid(pid, 0)
    while True:
        time.sleep(1)


parent_main(float(sys.argv[1]), float(sys.argv[2]))
