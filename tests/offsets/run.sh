#!/bin/sh
# Checks agent/python/pyoffsets.c against every CPython 3.x installed under $PYENV_ROOT/versions (and
# the system's, if its headers are installed, and Debian sid's 3.14 and 3.15 in BUILD_DIR/sid-root,
# see tests/pythons/sid-root.sh): the built-in table (3.6-3.13) against offsetof() in that
# version's own headers (probe.c), and for 3.13+ what the _Py_DebugOffsets parser makes of the
# bytes of _PyRuntime in its libpython against the same offsetof() (and the table, if any).
# Usage: tests/offsets/run.sh BUILD_DIR
set -u

BUILD=${1:?usage: $0 BUILD_DIR}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VERSIONS=${PYENV_ROOT:-/root/.pyenv}/versions
SYSTEM_INCLUDE=${SYSTEM_INCLUDE:-/usr/include}
SID_ROOT=${SID_ROOT:-$BUILD/sid-root}
SID_MINORS="14 15" # the sid root's interpreters (tests/pythons/sid-root.sh)
CC=${CC:-gcc}
OUT=$BUILD/offsets
TABLE_MINORS="6 7 8 9 10 11 12 13" # versions pyoffsets__table() knows
PROBE_MAX_MINOR=15                   # newest version probe.c knows
DEBUG_READ_SIZE=$(sed -n 's/^#define PYOFFSETS_DEBUG_READ_SIZE[ \t]*\([0-9]*\).*/\1/p' \
	"$ROOT/agent/python/pyoffsets.h")

passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
skip() { skipped=$((skipped + 1)); echo "skip $1"; }

mkdir -p "$OUT" || exit 1
if ! $CC -O1 -g -Wall -Wextra -std=gnu11 -I"$ROOT/include" -I"$ROOT/agent" \
	"$ROOT/tests/offsets/check.c" "$ROOT/agent/python/pyoffsets.c" -o "$OUT/check"; then
	echo "offsets: cannot build the checker"
	echo "offsets: 0 passed, 1 failed, 0 skipped"
	exit 1
fi

# Writes the first $3 bytes of symbol _PyRuntime of ELF file $1 to $2, from the section that
# holds its initialized contents (.PyRuntime in 3.13, .data otherwise).
extract_runtime() {
	sym=$(readelf -sW "$1" 2>/dev/null | awk '$8 == "_PyRuntime" { print $2, $7; exit }')
	[ -n "$sym" ] || { echo "no _PyRuntime symbol"; return 1; }
	# shellcheck disable=SC2086 # split into address and section index
	set -- "$1" "$2" "$3" $sym
	sec=$(readelf -SW "$1" | sed -n 's/^ *\[ *\([0-9]*\)\]/\1/p' |
		awk -v n="$5" '$1 == n { print $3, $4, $5; exit }')
	# shellcheck disable=SC2086 # file, out, count, symbol address, type, address, offset
	set -- "$1" "$2" "$3" "$4" $sec
	[ "${5:-}" = PROGBITS ] || { echo "_PyRuntime is in a ${5:-missing} section"; return 1; }
	off=$((0x$7 + 0x$4 - 0x$6))
	dd if="$1" of="$2" bs=4096 skip="$off" count="$3" iflag=skip_bytes,count_bytes \
		status=none || return 1
	[ "$(wc -c < "$2")" -eq "$3" ] || { echo "short read at $off"; return 1; }
}

found_minors=" "
# Extra compiler options for the installation being checked (another root's include directory).
INC_FLAGS=

# first_file FILE...: the first argument that is an existing file.
first_file() {
	for f in "$@"; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	return 1
}

# check_parse_only NAME MINOR ELF...: for versions newer than the probe, at least the debug
# offsets of the interpreter must parse (their values are printed, not verified).
check_parse_only() {
	name=$1 minor=$2
	shift 2
	elf=$(first_file "$@") || { skip "$name debug-offsets: no libpython found"; return; }
	blob=$OUT/debug-offsets-$name.bin
	if ! why=$(extract_runtime "$elf" "$blob" "$DEBUG_READ_SIZE"); then
		fail "$name debug-offsets: cannot read _PyRuntime from $elf: $why"
	elif "$OUT/check" parse "$blob" "$minor" "$name"; then
		pass "$name debug-offsets parse only ($elf)"
	else
		fail "$name debug-offsets"
	fi
}

# check_install NAME INCLUDE_DIR ELF...: the checks for one installation; the first ELF file
# that exists is where its _PyRuntime is read from.
check_install() {
	name=$1 inc=$2
	shift 2
	minor=$(sed -n 's/^#define PY_MINOR_VERSION[ \t]*\([0-9]*\).*/\1/p' "$inc/patchlevel.h")
	# The tables describe default builds: no free-threading, no Py_DEBUG (other layouts).
	# shellcheck disable=SC2086 # INC_FLAGS: options
	if echo '#include <Python.h>' | $CC -E -dM $INC_FLAGS -I"$inc" - 2>/dev/null |
		grep -qE '^#define (Py_GIL_DISABLED|Py_DEBUG|Py_TRACE_REFS) '; then
		skip "$name: free-threaded or debug build"
		return
	fi
	found_minors="$found_minors$minor "
	if [ "$minor" -gt "$PROBE_MAX_MINOR" ] || [ "$minor" -lt 6 ]; then
		skip "$name: probe.c covers 3.6-3.$PROBE_MAX_MINOR"
		[ "$minor" -gt "$PROBE_MAX_MINOR" ] && check_parse_only "$name" "$minor" "$@"
		return
	fi

	probe=$OUT/probe-$name
	# shellcheck disable=SC2086 # INC_FLAGS: options
	if ! $CC -DPy_BUILD_CORE $INC_FLAGS -I"$inc" "$ROOT/tests/offsets/probe.c" -o "$probe" \
		2> "$probe.log"; then
		fail "$name: probe.c does not compile against $inc (see $probe.log)"
		return
	fi
	"$probe" > "$probe.txt" || { fail "$name: probe failed"; return; }

	case " $TABLE_MINORS " in
	*" $minor "*)
		if "$OUT/check" table "$probe.txt" "$name"; then
			pass "$name table ($inc)"
		else
			fail "$name table"
		fi
		;;
	esac

	[ "$minor" -ge 13 ] || return
	elf=$(first_file "$@") || { skip "$name debug-offsets: no libpython found"; return; }
	size=$(awk '$1 == "x_debug_offsets_size" { print $2 }' "$probe.txt")
	blob=$OUT/debug-offsets-$name.bin
	if ! why=$(extract_runtime "$elf" "$blob" "$size"); then
		fail "$name debug-offsets: cannot read _PyRuntime from $elf: $why"
	elif "$OUT/check" debug "$blob" "$probe.txt" "$name"; then
		pass "$name debug-offsets ($elf)"
	else
		fail "$name debug-offsets"
	fi
}

for dir in "$VERSIONS"/3.*; do
	[ -d "$dir" ] || continue
	name=$(basename "$dir")
	inc=$(ls -d "$dir"/include/python3.* 2>/dev/null | head -n 1)
	if [ -z "$inc" ] || [ ! -f "$inc/patchlevel.h" ]; then
		skip "$name: no headers in $dir/include"
		continue
	fi
	minor=$(sed -n 's/^#define PY_MINOR_VERSION[ \t]*\([0-9]*\).*/\1/p' "$inc/patchlevel.h")
	check_install "$name" "$inc" "$dir"/lib/libpython3."$minor"*.so.1.0 \
		"$dir/bin/python3.$minor"
done

# The distribution's interpreter, where its development headers are installed.
for inc in "$SYSTEM_INCLUDE"/python3.*; do
	if [ ! -f "$inc/patchlevel.h" ] || [ ! -d "$inc/internal" ]; then
		continue
	fi
	ver=$(sed -n 's/^#define PY_VERSION[ \t]*"\(.*\)".*/\1/p' "$inc/patchlevel.h")
	minor=$(sed -n 's/^#define PY_MINOR_VERSION[ \t]*\([0-9]*\).*/\1/p' "$inc/patchlevel.h")
	check_install "system-$ver" "$inc" /usr/lib/*/libpython3."$minor".so.1.0 \
		/usr/bin/python3."$minor"
done

# Debian sid's interpreters, in the root the e2e tests run them in. The host's compiler and libc
# headers build the probe; the root's include directory comes after the host's (-idirafter), for
# what only it has: the multiarch pyconfig.h its python3.X/pyconfig.h includes.
for minor in $SID_MINORS; do
	inc=$SID_ROOT/usr/include/python3.$minor
	if [ ! -f "$SID_ROOT/.pyprof-sid-root" ]; then
		why="run tests/pythons/sid-root.sh $BUILD"
		[ -f "$BUILD/sid-root.failed" ] && why="its build failed: $(cat "$BUILD/sid-root.failed")"
		skip "sid-3.$minor: no Debian sid root at $SID_ROOT ($why)"
		continue
	fi
	if [ ! -f "$inc/patchlevel.h" ] || [ ! -d "$inc/internal" ]; then
		skip "sid-3.$minor: no internal headers at $inc (libpython3.$minor-dev)"
		continue
	fi
	ver=$(sed -n 's/^#define PY_VERSION[ \t]*"\(.*\)".*/\1/p' "$inc/patchlevel.h")
	INC_FLAGS="-idirafter $SID_ROOT/usr/include"
	check_install "sid-$ver" "$inc" "$SID_ROOT"/usr/lib/*/libpython3."$minor".so.1.0 \
		"$SID_ROOT/usr/bin/python3.$minor"
	INC_FLAGS=
done

for minor in $TABLE_MINORS; do
	case "$found_minors" in
	*" $minor "*) ;;
	*) skip "3.$minor: no default build installed under $VERSIONS" ;;
	esac
done

echo "offsets: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
