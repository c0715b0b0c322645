#!/bin/bash
# Builds, once, the Debian sid root file system the tests run CPython 3.14 and 3.15 in (another
# distribution's libc and paths, as in a container; see tests/pythons/in-sid.sh), and writes
# the wrappers BUILD_DIR/sid-bin/python3.14 and python3.15 that run them there.
#
#   tests/pythons/sid-root.sh [BUILD_DIR]      (default: build)
#
# BUILD_DIR/sid-root is made by `debootstrap --variant=minbase` from the mirror the machine's apt
# sources name, into a temporary directory renamed into place when complete; its stamp file
# (.pyprof-sid-root, inside it) lists the packages and versions installed. A root whose stamp
# lists the same packages is reused as it is: running this again costs nothing. On failure the
# reason is printed, written to BUILD_DIR/sid-root.failed (the tests name it when they skip
# 3.14/3.15) and the exit status is 1. Run as root.
#
# The archive's signature is checked by debootstrap with the bookworm keyring
# (/usr/share/keyrings/debian-archive-keyring.gpg): sid's InRelease is signed by the archive's
# automatic signing keys (12/bookworm and 13/trixie), both in that keyring.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
ROOT=$BUILD/sid-root
STAMP=$ROOT/.pyprof-sid-root
FAILED=$BUILD/sid-root.failed
LOG=$BUILD/sid-root.log
SUITE=sid
MINORS="14 15"
PACKAGES="python3.14,python3.15,libpython3.14-dev,libpython3.15-dev"
KEYRING=${SID_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
BOOTSTRAP_TIMEOUT=${SID_BOOTSTRAP_TIMEOUT:-1200}

# The mirror the machine's apt sources name (deb822 or one-line format), else Debian's.
mirror() {
	local m
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n 's|^URIs:[ \t]*\(https\?://[^ \t]*/debian\)/\?\([ \t].*\)\?$|\1|p' | head -n 1)
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -n 's|^deb[ \t]\+\(\[[^]]*\][ \t]\+\)\?\(https\?://[^ \t]*/debian\)/\?[ \t].*|\2|p' |
		head -n 1)
	echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=${SID_MIRROR:-$(mirror)}

die() {
	echo "sid-root: $*" >&2
	echo "$*" > "$FAILED.tmp" && mv -f "$FAILED.tmp" "$FAILED"
	exit 1
}

# The wrappers: BUILD/sid-bin/python3.X runs /usr/bin/python3.X of the root through in-sid.sh. A
# copy of a wrapper under another name runs the same interpreter under the copy's path and name
# (the root's binary is bind-mounted over the copy, inside the namespaces only).
write_wrappers() {
	local minor w
	mkdir -p "$BUILD/sid-bin"
	for minor in $MINORS; do
		w=$BUILD/sid-bin/python3.$minor
		cat > "$w.tmp" <<-EOF
		#!/bin/sh
		# pyprof-sid-wrapper: python3.$minor of $ROOT, in its own mount and pid
		# namespaces (written by tests/pythons/sid-root.sh; see tests/pythons/in-sid.sh).
		case "\${0##*/}" in
		python3.$minor) exec "$REPO/tests/pythons/in-sid.sh" --root "$ROOT" /usr/bin/python3.$minor "\$@" ;;
		*) exec "$REPO/tests/pythons/in-sid.sh" --root "$ROOT" --exe-from /usr/bin/python3.$minor "\$0" "\$@" ;;
		esac
		EOF
		chmod 0755 "$w.tmp"
		mv -f "$w.tmp" "$w"
	done
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot)"

# One builder at a time (make test and a pytest run may start together).
exec 9> "$BUILD/sid-root.lock"
flock 9

if [ -f "$STAMP" ] && grep -qxF "packages: $PACKAGES" "$STAMP"; then
	write_wrappers
	rm -f "$FAILED"
	exit 0
fi

command -v debootstrap > /dev/null || die "debootstrap is not installed (make deps installs it)"
[ -f "$KEYRING" ] || die "no archive keyring at $KEYRING (package debian-archive-keyring)"

tmp=$(mktemp -d "$BUILD/sid-root.tmp.XXXXXX")
cleanup() {
	# debootstrap mounts /proc and /sys in the target while it configures packages: never remove
	# a tree with something still mounted in it
	local m
	awk -v t="$tmp/" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2> /dev/null || true; done
	if awk -v t="$tmp/" 'index($2, t) == 1 { f = 1 } END { exit !f }' /proc/mounts; then
		echo "sid-root: $tmp still has mounts; not removed" >&2
	else
		rm -rf --one-file-system "$tmp"
	fi
}
trap cleanup EXIT

# A quick look first, so an unreachable mirror fails in seconds, not after debootstrap's retries;
# and the signature checked here too, so that failure says what is wrong.
echo "sid-root: building $ROOT from $MIRROR ($SUITE, $PACKAGES); log in $LOG"
started=$(date +%s)
if ! wget -q -T 20 -t 2 -O "$tmp/InRelease" "$MIRROR/dists/$SUITE/InRelease" 2> "$LOG"; then
	die "mirror $MIRROR unreachable: cannot fetch dists/$SUITE/InRelease"
fi
if ! gpgv --keyring "$KEYRING" "$tmp/InRelease" >> "$LOG" 2>&1; then
	die "dists/$SUITE/InRelease of $MIRROR is not signed by a key of $KEYRING (see $LOG)"
fi
valid_until=$(sed -n 's/^Valid-Until: //p' "$tmp/InRelease" | head -n 1)
if [ -n "$valid_until" ] && [ "$(date -d "$valid_until" +%s)" -lt "$started" ]; then
	# debootstrap checks the signature, not the date; apt would call this Release expired.
	echo "sid-root: note: $MIRROR's $SUITE Release expired on $valid_until (validly signed)" >&2
fi
rm -f "$tmp/InRelease"

if ! timeout "$BOOTSTRAP_TIMEOUT" debootstrap --variant=minbase --include="$PACKAGES" \
	--keyring="$KEYRING" "$SUITE" "$tmp/root" "$MIRROR" >> "$LOG" 2>&1; then
	tail -n 5 "$LOG" >&2
	die "debootstrap of $SUITE from $MIRROR failed (see $LOG)"
fi
rm -rf "$tmp/root/var/cache/apt/archives/"*.deb "$tmp/root/var/lib/apt/lists/"*_Packages

{
	echo "# Debian $SUITE root for the CPython 3.14/3.15 tests, built by tests/pythons/sid-root.sh"
	echo "packages: $PACKAGES"
	echo "mirror: $MIRROR"
	echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in $(($(date +%s) - started)) s"
	for minor in $MINORS; do
		v=$(chroot "$tmp/root" "/usr/bin/python3.$minor" -V 2>&1) ||
			die "python3.$minor of the new root does not run: $v"
		echo "python3.$minor: $v"
	done
	# shellcheck disable=SC2016 # dpkg-query's own ${fields}
	chroot "$tmp/root" dpkg-query -W -f='package: ${Package} ${Version}\n' \
		${PACKAGES//,/ } libc6
} > "$tmp/root/.pyprof-sid-root.tmp"
mv "$tmp/root/.pyprof-sid-root.tmp" "$tmp/root/.pyprof-sid-root"

if [ -e "$ROOT" ]; then # a root of other packages, or an unfinished one: replaced
	mv -T "$ROOT" "$tmp/old"
fi
mv -T "$tmp/root" "$ROOT"
write_wrappers
rm -f "$FAILED"
echo "sid-root: $ROOT ready in $(($(date +%s) - started)) s, $(du -sh --one-file-system "$ROOT" | cut -f1):"
grep '^python3' "$STAMP" | sed 's/^/  /'
