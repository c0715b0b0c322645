"""A long steady phase, then new code for a moment, then the end: steady() runs for argv[1]
seconds of CPU time, then last_words(), which never ran before, for argv[2] seconds, then the
process exits. For naming code that is first sampled shortly before its process ends."""
import sys

import _wl


def steady():
    return _wl.spin()


def last_words():
    return _wl.spin()


def main():
    steady_s, last_s = float(sys.argv[1]), float(sys.argv[2])
    _wl.ready()
    end = _wl.thread_cpu_time() + steady_s
    while _wl.thread_cpu_time() < end:
        steady()
    end = _wl.thread_cpu_time() + last_s
    while _wl.thread_cpu_time() < end:
        last_words()


main()
