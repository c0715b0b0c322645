#!/bin/bash
# `make test-kernels`: the kernel matrix. Fetches the Debian kernels (fetch.sh), boots each
# under qemu (boot.sh) and runs guest-checks.py in it against the agent built in $PYPROF_BUILD
# (default: the repository's build/), then prints a table kernel x check, the off-CPU ways each
# kernel used, every failure's reason, and the line
#   make test-kernels: N passed, N failed, N skipped
# Exit status 1 when any check failed, or a kernel could not be fetched or booted (each of its
# checks then counts as failed, with the reason): every cell is expected to pass.
# KERNELS_SERIES (default "5.10 6.1 6.12 sid") picks kernels; logs stay in build/kernels/results/.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
HERE=tests/kernels
export PYPROF_BUILD=${PYPROF_BUILD:-$REPO/build}
KDIR=${KERNELS_DIR:-$REPO/build/kernels}
SERIES=(${KERNELS_SERIES:-5.10 6.1 6.12 sid})
CHECKS=(snapshot-3.12 snapshot-3.11 offcpu ways daemon status)
# each boot: at most 7 min, and 3 min to reach the checks (one retry): the matrix stays < 30 min
export BOOT_TIMEOUT=${BOOT_TIMEOUT:-420} BOOT_START_TIMEOUT=${BOOT_START_TIMEOUT:-180}
bpid=""
trap '[ -z "$bpid" ] || kill "$bpid" 2>/dev/null; exit 130' INT
trap '[ -z "$bpid" ] || kill "$bpid" 2>/dev/null; exit 143' TERM

# a missing prerequisite fails every cell, with the reason
none_ran() {
	echo "run-matrix: $*" >&2
	echo "make test-kernels: 0 passed, $((${#SERIES[@]} * ${#CHECKS[@]})) failed, 0 skipped"
	exit 1
}
for b in "$PYPROF_BUILD/agentctl" "$PYPROF_BUILD/pyprof-agent"; do
	[ -x "$b" ] || none_ran "$b not built (make all)"
done
for t in qemu-system-x86_64 cpio busybox modprobe depmod zstd xz apt-get gpgv; do
	command -v "$t" >/dev/null || none_ran "$t not found (make test-kernels installs its packages)"
done

mkdir -p "$KDIR/results"
declare -A cell reason version secs ways died
t_all=$SECONDS
for s in "${SERIES[@]}"; do
	echo "== kernel $s"
	res=$KDIR/results/$s
	rm -rf "$res"; mkdir -p "$res"
	t0=$SECONDS
	if ! "$HERE/fetch.sh" "$s" 2>&1 | tee "$res/fetch.log"; then
		version[$s]="?"; secs[$s]=$((SECONDS - t0))
		why=$(grep -E '^fetch: ' "$res/fetch.log" | tail -1)
		for c in "${CHECKS[@]}"; do cell[$s,$c]=FAIL reason[$s,$c]="kernel not available: ${why:-fetch.sh failed}"; done
		continue
	fi
	version[$s]=$(cat "$KDIR/$s/version")
	# A guest whose kernel dies while the checks run is booted once more, and that is said. Under
	# TCG the guest's kernel has died of an "Oops: int3" at the site of a tracepoint being
	# switched on (6.12, __rseq_handle_notify_resume, seen once so far): another vCPU ran
	# a stale translation of the code being patched, which hardware does not do. A kernel that
	# dies twice fails its checks, with the log of its death.
	for attempt in 1 2; do
		rm -f "$res/checks.tsv"
		BOOT_RESULTS=$res BOOT_LOG=$res/console.log "$HERE/boot.sh" "$s" \
			/usr/bin/python3.11 "$HERE/guest-checks.py" --out /tmp/results/checks.tsv \
			> >(tee "$res/guest.log") 2>&1 &
		bpid=$!
		wait "$bpid" || true
		bpid=""
		sleep 0.2 # tee's last lines
		[ "$attempt" = 1 ] && grep -q 'the guest died while the command ran' "$res/guest.log" || break
		mv "$res/guest.log" "$res/died.log"
		cp "$res/console.log" "$res/died-console.log"
		died[$s]=$(grep -m1 -E 'Oops|BUG:|panic' "$res/died-console.log" | sed 's/^\[ *[0-9.]*\] //')
		died[$s]="${died[$s]:-no oops in its log}, $(grep -m1 -oE 'RIP: 0010:[^ ]+' \
			"$res/died-console.log" || echo 'no RIP in its log')"
		echo "== kernel $s: the guest died while the checks ran (${died[$s]}); booting it again"
	done
	touch "$res/checks.tsv" # a guest that died before its first check wrote none
	rc=$(grep -oE 'command exited [0-9]+ after' "$res/guest.log" | grep -oE '[0-9]+' | head -1 || true)
	secs[$s]=$((SECONDS - t0))
	boot_err=""
	[ -n "$rc" ] || boot_err=$(grep -E '^boot.sh: ' "$res/guest.log" | grep -v 'qemu said' | tail -1 || true)
	for c in "${CHECKS[@]}"; do
		line=$(awk -F'\t' -v c="$c" '$1 == "RESULT" && $2 == c' "$res/checks.tsv" 2>/dev/null | tail -1)
		if [ -n "$line" ]; then
			cell[$s,$c]=$(cut -f3 <<<"$line")
			reason[$s,$c]=$(cut -f4 <<<"$line")
		else
			cell[$s,$c]=FAIL
			reason[$s,$c]="no result: ${boot_err:-guest checks exited ${rc:-?} before this check}"
		fi
	done
	ways[$s]=$(awk -F'\t' '$1 == "INFO" && $2 == "status" && $3 ~ /^(on|off)-CPU/ {print $3}' "$res/checks.tsv" 2>/dev/null | paste -sd ';' | sed 's/;/; /g')
	[ -n "${ways[$s]}" ] || ways[$s]=$(awk -F'\t' '$1 == "INFO" && $2 == "snapshot-ways" {print "off-CPU (snapshot): " $3}' "$res/checks.tsv" 2>/dev/null | tail -1)
	[ -n "${ways[$s]}" ] || ways[$s]="off-CPU: (not reported)"
done

# ---- the table -----------------------------------------------------------------------------------
passed=0 failed=0 skipped=0
echo
echo "Kernel matrix ($PYPROF_BUILD), $((SECONDS - t_all)) s in all"
printf '%-6s %-22s' kernel release; printf ' %-13s' "${CHECKS[@]}"; printf ' %5s\n' time
for s in "${SERIES[@]}"; do
	printf '%-6s %-22s' "$s" "${version[$s]}"
	for c in "${CHECKS[@]}"; do
		printf ' %-13s' "${cell[$s,$c]}"
		case ${cell[$s,$c]} in
		PASS) passed=$((passed + 1)) ;;
		SKIP) skipped=$((skipped + 1)) ;;
		*) failed=$((failed + 1)) ;;
		esac
	done
	printf ' %4ss\n' "${secs[$s]}"
done
echo
for s in "${SERIES[@]}"; do printf '%-6s %s\n' "$s" "${ways[$s]:-off-CPU: (kernel not booted)}"; done
if [ "$failed" -gt 0 ] || [ "$skipped" -gt 0 ]; then
	echo
	for s in "${SERIES[@]}"; do
		for c in "${CHECKS[@]}"; do
			[ "${cell[$s,$c]}" = PASS ] || printf '%s %s %s: %s\n' "${cell[$s,$c]}" "$s" "$c" "${reason[$s,$c]}"
		done
	done
	echo "(logs: $KDIR/results/SERIES/{guest,console}.log)"
fi
for s in "${SERIES[@]}"; do
	[ -z "${died[$s]:-}" ] || printf 'NOTE %s: the guest died once while the checks ran (%s) and was booted again (logs: %s)\n' \
		"$s" "${died[$s]}" "$KDIR/results/$s/died{,-console}.log"
done
echo "make test-kernels: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
