"""Qualified names: a method, a nested function, a lambda inside a function, a module-level lambda,
a nested class's method and module-level code each spin in turn through spin()."""
import _wl

SLICE = 0.01


def spin():
    _wl.spin_for(SLICE)


class Worker(object):
    def run(self):
        spin()


def outer():
    def inner():
        spin()

    inner()


def make_lambda():
    f = lambda: spin()
    f()


module_lambda = lambda: spin()


class Outer(object):
    class Inner(object):
        def work(self):
            spin()


_wl.ready()
while True:
    Worker().run()
    outer()
    make_lambda()
    module_lambda()
    Outer.Inner().work()
    spin()
