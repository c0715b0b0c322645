#!/bin/bash
# libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by the Makefile into build/fuzz/).
#
#   run.sh fuzz DIR SECONDS TARGET...   fuzz each target for SECONDS; new inputs that cover new
#                                       code go to DIR/work/TARGET (scratch), crashes, leaks,
#                                       timeouts and out-of-memory inputs to tests/fuzz/corpus/
#                                       TARGET/ (kept: fuzz-replay guards them from then on)
#   run.sh replay DIR TARGET...         run every file of tests/fuzz/corpus/TARGET/ once through
#                                       its harness: one closing "N passed, N failed" line,
#                                       counting files
set -u
cd "$(dirname "$0")/../.."
mode=${1:?usage: run.sh fuzz|replay DIR [SECONDS] TARGET...}
dir=${2:?build directory of the harnesses}
shift 2
corpus=tests/fuzz/corpus
# Per-input limits: a hang or a runaway allocation is a finding, like a crash.
limits=(-timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=1024)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

case $mode in
fuzz)
	seconds=${1:?seconds}
	shift
	status=0
	for t in "$@"; do
		mkdir -p "$dir/work/$t" "$corpus/$t"
		before=$(ls "$corpus/$t" | wc -l)
		echo "== fuzz $t for ${seconds}s"
		"$dir/fuzz_$t" -max_total_time="$seconds" -max_len=16384 "${limits[@]}" \
			-artifact_prefix="$corpus/$t/" -print_final_stats=1 \
			"$dir/work/$t" "$corpus/$t" >"$dir/work/$t.log" 2>&1
		rc=$?
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)' \
			"$dir/work/$t.log" | tail -3
		after=$(ls "$corpus/$t" | wc -l)
		if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
			status=1
			echo "fuzz $t: FAILED (exit $rc); new findings in $corpus/$t:"
			ls -t "$corpus/$t" | head -$((after - before > 0 ? after - before : 1))
			grep -E 'ERROR|SUMMARY|runtime error' "$dir/work/$t.log" | head -5
			echo "full log: $dir/work/$t.log"
		fi
	done
	exit $status
	;;
replay)
	passed=0 failed=0
	log=$(mktemp)
	for t in "$@"; do
		files=("$corpus/$t"/*)
		if [ ! -e "${files[0]}" ]; then
			echo "fuzz-replay $t: no corpus in $corpus/$t"
			failed=$((failed + 1))
			continue
		fi
		# one process for the whole corpus; on a failure, file by file to name each culprit
		if "$dir/fuzz_$t" "${limits[@]}" "${files[@]}" >"$log" 2>&1; then
			passed=$((passed + ${#files[@]}))
			echo "fuzz-replay $t: ${#files[@]} inputs ok"
			continue
		fi
		for f in "${files[@]}"; do
			if "$dir/fuzz_$t" "${limits[@]}" "$f" >"$log" 2>&1; then
				passed=$((passed + 1))
			else
				failed=$((failed + 1))
				echo "fuzz-replay $t: FAILED on $f"
				grep -E 'ERROR|SUMMARY|runtime error|^    #[0-5] ' "$log" | head -12
			fi
		done
	done
	rm -f "$log"
	echo "fuzz-replay: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	;;
*)
	echo "usage: run.sh fuzz|replay DIR [SECONDS] TARGET..." >&2
	exit 2
	;;
esac
