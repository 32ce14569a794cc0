#!/bin/sh
# Builds the Weft container image (weft-controller, weft-relay and
# weft-agent in one image, Debian 12, docs/deploy.md) on this machine,
# pulling from no registry: the project's .deb packages installed by apt
# into a debootstrap --variant=minbase bookworm root (scripts/debroot.sh),
# then committed by buildah from scratch. The Containerfile builds the
# same image where a registry is at hand.
#   scripts/image.sh
# Environment:
#   WEFT_IMAGE              image name (default localhost/weft:<version>)
#   WEFT_PACKAGE_BUILD_DIR  a configured build (CMAKE_INSTALL_PREFIX=/usr)
#                           to package; default: build-pkg, made here
#   WEFT_BUILDAH_STORAGE    a directory for buildah's storage (default:
#                           buildah's own, /var/lib/containers)
#   WEFT_DEBIAN_MIRROR, WEFT_DEBOOTSTRAP_CACHE  see scripts/debroot.sh
# Needs root, buildah and debootstrap (scripts/deps.sh test installs them).
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "image.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, buildah)"
for t in buildah debootstrap cpack; do
	command -v $t >/dev/null 2>&1 || die "$t is missing: scripts/deps.sh test installs it"
done
version=$(sed -n 's/^project(weft VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
image=${WEFT_IMAGE:-localhost/weft:$version}

build=${WEFT_PACKAGE_BUILD_DIR:-}
if [ -z "$build" ]; then
	build=$src/build-pkg
	cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_INSTALL_PREFIX=/usr -DWEFT_TESTS=OFF >/dev/null
	cmake --build "$build" -j"$(nproc)" >/dev/null
fi

work=$(mktemp -d /tmp/weft-image.$$.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
(cd "$build" && cpack -G DEB -B "$work/out") >"$work/cpack.log" 2>&1 ||
	{ cat "$work/cpack.log"; die "cpack"; }

# The root: the packages, what the chart's relay-init.sh uses (curl, jq,
# openssl) and the CA certificates, then setup.sh (user 10001, state
# directories, no docs).
sh "$src/scripts/debroot.sh" "$work/root" "$work"/out/weft-*.deb -- \
	ca-certificates curl jq openssl || die "the Debian root"
cp "$src/dist/image/setup.sh" "$work/root/tmp/setup.sh"
chroot "$work/root" sh /tmp/setup.sh || die "dist/image/setup.sh"
rm "$work/root/tmp/setup.sh"
install -m 0755 "$src/dist/image/weft-healthcheck" "$work/root/usr/local/bin/"

# Docker format: OCI images have no HEALTHCHECK.
export BUILDAH_FORMAT=docker
set -- --storage-driver vfs
if [ -n "${WEFT_BUILDAH_STORAGE:-}" ]; then
	set -- "$@" --root "$WEFT_BUILDAH_STORAGE/root" --runroot "$WEFT_BUILDAH_STORAGE/run"
fi
ctr=$(buildah "$@" from --name "weft-image-$$" scratch)
mnt=$(buildah "$@" mount "$ctr")
tar -C "$work/root" -cf - . | tar -C "$mnt" -xpf -
buildah "$@" umount "$ctr" >/dev/null
rev=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
buildah "$@" config \
	--user 10001:10001 --workingdir /var/lib/weft \
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--label org.opencontainers.image.title=weft \
	--label org.opencontainers.image.description="Weft: weft-controller, weft-relay, weft-agent" \
	--label org.opencontainers.image.version="$version" \
	--label org.opencontainers.image.revision="$rev" \
	--label org.opencontainers.image.source=https://github.com/weft-mesh/weft \
	--label org.opencontainers.image.base.name=debian:bookworm-minbase \
	--port 8080/tcp --port 3478/udp \
	--healthcheck 'CMD weft-healthcheck' --healthcheck-interval 30s \
	--healthcheck-timeout 5s --healthcheck-retries 3 \
	--cmd '["weft-controller","serve","--listen","0.0.0.0:8080","--data-dir","/var/lib/weft","--bootstrap-key-file","/var/lib/weft/bootstrap-admin-key"]' \
	"$ctr"
buildah "$@" commit --quiet --format docker --rm "$ctr" "$image" >/dev/null
echo "image.sh: built $image ($(du -sh "$work/root" | cut -f1) root)"
