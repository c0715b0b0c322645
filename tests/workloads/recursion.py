"""Deep recursion: thread "deep" recurses DEEP frames of recurse() and the main thread SHALLOW frames,
then both spin in spin_bottom(). ready.json maps deep/main to their tids once both are at the bottom."""
import sys
import threading
import time

import _wl

DEEP = 1500
SHALLOW = 1000
sys.setrecursionlimit(5000)
reached = {}


def spin_bottom(tag):
    reached[tag] = _wl.native_tid()
    while True:
        pass


def recurse(n, tag):
    # n frames of recurse() in all, then spin_bottom() as the leaf.
    if n > 1:
        recurse(n - 1, tag)  # RECURSE-CALL
    else:
        spin_bottom(tag)  # BOTTOM-CALL


def announce():
    while len(reached) < 2:
        time.sleep(0.01)
    _wl.ready(tids=reached, deep=DEEP, shallow=SHALLOW)


for name, target, args in (("deep", recurse, (DEEP, "deep")), ("announcer", announce, ())):
    t = threading.Thread(target=target, args=args, name=name)
    t.daemon = True
    t.start()
recurse(SHALLOW, "main")
