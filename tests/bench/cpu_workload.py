"""CPU-bound benchmark workload: spins at a chosen Python stack depth for a fixed time and prints
the work done per second. Usage: cpu_workload.py SECONDS DEPTH [distinct]: the stack is one
function recursing, or with "distinct" a chain of DEPTH different functions (a code object
each, as in real stacks)."""
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


def distinct_chain(depth):
    """chain_<depth-1> -> ... -> chain_1 -> at_depth(1): depth frames, each its own code."""
    ns = {"at_depth": at_depth}
    src = ["def chain_1(deadline):\n    return at_depth(1, deadline)\n"]
    for i in range(2, depth):
        src.append("def chain_%d(deadline):\n    return chain_%d(deadline)\n" % (i, i - 1))
    exec(compile("".join(src), "chain.py", "exec"), ns)
    return ns["chain_%d" % (depth - 1)] if depth > 1 else (lambda d: at_depth(1, d))


def main():
    seconds = float(sys.argv[1])
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    distinct = len(sys.argv) > 3 and sys.argv[3] == "distinct"
    sys.setrecursionlimit(depth + 100)
    start = time.monotonic()
    if distinct:
        done = distinct_chain(depth)(start + seconds)
    else:
        done = at_depth(depth, start + seconds)
    print("%.1f" % (done / (time.monotonic() - start)))


if __name__ == "__main__":
    main()
