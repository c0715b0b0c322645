"""CPU-bound benchmark workload: spins at a chosen Python stack depth for a fixed time and prints
the work done per second. Usage: cpu_workload.py SECONDS DEPTH"""
import sys
import time


def work(n):
    x = 0
    for i in range(n):
        x = (x * 31 + i) % 1000003
    return x


def at_depth(depth, deadline):
    if depth > 1:
        return at_depth(depth - 1, deadline)
    done = 0
    while time.monotonic() < deadline:
        work(2000)
        done += 1
    return done


def main():
    seconds = float(sys.argv[1])
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    sys.setrecursionlimit(depth + 100)
    start = time.monotonic()
    done = at_depth(depth, start + seconds)
    print("%.1f" % (done / (time.monotonic() - start)))


if __name__ == "__main__":
    main()
