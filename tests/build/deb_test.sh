#!/bin/sh
# The Debian packages (cmake/package.cmake, docs/deploy.md), built and
# installed for real:
#  1. cpack -G DEB in the package build (WEFT_PACKAGE_BUILD_DIR: the gcc
#     RelWithDebInfo build scripts/test.sh makes, configured with
#     CMAKE_INSTALL_PREFIX=/usr) makes weft-controller, weft-relay and
#     weft-agent;
#  2. each names the libraries its program uses (from dpkg-shlibdeps) and
#     none it does not, and holds its binary, its systemd unit and its
#     config as a conffile;
#  3. `apt-get install ./weft-*.deb` in a fresh Debian 12 root
#     (debootstrap --variant=minbase) pulls what they need; every binary
#     runs there (--version), the controller's user exists;
#  4. systemd-analyze verify, in that root, accepts the units with no
#     complaint at all (it exits 0 even on unknown keys, so any output
#     fails).
# Needs root (chroot) and the Debian mirror (WEFT_DEBIAN_MIRROR, default
# the one apt uses: http://deb.debian.org/debian).
set -u

fail() {
	echo "not ok - $*"
	exit 1
}

build=${WEFT_PACKAGE_BUILD_DIR:-}
if [ -z "$build" ]; then
	echo "skip: WEFT_PACKAGE_BUILD_DIR is not set (scripts/test.sh sets it to its gcc build)"
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot)"; exit 77; }
for t in cpack dpkg-deb debootstrap; do
	command -v "$t" >/dev/null 2>&1 || fail "$t is missing (scripts/deps.sh test installs it)"
done
src=$(cd "$(dirname "$0")/../.." && pwd)

work=$(mktemp -d /tmp/weft-deb.XXXXXX) || fail "mktemp"
root=$work/root
cleanup() {
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

# 1. The packages.
(cd "$build" && cpack -G DEB -B "$work/out") >"$work/cpack.log" 2>&1 ||
	{ cat "$work/cpack.log"; fail "cpack"; }
for p in controller relay agent; do
	deb=$(ls "$work/out"/weft-${p}_*_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || fail "no weft-$p package in $work/out"
	eval "deb_$p=\$deb"
done
echo "ok 1 - cpack made weft-controller, weft-relay and weft-agent"

# 2. Dependencies and contents.
# has_dep DEB PKG / no_dep DEB PKG: Depends names PKG (a word) or not.
deps() { dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//'; }
has_dep() { deps "$1" | grep -qx "$2" || fail "$(basename "$1") does not depend on $2: $(dpkg-deb -f "$1" Depends)"; }
no_dep() { deps "$1" | grep -qx "$2" && fail "$(basename "$1") depends on $2, which its program does not use"; return 0; }
has_file() { dpkg-deb -c "$1" | awk '{print $6}' | grep -qx "\.$2" || fail "$(basename "$1") lacks $2"; }
conffile() { dpkg-deb -I "$1" conffiles | grep -qx "$2" || fail "$(basename "$1"): $2 is not a conffile"; }

for l in libsqlite3-0 libpq5 libmicrohttpd12 libargon2-1 libjwt0 adduser; do
	has_dep "$deb_controller" $l
done
for l in libngtcp2-9 libnftables1; do no_dep "$deb_controller" $l; done
for l in libngtcp2-9 libngtcp2-crypto-gnutls2 libgnutls30 libnftables1; do
	has_dep "$deb_agent" $l
done
for l in libpq5 libsqlite3-0 libjwt0 libcurl4; do no_dep "$deb_agent" $l; done
for l in libngtcp2-9 libjwt0; do has_dep "$deb_relay" $l; done
for l in libpq5 libsqlite3-0 libnftables1; do no_dep "$deb_relay" $l; done
for p in controller relay agent; do
	eval "deb=\$deb_$p"
	has_file "$deb" /usr/bin/weft-$p
	has_file "$deb" /usr/lib/systemd/system/weft-$p.service
	has_file "$deb" /etc/weft/$p.conf
	conffile "$deb" /etc/weft/$p.conf
done
has_file "$deb_relay" /usr/bin/weft-relay-probe
echo "ok 2 - dependencies, binaries, units and conffiles"

# 3. A fresh Debian 12 root, and apt installing the packages into it
# (scripts/debroot.sh, shared with the container image).
sh "$src/scripts/debroot.sh" "$root" "$deb_controller" "$deb_relay" "$deb_agent" -- systemd ||
	fail "apt-get install ./weft-*.deb in a fresh Debian 12 root"
for p in controller relay agent; do
	v=$(chroot "$root" weft-$p --version 2>&1) || fail "weft-$p --version in the new root: $v"
	case $v in
	"weft-$p "*) ;;
	*) fail "weft-$p --version printed: $v" ;;
	esac
done
chroot "$root" weft-relay-probe --help >/dev/null 2>&1 ||
	fail "weft-relay-probe does not run in the new root"
chroot "$root" getent passwd weft >/dev/null || fail "the controller's user weft was not created"
echo "ok 3 - apt-get install ./weft-*.deb in a fresh Debian 12 root; the programs run there"

# 4. The units, as systemd in that root reads them.
for p in controller relay agent; do
	out=$(chroot "$root" systemd-analyze verify /usr/lib/systemd/system/weft-$p.service 2>&1)
	rc=$?
	[ $rc = 0 ] && [ -z "$out" ] || fail "systemd-analyze verify weft-$p.service (exit $rc): $out"
done
echo "ok 4 - systemd-analyze verify accepts the three units"
