#!/bin/sh
# Stream-mode memory benchmark (issue 18): a server on c sends
# BENCH_BYTES (1 GB) as fast as it can to a reader on a that takes
# BENCH_RATE bytes a second (1 MB/s), once through a stream-mode forward
# (a's 127.0.0.1:15204 -> c:8004, the TCP connection as a QUIC stream,
# backpressure by QUIC flow control) and once through the TUN path (c's
# mesh IPv4: the kernels' TCP windows hold the sender back, the agents
# only carry packets): the reference. Both agents' VmRSS is sampled every
# second; printed: their growth at the peak over the start of each run,
# and the ratio stream / TUN of the larger growth.
#
#   tests/bench/stream/slowreader.sh [BUILD_DIR]
#
# Needs root; the lab is tests/bench/connector/lab.sh's. BUILD_DIR
# (default build-bench) as there. Environment: BENCH_BYTES (1000000000),
# BENCH_RATE (1000000): the defaults take 2 x 1,000 s. Not a test: never
# registered with ctest (stream_netns runs a short form in CI).
set -u

src=$(cd "$(dirname "$0")/../../.." && pwd)
build=${1:-$src/build-bench}
bytes=${BENCH_BYTES:-1000000000}
rate=${BENCH_RATE:-1000000}
BENCH_A_FLAGS="--forward 127.0.0.1:15204=c:8004"
. "$src/tests/bench/connector/lab.sh"

bench_lab_up '[
 {"action":"accept","proto":"tcp","src":["tag:a"],"dst":["tag:c:8004"]},
 {"action":"accept","proto":"icmp","src":["tag:a"],"dst":["resource:site:*","tag:c:*"]}]'

# serve: on c, each connection gets exactly $bytes bytes, then EOF.
nsrun c python3 - "$bytes" >"$tmp/serve.log" 2>&1 <<'PY' &
import socket, sys
n = int(sys.argv[1])
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 8004))
l.listen(4)
buf = b"x" * 65536
while True:
    c, _ = l.accept()
    left = n
    while left > 0:
        k = min(left, len(buf))
        c.sendall(buf[:k])
        left -= k
    c.close()
PY
pids="$pids $!"
sleep 0.5

# read HOST PORT: reads $bytes at $rate B/s, samples both agents' RSS;
# prints "BYTES SECONDS GROWTH_A_KB GROWTH_C_KB".
read_slow() {
	nsrun a python3 - "$1" "$2" "$bytes" "$rate" "$a_pid" "$c_pid" <<'PY'
import socket, sys, time
host, port, n, rate, pa, pc = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
def rss(pid):
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
base = (rss(pa), rss(pc))
peak = [0, 0]
s = socket.create_connection((host, port))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
t0 = time.monotonic()
got = 0
tick = rate // 10
next_sample = t0
while got < n:
    want = min(tick, n - got)
    while want > 0:
        d = s.recv(min(want, 65536))
        if not d:
            break
        want -= len(d)
        got += len(d)
    if want > 0:
        break
    now = time.monotonic()
    if now >= next_sample:
        peak[0] = max(peak[0], rss(pa) - base[0])
        peak[1] = max(peak[1], rss(pc) - base[1])
        next_sample = now + 1
    # hold the rate: the tick's bytes every 0.1 s of the schedule
    lag = t0 + got / rate - time.monotonic()
    if lag > 0:
        time.sleep(lag)
print(got, round(time.monotonic() - t0), peak[0], peak[1])
PY
}

say "stream forward: $bytes bytes at $rate B/s"
set -- $(read_slow 127.0.0.1 15204)
sb=$1 ss=$2 sa=$3 sc=$4
say "TUN path: $bytes bytes at $rate B/s"
set -- $(read_slow "$c4" 8004)
tb=$1 ts=$2 ta=$3 tc=$4

echo "slow-reader bench: path $path, $bytes bytes at $rate B/s"
printf '%-24s %12s %8s %16s %16s\n' run bytes seconds "a RSS growth" "c RSS growth"
printf '%-24s %12s %8s %13s kB %13s kB\n' "stream forward" "$sb" "$ss" "$sa" "$sc"
printf '%-24s %12s %8s %13s kB %13s kB\n' "TUN path" "$tb" "$ts" "$ta" "$tc"
awk -v sa="$sa" -v sc="$sc" -v ta="$ta" -v tc="$tc" 'BEGIN {
	s = sa > sc ? sa : sc; t = ta > tc ? ta : tc
	if (t < 1) t = 1
	printf "ratio of peak RSS growth stream / TUN: %.2f (%d kB / %d kB)\n", s / t, s, t }'
[ "$sb" = "$bytes" ] && [ "$tb" = "$bytes" ] ||
	{ fail "a reader got fewer than $bytes bytes"; exit 1; }
