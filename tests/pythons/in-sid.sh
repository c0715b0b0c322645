#!/bin/bash
# Runs a program of the Debian sid root (tests/pythons/sid-root.sh) the way a container of
# another distribution runs it: in new mount and pid namespaces, chrooted into that root.
#
#   tests/pythons/in-sid.sh [--root DIR] [--exe-from PATH] PROGRAM [ARGS...]
#
#   --root DIR       the root (default: build/sid-root of this repository)
#   --exe-from PATH  PROGRAM is a host path (a renamed copy of a wrapper); inside the namespaces
#                    the root's PATH is bind-mounted over it, so that interpreter runs under
#                    PROGRAM's path and name
#   PROGRAM          a path inside the root (/usr/bin/python3.14), or a host path visible there
#                    through the bind mounts below (a venv's bin/python)
#
# Inside, the root is an overlay (the root read-only below, a tmpfs above, so nothing a run does
# touches build/sid-root) with, at the same paths as on the host: this repository's
# tests/workloads, $E2E_WORKDIR if set, every directory of $PYPROF_SID_BINDS (colon-separated),
# and the current directory's files if it is one of those. /dev is the host's, /proc the new pid
# namespace's.
#
# Processes: unshare (the launcher's own pid) -> pid 1 of the namespace, this script, which sets
# up the mounts and waits -> PROGRAM, pid 2. PROGRAM is not pid 1, so it has the default
# signal dispositions (SIGINT raises KeyboardInterrupt, SIGTERM kills). When PYPROF_SID_PIDFILE is
# set, PROGRAM's pid as the host sees it is written there (atomically) before PROGRAM is
# exec'd. All of them stay in the caller's process group; when unshare dies, pid 1 is SIGKILLed
# (--kill-child) and the kernel kills the rest of the namespace with it. The exit status is
# PROGRAM's (128+N if a signal N killed it).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SELF=$REPO/tests/pythons/in-sid.sh

if [ "${1:-}" != --inside ]; then
	root=$REPO/build/sid-root exe_from=
	while [ $# -gt 0 ]; do
		case $1 in
		--root) root=$2; shift 2 ;;
		--exe-from) exe_from=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	[ $# -ge 1 ] || { echo "usage: $0 [--root DIR] [--exe-from PATH] PROGRAM [ARGS...]" >&2; exit 2; }
	if [ ! -f "$root/.pyprof-sid-root" ]; then
		echo "in-sid: $root is not a finished sid root: run tests/pythons/sid-root.sh" >&2
		exit 127
	fi
	prog=$1
	shift
	case $prog in
	/*) ;;
	*/*) prog=$PWD/$prog ;; # a relative host path (a wrapper's copy run as ./name)
	esac
	exec unshare --mount --pid --fork --kill-child --propagation private -- \
		/bin/bash "$SELF" --inside "$(cd "$root" && pwd)" "$exe_from" "$PWD" "$prog" "$@"
fi

# ---- pid 1 of the new pid namespace, in the new mount namespace, still on the host's root ----
shift
root=$1 exe_from=$2 cwd=$3 prog=$4
shift 4
die() {
	echo "in-sid: $*" >&2
	exit 127
}

# The new root is assembled on a tmpfs mounted over an empty directory next to the root: the
# mount is private to this namespace, so concurrent runs do not see each other's.
mnt=$root.mnt
mkdir -p "$mnt"
mount -t tmpfs -o mode=0755 pyprof-sid "$mnt" || die "cannot mount a tmpfs on $mnt"
mkdir "$mnt/upper" "$mnt/work" "$mnt/root"
new=$mnt/root
mount -t overlay -o "lowerdir=$root,upperdir=$mnt/upper,workdir=$mnt/work" pyprof-sid "$new" ||
	die "cannot mount an overlay of $root (is overlayfs available?)"
mount --rbind /dev "$new/dev" || die "cannot bind /dev"
mount -t proc proc "$new/proc" || die "cannot mount /proc of the new pid namespace"

binds=("$REPO/tests/workloads")
[ -n "${E2E_WORKDIR:-}" ] && binds+=("$E2E_WORKDIR")
if [ -n "${PYPROF_SID_BINDS:-}" ]; then
	IFS=: read -r -a extra <<< "$PYPROF_SID_BINDS"
	binds+=("${extra[@]}")
fi
resolved=()
for b in "${binds[@]}"; do
	[ -n "$b" ] || continue
	r=$(realpath -e -- "$b") || die "bind source $b does not exist"
	[ -d "$r" ] || die "bind source $b is not a directory"
	resolved+=("$r")
done
# shortest first: a directory inside one already bound is then there (the host's) and is bound
# over itself, never created by mkdir on the host
while IFS= read -r b; do
	[ -n "$b" ] || continue
	mkdir -p "$new$b"
	mount --rbind "$b" "$new$b" || die "cannot bind $b"
done < <(printf '%s\n' "${resolved[@]}" | awk '{ print length($0) "\t" $0 }' | sort -n | cut -f2- | uniq)

if [ -n "$exe_from" ]; then
	[ -f "$new$exe_from" ] || die "$exe_from is not in the root"
	[ -f "$new$prog" ] || die "$prog is not visible in the root (not under a bound directory)"
	mount --bind "$new$exe_from" "$new$prog" || die "cannot bind $exe_from over $prog"
fi

# The program's working directory: the caller's if it is visible inside, else /.
wd=/
[ -d "$new$cwd" ] && [ "$cwd" != / ] && [ "$(stat -c %d:%i "$cwd")" = "$(stat -c %d:%i "$new$cwd")" ] &&
	wd=$cwd

# A child, not exec: the program must not be pid 1 (no default signal actions there). In the
# foreground, so its SIGINT/SIGQUIT are not ignored as a background job's would be.
(
	if [ -n "${PYPROF_SID_PIDFILE:-}" ]; then
		# /proc is still the host's procfs here: /proc/self/stat names this process (which
		# becomes the program through exec) by its host pid
		read -r hostpid _ < /proc/self/stat
		echo "$hostpid" > "$PYPROF_SID_PIDFILE.tmp"
		mv -f "$PYPROF_SID_PIDFILE.tmp" "$PYPROF_SID_PIDFILE"
	fi
	unset PYPROF_SID_PIDFILE
	exec chroot "$new" /usr/bin/env --chdir="$wd" -- "$prog" "$@"
)
