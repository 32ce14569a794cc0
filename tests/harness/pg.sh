#!/bin/sh
# Starts or stops a throw-away PostgreSQL server for the store tests.
#
#   pg.sh start DIR   initdb + start; writes DIR/url, DIR/host, DIR/tmp
#   pg.sh stop DIR    stop (immediate) and remove everything; idempotent
#
# The server listens only on a unix socket inside a mktemp -d directory under
# /tmp (so that the postgres user can reach it when we run as root), with
# fsync off: its data is disposable. DIR (the build's pg/ directory) only
# holds the state files, so a trap in scripts/test.sh can run `pg.sh stop DIR`.
set -eu

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
	echo "usage: $0 start|stop DIR" >&2
	exit 2
fi

pgbin() {
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
		if [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	if command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(command -v pg_ctl)"
		return 0
	fi
	echo "pg.sh: no PostgreSQL server binaries found" >&2
	return 1
}

# Runs a command as the user that owns the cluster.
as_pg() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

stop() {
	[ -f "$dir/tmp" ] || return 0
	tmp=$(cat "$dir/tmp")
	case "$tmp" in
	/tmp/weft-pg.*) ;;
	*) echo "pg.sh: refusing to remove unexpected dir '$tmp'" >&2; exit 1 ;;
	esac
	if [ -f "$tmp/data/postmaster.pid" ]; then
		bin=$(pgbin) || true
		as_pg "$bin/pg_ctl" stop -D "$tmp/data" -m immediate -s >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
	rm -f "$dir/tmp" "$dir/url" "$dir/host"
}

start() {
	stop
	mkdir -p "$dir"
	bin=$(pgbin)
	tmp=$(mktemp -d /tmp/weft-pg.XXXXXX)
	echo "$tmp" >"$dir/tmp"
	if [ "$(id -u)" = 0 ]; then
		chown postgres: "$tmp"
	fi
	as_pg "$bin/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 \
		--no-sync >"$tmp/initdb.log" 2>&1 || {
		cat "$tmp/initdb.log" >&2
		stop
		exit 1
	}
	if ! as_pg "$bin/pg_ctl" start -w -t 60 -D "$tmp/data" -l "$tmp/server.log" \
		-o "-c listen_addresses='' -c unix_socket_directories='$tmp' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		>/dev/null; then
		cat "$tmp/server.log" >&2 || true
		stop
		exit 1
	fi
	echo "$tmp" >"$dir/host"
	echo "postgresql:///postgres?host=$tmp&user=postgres" >"$dir/url"
}

case "$cmd" in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
