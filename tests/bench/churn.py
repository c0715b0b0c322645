"""make bench, churn: the end-to-end churn tests (tests/e2e/test_robustness.py) for
BENCH_CHURN_S (default 120) seconds of 50 short-lived CPython processes a second, with their
figures printed: processes started, the daemon's descriptors, RSS and BPF hash-map entries after
warm-up and at the end, windows written. Fails if the tests fail."""
import os
import subprocess
import sys

from common import REPO

SECONDS = os.environ.get("BENCH_CHURN_S", "120")


def main():
    env = dict(os.environ, CHURN_SECONDS=SECONDS)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-rxX",
                        "-p", "no:cacheprovider",
                        os.path.join(REPO, "tests", "e2e", "test_robustness.py"), "-k", "churn"],
                       env=env, cwd=REPO, capture_output=True, text=True)
    print("### Churn\n")
    print("50 short-lived CPython processes a second for %s s under the daemon.\n" % SECONDS)
    for line in r.stdout.splitlines():
        if line.startswith("churn:") or "passed" in line or "failed" in line or "XFAIL" in line \
                or "XPASS" in line:
            print("    " + line.strip(". "))
    print()
    if r.returncode != 0:
        print(r.stdout[-4000:])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
