#!/bin/bash
# Kernel-matrix tier (make test-kernels), step 1: fetches the Debian kernels the matrix boots and
# unpacks each under build/kernels/SERIES/ (vmlinuz, lib/modules/VERSION with modules.dep).
#
#   tests/kernels/fetch.sh [SERIES...]      SERIES: 5.10 6.1 6.12 sid (default: all four)
#
# Packages come from deb.debian.org (the mirror the machine's apt sources name) through a
# PRIVATE apt configuration under build/kernels/apt/ (own sources list, lists, cache and status;
# the machine's /etc/apt sources and state are never touched). Release files are verified with
# the keyrings of /usr/share/keyrings (Signed-By). The newest kernel of each series is picked from
# the private apt cache, never a hard-coded ABI:
#   5.10  bullseye(-security)   linux-image-5.10.0-N-amd64
#   6.1   bookworm(-security)   linux-image-6.1.0-N-amd64
#   6.12  trixie(-security)     linux-image-6.12.P+deb13-amd64
#   sid   sid                   newest linux-image-V-amd64, or linux-binary-V + linux-modules-V
# Indexes are refreshed when older than KERNELS_MAX_AGE_H hours (default 24; KERNELS_REFRESH=1
# forces); downloaded .debs are kept in build/kernels/debs/, so a second run downloads nothing.
# Prints "fetch: SERIES -> VERSION (PACKAGE PKGVERSION)" per series and writes
# build/kernels/SERIES/{vmlinuz,version,root/}. Exits non-zero with the reason when a series
# cannot be had.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
KDIR=${KERNELS_DIR:-$REPO/build/kernels}
MIRROR=${KERNELS_MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${KERNELS_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
KEYRING=${KERNELS_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
MAX_AGE_H=${KERNELS_MAX_AGE_H:-24}
SERIES_ALL=(5.10 6.1 6.12 sid)
[ $# -gt 0 ] && SERIES_LIST=("$@") || SERIES_LIST=("${SERIES_ALL[@]}")

die() { echo "fetch: $*" >&2; exit 1; }
for t in apt-get apt-cache dpkg-deb depmod modprobe gpgv; do
	command -v "$t" >/dev/null || die "$t not found (install the package providing it)"
done

APT=$KDIR/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/keys" "$KDIR/debs"
touch "$APT/status"

# sid's Release may be signed by a key newer than the machine's debian-archive-keyring (see
# sid_keyring below): such keys are added to $APT/keys/extra.gpg, trusted only for sid.
sid_keys="$KEYRING"
[ -s "$APT/keys/extra.gpg" ] && sid_keys="$KEYRING $APT/keys/extra.gpg"
write_sources() {
	cat > "$APT/sources.list.new" <<SRC
deb [arch=amd64 signed-by=$KEYRING] $MIRROR bullseye main
deb [arch=amd64 signed-by=$KEYRING] $MIRROR bullseye-updates main
deb [arch=amd64 signed-by=$KEYRING] $SECMIRROR bullseye-security main
deb [arch=amd64 signed-by=$KEYRING] $MIRROR bookworm main
deb [arch=amd64 signed-by=$KEYRING] $MIRROR bookworm-updates main
deb [arch=amd64 signed-by=$KEYRING] $SECMIRROR bookworm-security main
deb [arch=amd64 signed-by=$KEYRING] $MIRROR trixie main
deb [arch=amd64 signed-by=$KEYRING] $MIRROR trixie-updates main
deb [arch=amd64 signed-by=$KEYRING] $SECMIRROR trixie-security main
deb [arch=amd64 signed-by=${sid_keys// /,}] $MIRROR sid main
SRC
	mv "$APT/sources.list.new" "$APT/sources.list"
}
write_sources

aptopts=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache"
	-o "Dir::Cache::pkgcache=$APT/cache/pkgcache.bin" -o "Dir::Cache::srcpkgcache="
	-o "Dir::State::status=$APT/status" -o "Dir::State::extended_states=$APT/extended_states"
	-o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
	-o Dir::Etc::TrustedParts=/dev/null -o "Dir::Etc::Trusted=$APT/keys/none.gpg"
	-o APT::Architecture=amd64 -o APT::Architectures::=amd64 -o Acquire::Languages=none
	-o APT::Sandbox::User=root -o Debug::NoLocking=true -o APT::Get::List-Cleanup=true)

# sid's Release signed by no key of the machine's keyring: take the keyring package of trixie,
# whose Release the machine's keyring verifies (so the .deb is verified through its signed
# Packages hash), and trust its keys for sid only.
sid_keyring() {
	local t
	t=$(mktemp -d)
	echo "fetch: sid's archive key is not in $KEYRING; taking debian-archive-keyring from trixie" >&2
	(cd "$t" && apt-get "${aptopts[@]}" -q download debian-archive-keyring/trixie >&2) ||
		{ rm -rf "$t"; die "cannot download debian-archive-keyring from trixie"; }
	dpkg-deb -x "$t"/debian-archive-keyring_*.deb "$t/x"
	local k
	k=$(ls "$t"/x/usr/share/keyrings/debian-archive-keyring.{pgp,gpg} 2>/dev/null | head -1 || true)
	[ -n "$k" ] || { rm -rf "$t"; die "trixie's debian-archive-keyring holds no archive keyring"; }
	cp -L "$k" "$APT/keys/extra.gpg"
	rm -rf "$t"
}

# ---- indexes ---------------------------------------------------------------------------------
stamp=$APT/updated
if [ "${KERNELS_REFRESH:-0}" = 1 ] || [ ! -e "$stamp" ] ||
	[ -n "$(find "$stamp" -mmin +$((MAX_AGE_H * 60)) 2>/dev/null)" ]; then
	echo "fetch: updating the private apt indexes ($APT)"
	log=$APT/update.log
	if ! apt-get "${aptopts[@]}" -q update >"$log" 2>&1 || grep -qE '^(W|E):' "$log"; then
		# sid signed only by a key newer than the machine's keyring (after a key rotation)
		if grep -q 'NO_PUBKEY' "$log" && [ ! -s "$APT/keys/extra.gpg" ]; then
			sid_keyring
			sid_keys="$KEYRING $APT/keys/extra.gpg"
			write_sources
			apt-get "${aptopts[@]}" -q update >"$log" 2>&1 || true
		fi
		if grep -qE '^(W|E):' "$log"; then
			cat "$log" >&2
			# stale but verified indexes still name kernels that can be had
			if [ -e "$stamp" ]; then
				echo "fetch: index update failed; using the indexes of $(date -r "$stamp")" >&2
			else
				die "apt-get update (private configuration $APT/sources.list) failed"
			fi
		else
			touch "$stamp"
		fi
	else
		touch "$stamp"
	fi
fi

apt_cache() { apt-cache "${aptopts[@]}" "$@"; }

# newest package name matching an extended regex, by version order of the names
newest_name() {
	apt_cache pkgnames "$1" 2>/dev/null | grep -E "^$2\$" | sort -V | tail -1
}
# the candidate (highest) version of a package in the private cache
cand_version() {
	apt_cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'
}

# download PACKAGE (its candidate version) into debs/ unless already there; prints the .deb path
download() {
	local pkg=$1 ver file
	ver=$(cand_version "$pkg")
	[ -n "$ver" ] && [ "$ver" != "(none)" ] || die "no candidate version for $pkg"
	file=$(ls "$KDIR/debs/${pkg}_${ver/*:/}_"*.deb 2>/dev/null | head -1 || true)
	if [ -z "$file" ]; then
		echo "fetch: downloading $pkg $ver" >&2
		(cd "$KDIR/debs/" && apt-get "${aptopts[@]}" -q download "$pkg=$ver" >&2) ||
			die "apt-get download $pkg=$ver failed"
		file=$(ls "$KDIR/debs/${pkg}_${ver/*:/}_"*.deb 2>/dev/null | head -1 || true)
		[ -n "$file" ] || die "apt-get download $pkg=$ver left no .deb in $KDIR/debs"
	fi
	echo "$file"
}

# ---- one series --------------------------------------------------------------------------------
fetch_series() {
	local series=$1 img="" mods="" kver="" debs=() d
	case $series in
	5.10) img=$(newest_name linux-image-5.10.0- 'linux-image-5\.10\.0-[0-9]+-amd64') ;;
	6.1) img=$(newest_name linux-image-6.1.0- 'linux-image-6\.1\.0-[0-9]+-amd64') ;;
	6.12) img=$(newest_name linux-image-6.12. 'linux-image-6\.12\.[0-9]+\+deb13-amd64') ;;
	sid)
		# newest upstream version packaged for sid (+deb14), whatever its package layout
		local v
		v=$( { apt_cache pkgnames linux-image- ; apt_cache pkgnames linux-binary- ; } 2>/dev/null |
			grep -E '^linux-(image|binary)-[0-9]+\.[0-9.]+(-[0-9]+)?\+deb14-amd64$' |
			sed -E 's/^linux-(image|binary)-//; s/-amd64$//' | sort -uV | tail -1)
		[ -n "$v" ] || die "sid: no linux-image-*+deb14-amd64 / linux-binary-*+deb14-amd64 in the index"
		if apt_cache pkgnames "linux-binary-$v-amd64" | grep -qx "linux-binary-$v-amd64"; then
			img=linux-binary-$v-amd64
			mods=linux-modules-$v-amd64
			apt_cache pkgnames "$mods" | grep -qx "$mods" || die "sid: $img without $mods"
		else
			img=linux-image-$v-amd64
		fi
		;;
	/*|./*) die "$series: fetch.sh handles 5.10 6.1 6.12 sid; boot.sh takes a path directly" ;;
	*) die "unknown series $series (5.10 6.1 6.12 sid)" ;;
	esac
	[ -n "$img" ] || die "$series: no matching kernel package in the index"
	kver=${img#linux-image-}; kver=${kver#linux-binary-}
	d=$(download "$img") || exit 1; debs+=("$d")
	if [ -n "$mods" ]; then d=$(download "$mods") || exit 1; debs+=("$d"); fi
	# a package that only points at others (meta/transitional): take its linux-* dependencies
	local out=$KDIR/$series key
	key=$(for d in "${debs[@]}"; do basename "$d"; done | paste -sd' ')
	if [ -e "$out/.done" ] && [ "$(cat "$out/.done")" = "$key" ]; then
		echo "fetch: $series -> $kver ($key) [cached]"
		return
	fi
	rm -rf "$out"; mkdir -p "$out/root"
	for d in "${debs[@]}"; do dpkg-deb -x "$d" "$out/root"; done
	# merged-/usr layout (sid): modules under usr/lib/modules; kmod looks under lib/modules
	if [ ! -e "$out/root/lib" ] && [ -d "$out/root/usr/lib/modules" ]; then
		ln -s usr/lib "$out/root/lib"
	fi
	[ -d "$out/root/lib/modules/$kver" ] ||
		die "$series: $img unpacked without lib/modules/$kver (a meta package? contents: $(ls "$out/root"))"
	local vmlinuz
	for vmlinuz in "$out/root/boot/vmlinuz-$kver" "$out/root/lib/modules/$kver/vmlinuz" ""; do
		[ -z "$vmlinuz" ] || [ -e "$vmlinuz" ] && break
	done
	[ -n "$vmlinuz" ] || die "$series: no vmlinuz in $img"
	ln -sf "${vmlinuz#"$out/"}" "$out/vmlinuz"
	depmod -b "$out/root" "$kver" || die "$series: depmod failed"
	echo "$kver" > "$out/version"
	echo "$key" > "$out/.done"
	echo "fetch: $series -> $kver ($key)"
}

for s in "${SERIES_LIST[@]}"; do fetch_series "$s"; done
