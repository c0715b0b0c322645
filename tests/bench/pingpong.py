"""Switch-heavy benchmark workload: two threads ping-pong one byte over a pair of pipes for a
fixed time; prints round trips per second (each is two context switches at least).
Usage: pingpong.py SECONDS"""
import os
import sys
import threading
import time


def main():
    seconds = float(sys.argv[1])
    a_r, a_w = os.pipe()
    b_r, b_w = os.pipe()
    stop = [False]

    def echo():
        while True:
            data = os.read(a_r, 1)
            if data == b"q":
                return
            os.write(b_w, data)

    t = threading.Thread(target=echo)
    t.start()
    n = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        os.write(a_w, b"x")
        os.read(b_r, 1)
        n += 1
    elapsed = time.monotonic() - start
    os.write(a_w, b"q")
    t.join()
    print("%.1f" % (n / elapsed))


if __name__ == "__main__":
    main()
