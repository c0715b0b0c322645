#!/bin/bash
# The `sanitize` tier: the userspace code built with AddressSanitizer + UndefinedBehaviorSanitizer
# (build/asan/, made by `make asan`): every unit test, then a short end-to-end run of both
# binaries: a snapshot of a live Python process (on-CPU with kernel stacks, then wall-clock),
# convert/diff/merge of the fixtures in every format, --check-config of every config fixture,
# and a daemon that writes windows, answers agentctl status and exits on SIGTERM (its leak check
# runs at exit). Any sanitizer report fails the step it came from. One closing summary line.
set -u
cd "$(dirname "$0")/.."
ASAN=${ASAN:-build/asan}
PYTHON_TARGET=${PYTHON_TARGET:-$(ls -d /root/.pyenv/versions/3.1[0-9]*/bin/python3.1[0-9] \
	2>/dev/null | sort -V | tail -1)}
PYTHON_TARGET=${PYTHON_TARGET:-/usr/bin/python3}
# halt on the first report; LeakSanitizer on (exit-time leaks of every binary are reports too)
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=99:${ASAN_EXTRA:-}
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=98
export LSAN_OPTIONS=exitcode=97
REPORT='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)'

work=$(mktemp -d)
passed=0 failed=0
target=
daemon=
cleanup() {
	[ -n "$target" ] && kill "$target" 2>/dev/null
	[ -n "$daemon" ] && kill -9 "$daemon" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# check NAME EXPECTED_RC CMD...: runs CMD; passes if it exits EXPECTED_RC ("any": anything but
# a crash) with no sanitizer report on stderr.
check() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$work/out" 2>"$work/err"
	rc=$?
	if grep -qE "$REPORT" "$work/err"; then
		echo "sanitize: FAIL $name: sanitizer report"
		grep -E -A12 "$REPORT" "$work/err" | head -30
		failed=$((failed + 1))
	elif { [ "$want" = any ] && [ "$rc" -ge 90 ]; } ||
		{ [ "$want" != any ] && [ "$rc" -ne "$want" ]; }; then
		echo "sanitize: FAIL $name: exit $rc, expected $want"
		tail -5 "$work/err"
		failed=$((failed + 1))
	else
		echo "sanitize: ok   $name"
		passed=$((passed + 1))
	fi
}

# 1. unit tests (run-unit.sh prints their own counts; added to ours below)
unit_out=$(tests/run-unit.sh "$ASAN"/tests/test_* 2>&1)
echo "$unit_out" | grep -E "$REPORT|FAILED|exited|^unit:" | head -40
if echo "$unit_out" | grep -qE "$REPORT"; then
	echo "sanitize: FAIL unit tests: sanitizer report"
	echo "$unit_out" | grep -E -A12 "$REPORT" | head -30
	failed=$((failed + 1))
fi
line=$(echo "$unit_out" | grep -E '^unit: [0-9]+ passed' | tail -1)
passed=$((passed + $(echo "$line" | sed -n 's/^unit: \([0-9]*\) passed.*/\1/p')))
failed=$((failed + $(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')))

# 2. a live snapshot, each mode the daemon and agentctl share
"$PYTHON_TARGET" tests/workloads/busy.py 0 >/dev/null 2>&1 & # runs until cleanup
target=$!
sleep 1
check "snapshot --kernel --threads (pid $target, $PYTHON_TARGET)" 0 \
	"$ASAN/agentctl" snapshot --pid "$target" --duration 2 --threads --kernel \
	--socket "$work/none.sock" -o "$work/snap.folded"
check "snapshot --mode wall --format pprof" 0 \
	"$ASAN/agentctl" snapshot --pid "$target" --duration 1 --mode wall --format pprof \
	--socket "$work/none.sock" -o "$work/snap.pb.gz"
check "snapshot of a non-Python process" 4 "$ASAN/agentctl" snapshot --pid $$ --duration 1 \
	--socket "$work/none.sock"

# 3. stored profiles: every reader and writer
for f in tests/fixtures/folded/mixed.folded tests/fixtures/folded/threads-3.12.folded.gz \
	"$work/snap.folded" "$work/snap.pb.gz"; do
	for fmt in folded pprof speedscope svg; do
		check "convert $(basename "$f") --format $fmt" 0 \
			"$ASAN/agentctl" convert "$f" --format "$fmt" -o "$work/conv.$fmt"
	done
done
for f in tests/fixtures/folded/no-count.folded tests/fixtures/folded/garbage.bin \
	tests/fixtures/folded/truncated.folded.gz; do
	check "convert $(basename "$f") (malformed)" 1 \
		"$ASAN/agentctl" convert "$f" --format folded -o "$work/x"
done
check "diff" 0 "$ASAN/agentctl" diff tests/fixtures/folded/mixed.folded "$work/snap.folded"
check "diff --format svg" 0 "$ASAN/agentctl" diff tests/fixtures/folded/threads-3.12.folded \
	tests/fixtures/folded/mixed.folded --format svg -o "$work/diff.svg"
check "merge" 0 "$ASAN/agentctl" merge tests/fixtures/folded/mixed.folded \
	tests/fixtures/folded/threads-3.12.folded.gz "$work/snap.folded" -o "$work/merged.folded"

# 4. configuration: every fixture, accepted or rejected
for f in tests/fixtures/config/*.yaml config/agent.yaml; do
	check "--check-config $(basename "$f")" any "$ASAN/pyprof-agent" --check-config "$f"
done

# 5. the daemon: windows written, status answered, clean exit (leak check at exit)
mkdir -p "$work/profiles"
cat >"$work/agent.yaml" <<YAML
sampling:
  frequency_hz: 99
targets:
  all_python: false
  pids: [$target]
window:
  seconds: 1
output:
  directory: $work/profiles
  formats: [folded, pprof]
control:
  socket: $work/agent.sock
host:
  name: sanitize
YAML
"$ASAN/pyprof-agent" --config "$work/agent.yaml" 2>"$work/daemon.err" &
daemon=$!
for _ in $(seq 100); do [ -S "$work/agent.sock" ] && break; sleep 0.1; done
sleep 2.5
check "agentctl status (daemon)" 0 "$ASAN/agentctl" status --socket "$work/agent.sock"
check "agentctl snapshot through the daemon" 0 \
	"$ASAN/agentctl" snapshot --pid "$target" --duration 1 --socket "$work/agent.sock" \
	-o "$work/via-daemon.folded"
kill -TERM "$daemon"
wait "$daemon"
rc=$?
daemon=
windows=$(ls "$work/profiles" | grep -c '_cpu.folded$')
if grep -qE "$REPORT" "$work/daemon.err"; then
	echo "sanitize: FAIL daemon: sanitizer report"
	grep -E -A12 "$REPORT" "$work/daemon.err" | head -30
	failed=$((failed + 1))
elif [ "$rc" -ne 0 ] || [ "$windows" -lt 2 ]; then
	echo "sanitize: FAIL daemon: exit $rc, $windows windows written"
	tail -5 "$work/daemon.err"
	failed=$((failed + 1))
else
	echo "sanitize: ok   daemon ($windows windows, exit 0)"
	passed=$((passed + 1))
fi

echo "sanitize: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
