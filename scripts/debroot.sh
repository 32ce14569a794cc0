#!/bin/sh
# Makes a fresh Debian 12 root with Weft's .deb packages installed by apt
# (which pulls the libraries they depend on), for the package test
# (tests/build/deb_test.sh) and the container image (scripts/image.sh).
#   scripts/debroot.sh ROOT DEB... [-- PACKAGE...]
# ROOT must not exist yet. PACKAGEs are more Debian packages to install.
# Needs root (debootstrap, chroot) and the Debian mirror:
#   WEFT_DEBIAN_MIRROR   default http://deb.debian.org/debian
#   WEFT_DEBOOTSTRAP_CACHE  directory keeping the downloaded packages
#                        between runs (debootstrap --cache-dir, and apt's
#                        archives in the root); optional
# Logs go to ROOT.log; on failure its tail is printed and the exit status
# is 1.
set -eu

[ $# -ge 2 ] || { echo "usage: $0 ROOT DEB... [-- PACKAGE...]" >&2; exit 2; }
root=$1
shift
debs=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	debs="$debs $1"
	shift
done
[ "${1:-}" = -- ] && shift
mirror=${WEFT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log=$root.log

die() {
	tail -30 "$log" >&2
	echo "debroot: $*" >&2
	exit 1
}

cache=
if [ -n "${WEFT_DEBOOTSTRAP_CACHE:-}" ]; then
	mkdir -p "$WEFT_DEBOOTSTRAP_CACHE"
	cache="--cache-dir=$(cd "$WEFT_DEBOOTSTRAP_CACHE" && pwd)"
fi
: >"$log"
# shellcheck disable=SC2086 # $cache is one word or none
debootstrap --variant=minbase $cache bookworm "$root" "$mirror" >>"$log" 2>&1 ||
	die "debootstrap bookworm $root $mirror"
mkdir -p "$root/tmp/debs"
# shellcheck disable=SC2086 # one word per file
cp $debs "$root/tmp/debs/"
if [ -n "$cache" ]; then
	find "$WEFT_DEBOOTSTRAP_CACHE" -maxdepth 1 -name '*.deb' \
		-exec cp -n {} "$root/var/cache/apt/archives/" \;
fi
chroot "$root" sh -c 'apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends /tmp/debs/*.deb "$@"' sh "$@" \
	>>"$log" 2>&1 || die "apt-get install ./weft-*.deb $*"
if [ -n "$cache" ]; then
	find "$root/var/cache/apt/archives" -maxdepth 1 -name '*.deb' \
		-exec cp -n {} "$WEFT_DEBOOTSTRAP_CACHE/" \;
fi
chroot "$root" sh -c 'apt-get clean && rm -rf /tmp/debs /var/lib/apt/lists/*'
