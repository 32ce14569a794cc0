#!/bin/sh
# Run inside the image's root after apt installed the Weft packages, by
# the Containerfile and by scripts/image.sh alike: the fixed user the
# chart runs the controller and relay as (weft, uid/gid 10001; the
# package made it with a dynamic id), their state directories, and no
# documentation or package lists.
set -eu
groupmod -g 10001 weft
usermod -u 10001 -g 10001 -d /var/lib/weft weft
install -d -o 10001 -g 10001 -m 0700 /var/lib/weft /var/lib/weft-relay
install -d -m 0755 /run/weft
rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* \
	/var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
