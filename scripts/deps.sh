#!/usr/bin/env bash
# Installs the Debian 12 packages vigil needs (scripts/packages.txt), only those missing.
# A mirror that is mid-sync makes `apt-get update` exit 100 for one index while the others are
# fine, so a failed update is retried once and then tolerated: what decides is whether the
# packages install.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^\s*#' "$here/packages.txt" | sed 's/\s.*//' | grep -v '^$')
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# The AArch64 test guest's kernel and busybox are Debian's arm64 packages, fetched with
# apt-get download: the architecture must be known to apt (its index is read on update).
new_arch=0
if ! dpkg --print-foreign-architectures | grep -x arm64 >/dev/null; then
	$SUDO dpkg --add-architecture arm64 && new_arch=1
fi
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && [ $new_arch -eq 0 ] && exit 0
[ ${#missing[@]} -eq 0 ] || echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
update() {
	$SUDO apt-get update -qq >&2 && return 0
	echo "deps.sh: apt-get update failed; retrying once" >&2
	sleep 5
	$SUDO apt-get update -qq >&2 && return 0
	echo "deps.sh: warning: some package indexes could not be updated; installing from the rest" >&2
}
update
[ ${#missing[@]} -eq 0 ] && exit 0
if ! $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
	echo "deps.sh: could not install: ${missing[*]}" >&2
	exit 1
fi
