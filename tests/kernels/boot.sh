#!/bin/bash
# Boots a Debian kernel under qemu (TCG) and runs one command in it; exits with its status.
#
#   tests/kernels/boot.sh SERIES COMMAND [ARG...]
#
#   SERIES   5.10 | 6.1 | 6.12 | sid (fetched into build/kernels/ by fetch.sh on first use), or a
#            path: a directory laid out as fetch.sh leaves one (vmlinuz, root/lib/modules/V) or
#            a `dpkg-deb -x` tree of a kernel package (boot/vmlinuz-V or lib/modules/V/vmlinuz).
#   COMMAND  run as root in the guest, in a chroot of this machine's / (read-only over 9p), in
#            the current directory, stdin /dev/null. Its stdout+stderr stream here; kernel
#            messages go to a log shown only when the boot fails (or with BOOT_VERBOSE=1).
#
# In the guest: /tmp, /run and /dev/shm are empty tmpfs (the only writable places, so point the
# agent's output, socket and config there); the current directory, the repository and
# $PYPROF_BUILD stay visible even when under /tmp. $RESULTS (/tmp/results) is a read-write 9p
# share of the host's $BOOT_RESULTS (a temporary directory when unset); $KERNEL_SERIES and
# $KERNEL_RELEASE name the kernel. /proc, /sys, /sys/kernel/btf, /sys/fs/bpf (bpffs),
# /sys/kernel/tracing, /sys/kernel/debug and /sys/fs/cgroup are mounted.
# Examples (from the repository):
#   tests/kernels/boot.sh 5.10 sh -c 'python3 -c "while 1: pass" & sleep 3;
#       build/agentctl snapshot --pid $! --duration 2 --verbose'
#   tests/kernels/boot.sh sid bpftool -j feature probe kernel
#   BOOT_RESULTS=/tmp/out tests/kernels/boot.sh 6.1 sh -c 'cp /sys/kernel/btf/vmlinux $RESULTS/'
#   tests/kernels/boot.sh 6.12 /usr/bin/python3.11 tests/kernels/guest-checks.py   (the matrix's)
# Environment: BOOT_TIMEOUT (s, whole boot, default 900), BOOT_START_TIMEOUT (s until the command
# starts, default 240), BOOT_MEM (MiB, default 1024), BOOT_SMP (default 2), BOOT_ENV (names of
# variables passed to the command; PYPROF_* and E2E_* always are), BOOT_APPEND (extra kernel
# command line), BOOT_VERBOSE=1 (print the kernel log), BOOT_LOG=FILE (keep the kernel log),
# BOOT_RETRY=0 (no second boot), KERNELS_DIR (default build/kernels), QEMU, BUSYBOX.
# A boot that dies before the command starts (an early-boot oops was seen on 7.x with 2 vCPUs)
# is retried once. Exit status: COMMAND's; 124 when BOOT_TIMEOUT ran out; 125 when the guest
# failed to boot or died before COMMAND finished (the kernel log is printed); 2 for usage errors.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 2 ] || usage
SERIES=$1; shift

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
KDIR=${KERNELS_DIR:-$REPO/build/kernels}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${BOOT_TIMEOUT:-900}
START_TIMEOUT=${BOOT_START_TIMEOUT:-240}
MEM=${BOOT_MEM:-1024}
SMP=${BOOT_SMP:-2}
BUSYBOX=${BUSYBOX:-/bin/busybox}

say() { echo "boot.sh: $*" >&2; }
die() { say "$*"; exit 125; }
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"
[ -x "$BUSYBOX" ] && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
	die "$BUSYBOX is not a static busybox (apt-get install busybox-static)"

# ---- the kernel --------------------------------------------------------------------------------
case $SERIES in
5.10 | 6.1 | 6.12 | sid)
	kdir=$KDIR/$SERIES
	if [ ! -e "$kdir/.done" ]; then
		say "kernel $SERIES not fetched yet: running fetch.sh $SERIES"
		"$HERE/fetch.sh" "$SERIES" >&2 || die "cannot fetch kernel $SERIES"
	fi
	vmlinuz=$kdir/vmlinuz modroot=$kdir/root kver=$(cat "$kdir/version")
	;;
*)
	[ -d "$SERIES" ] || die "SERIES must be 5.10, 6.1, 6.12, sid or a kernel directory, not '$SERIES'"
	kdir=$(cd "$SERIES" && pwd)
	if [ -e "$kdir/vmlinuz" ] && [ -d "$kdir/root" ]; then
		vmlinuz=$kdir/vmlinuz modroot=$kdir/root
		kver=$(cat "$kdir/version" 2>/dev/null || ls "$modroot/lib/modules" "$modroot/usr/lib/modules" 2>/dev/null | grep -v : | head -1)
	else
		modroot=$kdir
		kver=$(ls "$modroot/lib/modules" "$modroot/usr/lib/modules" 2>/dev/null | grep -v '^\(/.*:\)\?$' | head -1)
		[ -n "$kver" ] || die "$kdir: no lib/modules/VERSION"
		vmlinuz=""
		for f in "$modroot/boot/vmlinuz-$kver" "$modroot/lib/modules/$kver/vmlinuz" "$modroot/usr/lib/modules/$kver/vmlinuz"; do
			[ -e "$f" ] && { vmlinuz=$f; break; }
		done
		[ -n "$vmlinuz" ] || die "$kdir: no boot/vmlinuz-$kver nor lib/modules/$kver/vmlinuz"
	fi
	;;
esac
[ -e "$vmlinuz" ] || die "no kernel image at $vmlinuz"
moddir=$modroot/lib/modules/$kver
[ -d "$moddir" ] || moddir=$modroot/usr/lib/modules/$kver
[ -d "$moddir" ] || die "no modules directory for $kver under $modroot"
[ -e "$moddir/modules.dep" ] || depmod -b "$modroot" "$kver" 2>/dev/null || die "depmod failed for $moddir"

# ---- scratch ------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/pyprof-boot.XXXXXX")
qpid="" tpid=""
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
	[ -n "$tpid" ] && kill "$tpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$work/ctl" "$work/initrd/bin" "$work/initrd/modules" "$work/initrd/dev"
if [ -n "${BOOT_RESULTS:-}" ]; then
	mkdir -p "$BOOT_RESULTS"
	results=$(cd "$BOOT_RESULTS" && pwd)
else
	results=$work/results
	mkdir -p "$results"
fi

# ---- initramfs: static busybox, the kernel's own 9p-over-virtio modules, /init --------------------
n=0
# shellcheck disable=SC2046
while read -r kind path _; do
	case $kind in
	insmod)
		base=$(basename "$path"); base=${base%.ko*}
		[ -e "$work/initrd/modules/"*"-$base.ko" ] 2>/dev/null && continue
		n=$((n + 1)); dst=$work/initrd/modules/$(printf %02d $n)-$base.ko
		src=$modroot${path#"$modroot"}
		[ -e "$src" ] || src=$path
		case $src in
		*.xz) xz -dc "$src" > "$dst" ;;
		*.zst) zstd -qdc "$src" > "$dst" ;;
		*.gz) gzip -dc "$src" > "$dst" ;;
		*) cp "$src" "$dst" ;;
		esac
		;;
	esac
done < <(for m in virtio_pci 9pnet_virtio 9p; do
	if ! out=$(modprobe -d "$modroot" -S "$kver" --show-depends "$m" 2>&1); then
		# modules.builtin is not in every package (sid's): no module file means built in
		find "$moddir" -name "$m.ko*" | grep -q . && die "modprobe --show-depends $m: $out"
		continue
	fi
	echo "$out"
done)

cp "$BUSYBOX" "$work/initrd/bin/busybox"
cat > "$work/initrd/init" <<'INIT'
#!/bin/busybox sh
# guest side of tests/kernels/boot.sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
msg() { echo "boot-init: $*" > /dev/console; }
halt_now() { sync; reboot -f; echo b > /proc/sysrq-trigger; sleep 60; }
for m in /modules/*.ko; do
	[ -e "$m" ] || continue
	insmod "$m" 2>/dev/console || msg "insmod $m failed"
done
p9="trans=virtio,version=9p2000.L,msize=262144"
mkdir -p /newroot /ctl /hosttmp
mount9p() {
	i=0
	until mount -t 9p -o "$1" "$2" "$3" 2>/dev/console; do
		i=$((i + 1)); [ $i -ge 20 ] && { msg "cannot mount 9p tag $2"; halt_now; }
		sleep 0.5
	done
}
mount9p "$p9" ctl /ctl
mount9p "$p9,cache=loose,ro" root /newroot
. /ctl/params
R=/newroot
# paths under /tmp that stay visible over the guest's tmpfs /tmp
mount -o bind $R/tmp /hosttmp
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
for p in $KEEP; do
	case $p in /tmp/*) ;; *) continue ;; esac
	[ -d "/hosttmp/${p#/tmp/}" ] || continue
	mountpoint -q "$R$p" && continue
	mkdir -p "$R$p" && mount -o bind "/hosttmp/${p#/tmp/}" "$R$p"
done
mount -t tmpfs -o mode=755 tmpfs $R/run
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
mount -t bpf bpf $R/sys/fs/bpf 2>/dev/null || msg "no bpffs"
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null || true
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null || true
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup 2>/dev/null || true
mkdir -p $R/tmp/results
mount9p "$p9" results $R/tmp/results
hostname "kernel-$KERNEL_SERIES" 2>/dev/null || true
ip link set lo up 2>/dev/null || true
cp /ctl/cmd.sh $R/run/boot-cmd.sh
stty -F /dev/ttyS1 raw -echo 2>/dev/null || true
msg "starting the command"
echo started > /ctl/started
chroot $R /bin/bash /run/boot-cmd.sh < /dev/null > /dev/ttyS1 2>&1
echo $? > /ctl/rc.tmp && mv /ctl/rc.tmp /ctl/rc
msg "command exited $(cat /ctl/rc)"
umount $R/tmp/results 2>/dev/null
halt_now
INIT
chmod +x "$work/initrd/init"
(cd "$work/initrd" && find . | cpio -o -H newc --quiet) > "$work/initrd.img"

# ---- the command ----------------------------------------------------------------------------------
keep="$PWD $REPO ${PYPROF_BUILD:-}"
{
	echo "KERNEL_SERIES='$(basename "$SERIES")'"
	echo "KEEP='$keep'"
} > "$work/ctl/params"
{
	echo "# written by boot.sh"
	echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root"
	echo "export TMPDIR=/tmp RESULTS=/tmp/results LANG=C.UTF-8 TERM=dumb"
	printf 'export KERNEL_SERIES=%q KERNEL_RELEASE=%q\n' "$SERIES" "$kver"
	for v in ${BOOT_ENV:-} $(compgen -e | grep -E '^(PYPROF_|E2E_)' || true); do
		[ -n "${!v+x}" ] && printf 'export %s=%q\n' "$v" "${!v}"
	done
	printf 'cd %q || exit 126\n' "$PWD"
	printf 'exec'; printf ' %q' "$@"; echo
} > "$work/ctl/cmd.sh"

# ---- boot -----------------------------------------------------------------------------------------
boot_once() {
	rm -f "$work/ctl/started" "$work/ctl/rc"
	: > "$work/console.log"; : > "$work/out.log"
	timeout -k 10 "$TIMEOUT" "$QEMU" -accel tcg,tb-size=256 -cpu max -m "$MEM" -smp "$SMP" \
		-nodefaults -no-user-config -display none -monitor none -no-reboot \
		-kernel "$vmlinuz" -initrd "$work/initrd.img" \
		-append "console=ttyS0 clocksource=tsc tsc=reliable panic=-1 loglevel=4 ${BOOT_APPEND:-}" \
		-serial "file:$work/console.log" -serial "file:$work/out.log" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=root,mount_tag=root \
		-fsdev "local,id=ctl,path=$work/ctl,security_model=none" \
		-device virtio-9p-pci,fsdev=ctl,mount_tag=ctl \
		-fsdev "local,id=results,path=$results,security_model=none" \
		-device virtio-9p-pci,fsdev=results,mount_tag=results \
		</dev/null >"$work/qemu.log" 2>&1 &
	qpid=$!
	tail -n +1 -F --pid=$qpid "$work/out.log" 2>/dev/null &
	tpid=$!
	local t0=$SECONDS qrc=0
	while kill -0 "$qpid" 2>/dev/null; do
		if [ ! -e "$work/ctl/started" ] && [ $((SECONDS - t0)) -ge "$START_TIMEOUT" ]; then
			say "the command had not started after ${START_TIMEOUT}s: stopping the guest"
			kill "$qpid" 2>/dev/null
			break
		fi
		sleep 0.5
	done
	wait "$qpid" || qrc=$?
	qpid=""
	wait "$tpid" 2>/dev/null || true
	tpid=""
	boot_secs=$((SECONDS - t0))
	return $qrc
}

show_log() {
	say "$1; qemu said:"; sed 's/^/  qemu: /' "$work/qemu.log" >&2
	say "kernel log (last 60 lines):"; tail -n 60 "$work/console.log" | sed 's/^/  console: /' >&2
	[ -z "${BOOT_LOG:-}" ] || cp "$work/console.log" "$BOOT_LOG"
}

tries=1
[ "${BOOT_RETRY:-1}" = 0 ] || tries=2
for try in $(seq 1 $tries); do
	qrc=0
	boot_once || qrc=$?
	[ "${BOOT_VERBOSE:-0}" = 1 ] && sed 's/^/  console: /' "$work/console.log" >&2
	[ -z "${BOOT_LOG:-}" ] || cp "$work/console.log" "$BOOT_LOG"
	if [ -e "$work/ctl/rc" ]; then
		rc=$(cat "$work/ctl/rc")
		say "$SERIES ($kver): command exited $rc after ${boot_secs}s"
		exit "$rc"
	fi
	if [ -e "$work/ctl/started" ]; then
		if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
			show_log "timed out after ${TIMEOUT}s ($SERIES, $kver)"; exit 124
		fi
		show_log "the guest died while the command ran (qemu exit $qrc, $SERIES, $kver)"; exit 125
	fi
	if [ "$try" -lt "$tries" ]; then
		show_log "boot $try of $SERIES ($kver) failed before the command started (qemu exit $qrc); retrying"
	fi
done
show_log "$SERIES ($kver) did not boot to the command (qemu exit $qrc)"
exit 125
