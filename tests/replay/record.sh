#!/bin/bash
# Records the replay fixtures (tests/fixtures/replay/LABEL.rec.gz) of every CPython on this
# machine, or of the LABELs given: runs tests/replay/workloads/stacks.py under each, waits until
# its threads are in place, then `pyprof-replay record` stops it, reads it and saves. Root.
# Usage: tests/replay/record.sh PYPROF_REPLAY [LABEL...]
set -u
cd "$(dirname "$0")/../.."
BIN=$1
shift
OUT=${REPLAY_OUT:-tests/fixtures/replay}
SID=${SID_ROOT:-build/sid-root}
# one fixed path for the workload, so the recorded file names do not depend on the checkout
WL=/tmp/pyprof-replay/stacks.py

# LABEL ROOT INTERPRETER: ROOT is / or a chroot holding the interpreter
interpreters() {
	local v
	for v in 6 7 8 9 10 11 12 13; do
		for py in /root/.pyenv/versions/3.$v.*/bin/python3.$v; do
			[ -x "$py" ] && echo "3.$v-shared / $py"
		done
	done
	[ -x /usr/bin/python3.11 ] && echo "3.11-static / /usr/bin/python3.11"
	for v in 14 15; do
		[ -x "$SID/usr/bin/python3.$v" ] && echo "3.$v-sid $SID /usr/bin/python3.$v"
	done
}

record() {
	local label=$1 root=$2 py=$3 dir pid n i rc
	dir=$(mktemp -d /tmp/pyprof-replay-rec.XXXXXX)
	mkdir -p "$root/tmp/pyprof-replay"
	cp tests/replay/workloads/stacks.py "$root$WL"
	rm -f "$root/tmp/pyprof-replay/expect"
	if [ "$root" = / ]; then
		"$py" "$WL" /tmp/pyprof-replay/expect >"$dir/log" 2>&1 &
	else
		chroot "$root" "$py" "$WL" /tmp/pyprof-replay/expect >"$dir/log" 2>&1 &
	fi
	pid=$!
	for i in $(seq 300); do
		[ -e "$root/tmp/pyprof-replay/expect" ] && break
		kill -0 $pid 2>/dev/null || break
		sleep 0.1
	done
	rc=1
	if [ -e "$root/tmp/pyprof-replay/expect" ]; then
		n=$(sed -n 's/^tasks\t//p' "$root/tmp/pyprof-replay/expect")
		# the reporter thread is gone, and the spinner has the GIL to itself
		for i in $(seq 100); do
			[ "$(ls /proc/$pid/task | wc -l)" = "$n" ] && break
			sleep 0.05
		done
		sleep 0.3
		"$BIN" record --pid $pid --expect "$root/tmp/pyprof-replay/expect" --label "$label" \
			--out "$OUT/$label.rec.gz"
		rc=$?
	else
		echo "record: $label: the workload did not get in place" >&2
		cat "$dir/log" >&2
	fi
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	rm -rf "$dir"
	return $rc
}

mkdir -p "$OUT"
status=0
while read -r label root py; do
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$label"; then
		continue
	fi
	record "$label" "$root" "$py" || status=1
done < <(interpreters)
exit $status
