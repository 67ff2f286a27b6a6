#!/usr/bin/env bash
# Builds the ARM userlands of the container and minimal sandbox environments from Debian armhf
# packages and caches them (docs/sandbox-envs.md):
#   $CACHE/rootfs-armhf     busybox-static with every applet linked, glibc (so dynamic samples
#                           with /lib/ld-linux-armhf.so.3 load), httpd's web root, a telnetd
#                           shell, /etc as an IoT board has it (resolv.conf -> the sinkhole)
#   $CACHE/rootfs-minimal   only the web server (busybox-static installed as /bin/httpd), its web
#                           root and the sample's directory: no shell, no utilities, no libc
# Every file is owned by SBX_UID (env_ns.h): the environments map the sample's root to it, so
# the sample may change the userland (in its overlay), and never owns anything of the host.
# Usage: build-rootfs.sh [--check] [CACHE]   (default ${VIGIL_CACHE:-~/.cache/vigil}/sandbox);
# prints the cache path as its last line. Rebuilt only when this script changes (its hash is
# the stamp). Progress goes to stdout as "step: ..." lines (vigil sandbox prepare shows them).
# --check never builds and never needs the network: exit 0 when the cache holds userlands
# built by this script, 3 when there are none, 4 when they were built by another version.
set -euo pipefail

SBX_UID=1660000
check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
cache=${1:-${VIGIL_CACHE:-$HOME/.cache/vigil}/sandbox}
stamp=$(sha256sum "$0" | cut -c1-16)
if [ -f "$cache/rootfs.stamp" ] && [ "$(cat "$cache/rootfs.stamp")" = "$stamp" ] &&
	[ -d "$cache/rootfs-armhf" ] && [ -d "$cache/rootfs-minimal" ]; then
	echo "$cache"
	exit 0
fi
if [ $check = 1 ]; then
	if [ -f "$cache/rootfs.stamp" ]; then
		echo "the userlands in $cache were built by another version of this script" >&2
		exit 4
	fi
	echo "no userlands in $cache" >&2
	exit 3
fi
mkdir -p "$cache"
exec 9>"$cache/.build.lock"
flock 9
if [ -f "$cache/rootfs.stamp" ] && [ "$(cat "$cache/rootfs.stamp")" = "$stamp" ]; then
	echo "$cache"
	exit 0
fi

# apt-get download of :armhf packages needs the foreign architecture in dpkg and apt's lists
if ! dpkg --print-foreign-architectures | grep -qx armhf; then
	echo "step: adding the dpkg architecture armhf and refreshing apt's lists"
	dpkg --add-architecture armhf
	apt-get update -qq >&2 || true # a mirror in sync may fail one index (security has no armhf here); main is enough
fi
qemu=$(command -v qemu-arm-static) || { echo "qemu-arm-static missing (qemu-user-static)" >&2; exit 2; }

tmp=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "step: downloading busybox-static, libc6 and libgcc-s1 (armhf) from Debian's archive"
(cd "$tmp" && apt-get download -qq busybox-static:armhf libc6:armhf libgcc-s1:armhf) \
	2> >(grep -v 'unsandboxed as root' >&2)
echo "step: unpacking and laying out the container and minimal userlands"

root=$tmp/rootfs-armhf
mkdir -p "$root"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$root"
done
rm -rf "$root/usr/share/doc" "$root/usr/share/lintian" "$root/usr/share/man"

# busybox applets as symlinks at the paths busybox itself lists (bin/sh, usr/sbin/telnetd, ...)
"$qemu" "$root/bin/busybox" --list-full | while read -r p; do
	case "$p" in */*) ;; *) continue ;; esac
	[ -e "$root/$p" ] || [ -L "$root/$p" ] && continue
	mkdir -p "$root/$(dirname "$p")"
	ln -s /bin/busybox "$root/$p"
done

mkdir -p "$root"/{proc,dev,tmp/run,root,etc/init.d,etc/crontabs,var/www,var/log,run,home}
chmod 1777 "$root/tmp"
# bind-mount points: host device nodes, and .trace for the emulator's system call log (a FIFO)
for d in null zero random urandom tty .trace; do : >"$root/dev/$d"; done
mkdir -p "$root/dev/pts" # telnetd's terminals: a devpts instance of the run's own
ln -s pts/ptmx "$root/dev/ptmx"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
pi:x:1000:1000:,,,:/home/pi:/bin/sh
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
www-data:x:33:
pi:x:1000:
EOF
echo 'root:*:19000:0:99999:7:::' >"$root/etc/shadow"
echo raspberrypi >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n' >"$root/etc/hosts"
echo 'nameserver 10.66.0.1' >"$root/etc/resolv.conf"
printf '::sysinit:/etc/init.d/rcS\n::respawn:/usr/sbin/telnetd -F\n' >"$root/etc/inittab"
printf '#!/bin/sh\n/usr/sbin/httpd -h /var/www\n' >"$root/etc/init.d/rcS"
chmod 755 "$root/etc/init.d/rcS"
printf 'PRETTY_NAME="vigil sandbox (Debian armhf userland)"\nID=debian\n' >"$root/etc/os-release"
cat >"$root/var/www/index.html" <<'EOF'
<html><body><h1>vigil sandbox web server</h1></body></html>
EOF

# the sample's directory holds a device's ordinary data files, so an encryptor has work to do
seed() {
	mkdir -p "$1/tmp/run"
	for i in $(seq 1 300); do echo "$i,21.$((i % 10)),sensor-$((i % 7)),ok"; done >"$1/tmp/run/readings.csv"
	for i in $(seq 1 200); do echo "note $i: check the pump on the north side before the $i th"; done \
		>"$1/tmp/run/notes.txt"
	for i in $(seq 1 150); do echo "option_$i = value_$((i * 7))"; done >"$1/tmp/run/settings.conf"
}
seed "$root"

# minimal: the service binary under its own name, its web root, the sample's directory; /etc
# holds only the resolver configuration a unikernel would be built with
min=$tmp/rootfs-minimal
mkdir -p "$min"/{bin,dev,etc,tmp/run,var/www}
cp "$root/bin/busybox" "$min/bin/httpd"
cp "$root/var/www/index.html" "$min/var/www/"
cp "$root/etc/resolv.conf" "$min/etc/"
for d in null zero random urandom .trace; do : >"$min/dev/$d"; done
chmod 1777 "$min/tmp"
seed "$min"

chown -R -h "$SBX_UID:$SBX_UID" "$root" "$min"
rm -rf "$cache/rootfs-armhf" "$cache/rootfs-minimal"
mv "$root" "$cache/rootfs-armhf"
mv "$min" "$cache/rootfs-minimal"
echo "$stamp" >"$cache/rootfs.stamp"
echo "$cache"
