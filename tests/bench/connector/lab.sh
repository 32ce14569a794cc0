# The connector benchmarks' lab, sourced by tests/bench/connector/run.sh
# and flows.sh (not run): checks root, installs the Debian tools named in
# BENCH_TOOLS when missing (iperf3 jq by default), builds weft-agent,
# weft-controller, weft-relay and the targets in BENCH_TARGETS into
# BUILD_DIR (tests/bench/build.sh), and defines bench_lab_up. The caller
# sets src and build before sourcing it; the lab is cleaned up on exit.
#
# bench_lab_up ACLS: tests/netns/connector_lab.sh's lab: client a and
# connector c on the netlab's "inet" bridge (no NAT), the controller and
# a relay in inet, the site namespace h ($H) on a veth behind c; a CIDR
# resource "site" (192.168.77.0/24, connectors tag:c) and the policy
# {"tagOwners": ..., "acls": ACLS} (a JSON array; tag:a is the client,
# tag:c the connector); agents a (--accept-routes) and c (--connector)
# running, a reaching h and c by ping, the tunnel on the direct path when
# it gets there within 5 s; a's agent also gets BENCH_A_FLAGS (the
# stream benchmark's forward). Sets c4 (c's mesh IPv4), path (a's path
# to c), a_pid and c_pid (the agents' pids).
NETLAB=$src/tests/harness/netlab.sh
CTL_ADDR=203.0.113.1:8080
RELAY_ADDR=203.0.113.1:3478
URL=http://$CTL_ADDR
H=192.168.77.10
C_LAN=192.168.77.1
LAB_NO_DIRECT=

say() { echo "connector-bench: $*" >&2; }
fail() { say "FAIL: $*"; }

[ "$(id -u)" = 0 ] || { say "needs root"; exit 1; }
for t in ${BENCH_TOOLS:-iperf3 jq}; do
	command -v $t >/dev/null 2>&1 ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $t \
			>/dev/null </dev/null
done
"$src/tests/bench/build.sh" "$build" weft-agent weft-controller weft-relay \
	${BENCH_TARGETS:-} || exit 1
AGENT=$build/agent/weft-agent
CTL=$build/controller/weft-controller
RELAY=$build/relay/weft-relay

. "$src/tests/netns/lib.sh"
. "$src/tests/netns/connector_lab.sh"
L=cbench$$
lab_up=
pids=
tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

bench_lab_up() {
	lab up "$L" --a inet --b none --c inet --owner $$ || exit 1
	lab_up=1
	make_site || exit 1
	start_controller || { say "controller did not start"; exit 1; }
	admin=$(grep -o 'weft_api_[^[:space:]]*' "$tmp/ctl.out" | head -n1)
	"$CTL" relay-key --data-dir "$tmp/ctl" >"$tmp/ctl.pub" || exit 1
	start_relay || { say "relay did not start"; exit 1; }
	api POST /api/v1/relays "{\"name\":\"inet\",\"region\":\"lab\",
		\"address\":\"$RELAY_ADDR\",\"public_key_pin\":\"$pin\"}" >/dev/null
	# The connector tag must be declared before a resource names it,
	# and the resource must exist before the policy grants it.
	api PUT /api/v1/policy '{"tagOwners":{"tag:a":[],"tag:c":[]}}' \
		>/dev/null || exit 1
	api POST /api/v1/resources "{\"name\":\"site\",\"address\":\"192.168.77.0/24\",
		\"connectors\":{\"tags\":[\"tag:c\"]}}" >/dev/null || exit 1
	api PUT /api/v1/policy "{\"tagOwners\":{\"tag:a\":[],\"tag:c\":[]},
		\"acls\":$1}" >/dev/null || exit 1
	ka=$(api POST /api/v1/auth-keys '{"tags":["tag:a"]}' | jq -r .key)
	kc=$(api POST /api/v1/auth-keys '{"tags":["tag:c"]}' | jq -r .key)
	start_agent a "$ka" --accept-routes ${BENCH_A_FLAGS:-}
	a_pid=$AGENT_PID
	start_agent c "$kc" --connector
	c_pid=$AGENT_PID
	wait_running a 1 && wait_running c 1 || exit 1
	c4=$(cli a peers | jq -r '.peers[0].ipv4')
	for _ in $(seq 50); do
		ping_ok a "$H" 1 && ping_ok a "$c4" 1 && break
	done
	for _ in $(seq 25); do
		[ "$(cli a peers | jq -r '.peers[0].path')" = direct ] && break
		sleep 0.2
	done
	path=$(cli a peers | jq -r '.peers[0].path')
}
