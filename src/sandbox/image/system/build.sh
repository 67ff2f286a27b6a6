#!/usr/bin/env bash
# Build the `system` sandbox image: Debian's armhf kernel (armmp-lpae, for qemu-system-arm
# -M virt -cpu cortex-a15) and an initramfs userland like a small IoT device: busybox-static
# (httpd, telnetd, sh and the usual tools), glibc's armhf loader and libraries (so dynamic
# hard-float samples load), a process named watchdog, and the agent (src/sandbox/sys_agent,
# built statically with arm-linux-gnueabi-gcc) as PID 1.
#
# Output (cached; its path is printed as the last line):
#   ${VIGIL_SANDBOX_CACHE:-$HOME/.cache/vigil/sandbox}/system-<kernel version>/
#     vmlinuz            /boot/vmlinuz-* of the kernel package
#     initramfs.cpio.gz  the root file system (it lives in RAM, so a restored snapshot has a
#                        fresh one)
#     manifest           every regular file and symlink path in the root, one per line
#                        (has_interp looks program interpreters up here)
#     packages           "name version" of each .deb used
#     stamp              hash of the inputs; the cache is complete when it matches
# Usage: build.sh [--check] [CACHE]   (CACHE defaults to $VIGIL_SANDBOX_CACHE, then
# ${VIGIL_CACHE:-~/.cache/vigil}/sandbox). Progress goes to stdout as "step: ..." lines (vigil
# sandbox prepare shows them). --check never builds and never asks apt or the network: it
# prints the image built from these sources (exit 0), or exits 3 when there is none and 4
# when the cached image was built from other sources.
# Packages are fetched with apt-get download and unpacked with dpkg-deb -x: nothing ARM is
# installed on the host. apt only sees armhf packages once dpkg knows the architecture, so
# (as root) this adds it with `dpkg --add-architecture armhf` and refreshes the lists.
# Deterministic: fixed package set, sorted cpio with zeroed owners and mtimes, gzip -n.
# Concurrent runs serialise on a lock file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)" # src/sandbox
check=0
if [[ ${1:-} == --check ]]; then
	check=1
	shift
fi
cache_root="${1:-${VIGIL_SANDBOX_CACHE:-${VIGIL_CACHE:-$HOME/.cache/vigil}/sandbox}}"
modules=(virtio_mmio virtio_console failover net_failover virtio_net)
cross=arm-linux-gnueabi-gcc
unistd=/usr/arm-linux-gnueabi/include/asm/unistd-eabi.h

die() { echo "system/build.sh: $*" >&2; exit 1; }

image_complete() {
	local f
	for f in vmlinuz initramfs.cpio.gz manifest packages stamp; do
		[[ -s $1/$f ]] || return 1
	done
}

# system.last: "LOCAL-HASH SOURCES-HASH DIR" of the last complete build. The sources hash
# covers what vigil itself puts into the image (this script, init, the agent); the local hash
# adds the time of the last apt-get update, so a build answers from the cache without asking
# apt (each query takes seconds) until the package lists change.
last="$cache_root/system.last"
sources_hash="$(cat "$here/build.sh" "$here/init" "$src"/sys_proto.h "$src"/sys_agent/*.[ch] |
	sha256sum | cut -d' ' -f1)"
if [[ $check == 1 ]]; then
	if [[ -s $last ]] && read -r _ lsrc ldir <"$last" && [[ -n $ldir ]] && image_complete "$ldir"; then
		[[ $lsrc == "$sources_hash" ]] && { echo "$ldir"; exit 0; }
		echo "the system image in $ldir was built from other sources" >&2
		exit 4
	fi
	echo "no system image in $cache_root" >&2
	exit 3
fi

for tool in apt-cache apt-get dpkg dpkg-deb cpio gzip flock sha256sum "$cross"; do
	command -v "$tool" >/dev/null || die "missing tool: $tool (see scripts/packages.txt)"
done
[[ -f $unistd ]] || die "missing $unistd (install gcc-arm-linux-gnueabi)"
[[ -x /bin/busybox ]] || die "need busybox-static on the host (its applet list is reused)"

mkdir -p "$cache_root"
local_hash="$( (echo "$sources_hash"; cat "$unistd"; stat -c %Y /var/lib/apt/lists 2>/dev/null) |
	sha256sum | cut -d' ' -f1)"
if [[ -s $last ]] && read -r lh _ ldir <"$last" && [[ $lh == "$local_hash" ]] && image_complete "$ldir"; then
	echo "$ldir"
	exit 0
fi

if ! dpkg --print-foreign-architectures | grep -x armhf >/dev/null; then
	[[ $(id -u) -eq 0 ]] || die "dpkg does not know armhf: run 'dpkg --add-architecture armhf && apt-get update' as root"
	echo "step: adding the dpkg architecture armhf and refreshing apt's lists"
	dpkg --add-architecture armhf
	apt-get update -qq >&2 || true # a mirror in sync may fail one index; main is enough
fi

resolve_kpkg() {
	apt-cache depends linux-image-armmp-lpae:armhf 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ && !n++ { sub(/:armhf$/, "", $2); print $2 }'
}
kpkg="${VIGIL_SANDBOX_KPKG:-$(resolve_kpkg)}"
[[ -n $kpkg ]] || die "cannot resolve linux-image-armmp-lpae:armhf (apt-get update?)"
kver="${kpkg#linux-image-}"
pkgs=("$kpkg:armhf" busybox-static:armhf libc6:armhf)
versions="$(apt-cache policy "${pkgs[@]}" |
	awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) } $1 == "Candidate:" && $2 != "(none)" { print p, $2 }')"
[[ $(wc -l <<<"$versions") -eq ${#pkgs[@]} ]] || die "no candidate for some of ${pkgs[*]}: $versions"

out="$cache_root/system-$kver"
inputs_hash="$( (cat "$here/build.sh" "$here/init" "$src"/sys_proto.h "$src"/sys_agent/*.[ch] \
	"$unistd"; echo "$versions ${modules[*]}"; "$cross" --version | head -1) |
	sha256sum | cut -d' ' -f1)"

cache_complete() {
	image_complete "$out" && [[ $(cat "$out/stamp") == "$inputs_hash" ]]
}

exec 9>"$cache_root/.system.lock"
flock 9
if cache_complete; then
	echo "$local_hash $sources_hash $out" >"$last"
	echo "$out"
	exit 0
fi

work="$(mktemp -d "$cache_root/.build-system-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "step: downloading ${pkgs[*]} from Debian's archive (about 46 MB)"

mkdir -p "$work/debs"
(cd "$work/debs" && apt-get download -q "${pkgs[@]}" >&2) || die "apt-get download failed"
echo "step: unpacking the packages, building the agent and the initramfs"
for deb in "$work"/debs/*.deb; do
	dpkg-deb -x "$deb" "$work/pkg"
done
pk="$work/pkg"
[[ -f $pk/boot/vmlinuz-$kver ]] || die "$kpkg has no /boot/vmlinuz-$kver"

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,var/www,var/log,lib/modules}
mkdir -p "$root"/etc/{init.d,crontabs}
chmod 1777 "$root/tmp"
mkdir -p "$root/tmp/run" # the sample's directory (agent.c)
# ...holding a device's ordinary data files, as in the container userland, so an encryptor has
# work to do (build-rootfs.sh seeds the same three)
for i in $(seq 1 300); do echo "$i,21.$((i % 10)),sensor-$((i % 7)),ok"; done >"$root/tmp/run/readings.csv"
for i in $(seq 1 200); do echo "note $i: check the pump on the north side before the $i th"; done \
	>"$root/tmp/run/notes.txt"
for i in $(seq 1 150); do echo "option_$i = value_$((i * 7))"; done >"$root/tmp/run/settings.conf"

# busybox: the armhf binary with the applet links of the host's (same version and config)
cp "$pk/bin/busybox" "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
	case "$applet" in
	busybox | watchdog) ;; # our own watchdog stands in for the applet
	*) ln -sf busybox "$root/bin/$applet" ;;
	esac
done

# glibc's armhf loader and libraries (no locales, gconv or audit modules: samples do not need
# them and RAM is the snapshot's size)
(cd "$pk" && tar -cf - --exclude=gconv --exclude=audit lib/ld-linux-armhf.so.3 \
	lib/arm-linux-gnueabihf $( [[ -d usr/lib/arm-linux-gnueabihf ]] && echo usr/lib/arm-linux-gnueabihf)) |
	tar -xf - -C "$root"
[[ -e $root/lib/ld-linux-armhf.so.3 ]] || die "libc6:armhf has no /lib/ld-linux-armhf.so.3"

moddir="$pk/lib/modules/$kver/kernel"
for m in "${modules[@]}"; do
	f="$(find "$moddir" -name "$m.ko" -o -name "$m.ko.xz" | sort | sed -n 1p)"
	[[ -n $f ]] || die "module $m not in $kpkg"
	case "$f" in
	*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/$m.ko" ;;
	esac
	echo "$m" >>"$root/etc/vigil-modules"
done

# The agent: the syscall name table comes from the cross toolchain's EABI numbers.
gen="$work/gen"
mkdir -p "$gen"
{
	echo "static const char *const arm_sysnames[] = {"
	sed -n 's/^#define __NR_\([a-z0-9_]*\)[[:space:]]*(__NR_SYSCALL_BASE *+ *\([0-9]*\)).*/\t[\2] = "\1",/p' "$unistd"
	echo "};"
} >"$gen/arm_sysnames.h"
[[ $(wc -l <"$gen/arm_sysnames.h") -gt 300 ]] || die "could not read syscall numbers from $unistd"
cflags=(-static -O2 -s -std=gnu17 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter -I"$src" -I"$gen")
"$cross" "${cflags[@]}" -o "$root/sbin/vigil-sysagent" \
	"$src"/sys_agent/agent.c "$src"/sys_agent/buf.c "$src"/sys_agent/trace.c \
	"$src"/sys_agent/fsdiff.c -lm
"$cross" "${cflags[@]}" -o "$root/usr/sbin/watchdog" "$src"/sys_agent/watchdog.c
install -m 0755 "$here/init" "$root/init"

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
EOF
# root's password is "admin" (the kind of default credential IoT bots try)
echo 'root:$1$vigil$UyAYTeQkeVAWXuobusT9U1:19000:0:99999:7:::' >"$root/etc/shadow"
chmod 600 "$root/etc/shadow"
echo iot-device >"$root/etc/hostname"
echo '127.0.0.1 localhost iot-device' >"$root/etc/hosts"
printf '#!/bin/sh\n# started by /init\n' >"$root/etc/init.d/rcS"
chmod 755 "$root/etc/init.d/rcS"
: >"$root/etc/crontabs/root"
: >"$root/etc/resolv.conf"
echo '<html><body>IoT device web interface</body></html>' >"$root/var/www/index.html"

(cd "$root" && find . \( -type f -o -type l \) | sed 's/^\.//' | LC_ALL=C sort) >"$work/manifest"
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --owner=0:0 --reproducible --quiet) | gzip -9n >"$work/initramfs.cpio.gz"

stage="$work/out"
mkdir -p "$stage"
cp "$pk/boot/vmlinuz-$kver" "$stage/vmlinuz"
mv "$work/initramfs.cpio.gz" "$work/manifest" "$stage/"
echo "$versions" >"$stage/packages"
echo "$inputs_hash" >"$stage/stamp"
rm -rf "$out"
mv "$stage" "$out"
echo "$local_hash $sources_hash $out" >"$last"
echo "$out"
