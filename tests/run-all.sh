#!/bin/bash
# `make test`: the tiers (unit, offset tables, sanitizers, fuzz corpus replay, BPF + end-to-end),
# then one closing line.
# Each tier prints its own summary; this adds them up. Exit status is non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
logdir=$(mktemp -d)
passed=0 failed=0 skipped=0 status=0

tier() {
	local name=$1 log="$logdir/$1.log"
	shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	# the last "N passed" style summary of this tier
	local line
	line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -1)
	local p f s e
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || true)
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || true)
	s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+' || true)
	e=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+' || true)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0} + ${e:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ "$rc" -ne 0 ]; then
		status=1
		if [ -z "${f:-}" ] && [ -z "${e:-}" ]; then
			echo "$name: exited $rc without a failure count; counted as 1 failure"
			failed=$((failed + 1))
		fi
	fi
}

# The Debian sid root CPython 3.14 and 3.15 run in (tests/pythons/sid-root.sh): built once, then
# reused. If it cannot be built (mirror unreachable, ...) the offsets and e2e tiers skip those
# versions by name, with the reason; that is not a failure.
echo "== sid-root"
tests/pythons/sid-root.sh "$BUILD" ||
	echo "sid-root: unavailable; the CPython 3.14/3.15 cases will be skipped"
export SID_ROOT="$PWD/$BUILD/sid-root"
case $BUILD in /*) SID_ROOT="$BUILD/sid-root" ;; esac

tier unit tests/run-unit.sh "$BUILD"/tests/test_*
tier offsets tests/offsets/run.sh "$BUILD"
# ASan+UBSan build of the userspace code: unit tests and a short end-to-end run under it; then
# every file of tests/fuzz/corpus/ through its libFuzzer harness (each builds what it needs)
tier sanitize ${MAKE:-make} --no-print-directory BUILD="$BUILD" sanitize
tier fuzz-replay ${MAKE:-make} --no-print-directory BUILD="$BUILD" fuzz-replay
# the BPF walker compiled for userspace, replayed on recorded memory of every CPython
tier replay ${MAKE:-make} --no-print-directory BUILD="$BUILD" replay
tier e2e env AGENTCTL="$BUILD/agentctl" "$PYTHON" -m pytest -ra tests/e2e

rm -rf "$logdir"
echo "make test: $passed passed, $failed failed, $skipped skipped"
exit $status
