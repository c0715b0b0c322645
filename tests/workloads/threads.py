"""Threads: eight threads named worker-0 .. worker-7, thread i spinning in func_i. ready.json maps
each thread name to its kernel tid."""
import threading
import time

import _wl


def func_0():
    x = 0
    while True:
        x += 1


def func_1():
    x = 0
    while True:
        x += 1


def func_2():
    x = 0
    while True:
        x += 1


def func_3():
    x = 0
    while True:
        x += 1


def func_4():
    x = 0
    while True:
        x += 1


def func_5():
    x = 0
    while True:
        x += 1


def func_6():
    x = 0
    while True:
        x += 1


def func_7():
    x = 0
    while True:
        x += 1


FUNCS = [func_0, func_1, func_2, func_3, func_4, func_5, func_6, func_7]
tids = {}


def start(name, func):
    def body():
        tids[name] = _wl.native_tid()
        func()

    t = threading.Thread(target=body, name=name)
    t.daemon = True
    t.start()


for i, func in enumerate(FUNCS):
    start("worker-%d" % i, func)
while len(tids) < len(FUNCS):
    time.sleep(0.01)
_wl.ready(tids=tids)
while True:
    time.sleep(1)
