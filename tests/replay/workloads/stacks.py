"""The workload recorded for the walker's replay tests (tests/replay/): threads in known states,
each described by CPython itself, so that a recording's expectations never come from the agent.

Threads, once in place (they stay there until the process is killed):
  main      waits on a lock, without the GIL
  spinner   runs Python in a loop on one line, holding the GIL
  sleeper   three calls deep in time.sleep(), without the GIL (the hostile cases mutate it)
  locked    waits on a lock, without the GIL
  deep      DEPTH recursive calls deep (more than the walker's frame budget) in time.sleep()
A reporter thread waits until each is on its marked line, writes EXPECT_FILE (by rename), then
exits. Lines of EXPECT_FILE, tab-separated, stacks innermost first:
  tasks N                              threads of the process once the reporter is gone
  thread ROLE IDENT GIL                threading.get_ident() (pthread_self(): the FS base on
                                       x86_64), GIL "held" or "released"
  frame NAME FILE LINE                 co_qualname (3.11+) or co_name, co_filename, f_lineno
Usage: python3.X stacks.py EXPECT_FILE
"""
import os
import sys
import threading
import time

EXPECT = sys.argv[1]
DEPTH = 1040  # frames of deep(): more than PYPROF_MAX_FRAMES (1024)
sys.setrecursionlimit(DEPTH + 500)

STOP = False
LOCK = threading.Lock()
LOCK.acquire()
MAIN_LOCK = threading.Lock()
MAIN_LOCK.acquire()
ROLES = {}  # ident -> role


def marked(func, mark):
    """The line of func's source holding the comment `# mark`."""
    code = func.__code__
    with open(code.co_filename) as f:
        for n, text in enumerate(f, 1):
            if n >= code.co_firstlineno and text.rstrip().endswith("# " + mark):
                return n
    raise RuntimeError("no %s line in %s" % (mark, func.__name__))


def spin():
    n = 0
    while not STOP: n += 1  # SPIN


def sleeper_leaf():
    time.sleep(1e6)  # SLEEP


def sleeper_middle():
    sleeper_leaf()


def sleeper_outer():
    sleeper_middle()


def locked():
    LOCK.acquire()  # LOCKED


def deep(n):
    if n > 1:
        return deep(n - 1)
    time.sleep(1e6)  # DEEP


def main_wait():
    MAIN_LOCK.acquire()  # MAIN


PLACES = {
    "spinner": (spin, "SPIN"),
    "sleeper": (sleeper_leaf, "SLEEP"),
    "locked": (locked, "LOCKED"),
    "deep": (deep, "DEEP"),
    "main": (main_wait, "MAIN"),
}


def name_of(code):
    return getattr(code, "co_qualname", code.co_name)


def in_place(frames, ident, role):
    func, mark = PLACES[role]
    f = frames.get(ident)
    return f is not None and f.f_code is func.__code__ and f.f_lineno == marked(func, mark)


def report():
    me = threading.get_ident()
    while True:
        frames = sys._current_frames()
        if all(in_place(frames, ident, role) for ident, role in ROLES.items()):
            break
        del frames
        time.sleep(0.01)
    lines = ["tasks\t%d" % len(ROLES)]
    for ident, role in sorted(ROLES.items(), key=lambda kv: kv[1]):
        lines.append("thread\t%s\t%d\t%s" % (role, ident, "held" if role == "spinner" else
                                                  "released"))
        f = frames[ident]
        while f is not None:
            code = f.f_code
            lines.append("frame\t%s\t%s\t%d" % (name_of(code), code.co_filename, f.f_lineno))
            f = f.f_back
    assert me not in ROLES
    del frames
    with open(EXPECT + ".tmp", "w") as out:
        out.write("\n".join(lines) + "\n")
    os.rename(EXPECT + ".tmp", EXPECT)


def start(role, target, *args):
    t = threading.Thread(target=target, args=args, name=role, daemon=True)
    t.start()
    ROLES[t.ident] = role


def main():
    ROLES[threading.get_ident()] = "main"
    start("spinner", spin)
    start("sleeper", sleeper_outer)
    start("locked", locked)
    start("deep", deep, DEPTH)
    threading.Thread(target=report, name="reporter", daemon=True).start()
    main_wait()


main()
