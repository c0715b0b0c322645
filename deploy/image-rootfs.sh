#!/bin/sh
# Assembles the root file system of the runtime image (deploy/Dockerfile): the two binaries,
# every shared library they load as ldd resolves them (the dynamic loader included), the CA
# bundle libcurl verifies S3 endpoints with, and the empty directories the agent writes to.
# tests/e2e/test_deploy.py runs the result in a chroot, as the image would run.
# Usage: deploy/image-rootfs.sh BUILD_DIR OUT_DIR
set -eu
build=$1
out=$2

mkdir -p "$out/usr/local/bin" "$out/etc/pyprof-agent" "$out/etc/ssl/certs" \
	"$out/run/pyprof-agent" "$out/var/lib/pyprof-agent" "$out/tmp" "$out/proc" "$out/sys" \
	"$out/dev"
chmod 1777 "$out/tmp"
install -m 0755 "$build/pyprof-agent" "$build/agentctl" "$out/usr/local/bin/"

# "libX.so => /path (addr)" and the loader's "/lib64/ld-linux-x86-64.so.2 (addr)"; plus
# libgcc_s, which glibc dlopen()s to unwind a thread that exits or is cancelled.
libs=$(ldd "$build/pyprof-agent" "$build/agentctl" |
	awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// && $1 !~ /:$/ { print $1 }' | sort -u)
gcc_s=$(ldconfig -p | awk '$1 == "libgcc_s.so.1" && $NF ~ /^\// { print $NF; exit }')
for lib in $libs $gcc_s; do
	cp -L --parents "$lib" "$out/"
done

cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/ca-certificates.crt"
# Name resolution without NSS modules (glibc's dns backend is built in): the files the kubelet
# or the container runtime provides, then DNS.
printf 'hosts: files dns\n' >"$out/etc/nsswitch.conf"
