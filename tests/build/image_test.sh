#!/bin/sh
# The container image, built for real with no registry (ctest image_build,
# label deploy; docs/deploy.md):
#  1. scripts/image.sh packages the gcc build scripts/test.sh makes
#     (WEFT_PACKAGE_BUILD_DIR), installs the packages into a fresh Debian 12
#     root and commits it with buildah from scratch, into a storage
#     directory of this test's own;
#  2. the image's configuration: user 10001, the labels, the healthcheck,
#     the controller as the default command;
#  3. inside it (buildah run, chroot isolation), every program answers
#     --version and --help, the tools the chart's relay-init.sh uses are
#     there, and the user weft has uid 10001.
# Needs root, buildah, debootstrap and the Debian mirror.
set -u

fail() {
	echo "not ok - $*"
	exit 1
}

if [ -z "${WEFT_PACKAGE_BUILD_DIR:-}" ]; then
	echo "skip: WEFT_PACKAGE_BUILD_DIR is not set (scripts/test.sh sets it to its gcc build)"
	exit 77
fi
[ "$(id -u)" = 0 ] || { echo "skip: needs root (chroot)"; exit 77; }
for t in buildah debootstrap jq; do
	command -v $t >/dev/null 2>&1 || fail "$t is missing (scripts/deps.sh test installs it)"
done
src=$(cd "$(dirname "$0")/../.." && pwd)
store=$(mktemp -d /tmp/weft-image-test.$$.XXXXXX) || fail "mktemp"
image=localhost/weft-test-$$:latest
b() { buildah --storage-driver vfs --root "$store/root" --runroot "$store/run" "$@"; }
ctr=
cleanup() {
	[ -n "$ctr" ] && b rm "$ctr" >/dev/null 2>&1
	b rmi -f "$image" >/dev/null 2>&1
	rm -rf "$store"
}
trap cleanup EXIT INT TERM

# 1. Build.
start=$(date +%s)
WEFT_IMAGE=$image WEFT_BUILDAH_STORAGE=$store sh "$src/scripts/image.sh" \
	>"$store/image.log" 2>&1 || { tail -30 "$store/image.log"; fail "scripts/image.sh"; }
echo "ok 1 - scripts/image.sh built $image in $(($(date +%s) - start)) s: $(tail -1 "$store/image.log")"

# 2. Configuration.
cfg=$(b inspect --type image "$image") || fail "buildah inspect"
field() { echo "$cfg" | jq -r "$1"; }
[ "$(field '.Docker.config.User')" = 10001:10001 ] || fail "user: $(field '.Docker.config.User')"
for l in version source revision title; do
	v=$(field ".Docker.config.Labels[\"org.opencontainers.image.$l\"] // empty")
	[ -n "$v" ] || fail "no label org.opencontainers.image.$l"
done
[ "$(field '.Docker.config.Healthcheck.Test | join(" ")')" = "CMD weft-healthcheck" ] ||
	fail "healthcheck: $(field '.Docker.config.Healthcheck')"
[ "$(field '.Docker.config.Cmd[0]')" = weft-controller ] || fail "cmd: $(field '.Docker.config.Cmd')"
echo "ok 2 - user 10001, labels, healthcheck, the controller by default"

# 3. The programs inside.
ctr=$(b from "$image") || fail "buildah from $image"
inside() { b run --isolation chroot "$ctr" -- "$@"; }
for p in controller relay agent; do
	v=$(inside weft-$p --version 2>&1) || fail "weft-$p --version in the image: $v"
	case $v in
	"weft-$p "*) ;;
	*) fail "weft-$p --version printed: $v" ;;
	esac
	h=$(inside weft-$p --help 2>&1)
	echo "$h" | grep -q "^usage: weft-$p" || fail "weft-$p --help: $h"
done
inside weft-controller serve --help 2>&1 | grep -q -- --bootstrap-key-file ||
	fail "weft-controller serve --help lacks --bootstrap-key-file"
inside weft-relay-probe --help >/dev/null 2>&1 || fail "weft-relay-probe --help"
for t in curl jq openssl weft-healthcheck; do
	inside sh -c "command -v $t" >/dev/null 2>&1 || fail "$t is not in the image"
done
[ "$(inside id -u)" = 10001 ] || fail "the image's user is not uid 10001"
[ "$(inside sh -c 'id -u weft')" = 10001 ] || fail "weft is not uid 10001"
echo "ok 3 - every program runs in the image (--version, --help), relay-init's tools are there"

# 4. The controller serves as the image's user and the healthcheck sees it.
port=$((20000 + $$ % 20000))
out=$(inside sh -c "weft-controller serve --listen 127.0.0.1:$port --data-dir /var/lib/weft \
	--bootstrap-key-file /var/lib/weft/key >/tmp/ctl.log 2>&1 & pid=\$!
	for i in \$(seq 50); do
		WEFT_HEALTHCHECK_URL=http://127.0.0.1:$port/healthz weft-healthcheck && break
		sleep 0.2
	done
	WEFT_HEALTHCHECK_URL=http://127.0.0.1:$port/healthz weft-healthcheck; rc=\$?
	kill \$pid; wait \$pid; echo rc=\$rc; ls -n /var/lib/weft" 2>&1)
echo "$out" | grep -q '^rc=0$' || fail "weft-healthcheck against the controller in the image: $out"
echo "$out" | grep -q ' 10001 10001 .* weft.db$' || fail "weft.db is not the user's: $out"
echo "ok 4 - the controller runs in the image as uid 10001; weft-healthcheck answers 0"
