#!/bin/sh
# One svc-dht daemon on loopback, the load generator beside it (issue 5,
# point 4, first item): mixed 60/35/5 over real QUIC.
#   sustained  RATE RPC/s for DURATION (default 25,000 for 60 s)
#   latency    4,000 RPC/s for DURATION/2: p99 RPC latency
#   burst      2 x RATE for DURATION: only Busy/QuotaExceeded refusals, RSS
#              sampled every 5 s (flat = no growth after the first samples)
# The daemon's admission limit (limits.max_rps) is RATE, so the burst meets
# the designed backpressure: what is over RATE is refused with 1429 or, when
# the work queue is full, 1501. Each phase restarts the daemon so that one
# does not inherit the other's state, and writes its JSON result
# (cmd/internal/perfresult) to OUTDIR. achieved_rps there counts every
# answered RPC, refusals included: the sustained figure is the "ok" count
# divided by the duration.
#
# usage: scripts/perf/node.sh [OUTDIR]
# env:   RATE=25000 DURATION=60s CLIENTS=8 INFLIGHT=256 PROFILE=macronode
#        (macronode: the daemon built with -tags macronode, whose /metrics
#        carries the allocation counters) DAEMON_PROCS (GOMAXPROCS of the
#        daemon, unset = Go's default) PORT=4433 OPS=127.0.0.1:9108
# Exit status: 0 when every phase ran and the burst saw no error other
# than Busy/QuotaExceeded; 1 otherwise.
set -eu

. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-$(mktemp -d /tmp/svc-dht-node.XXXXXX)}
mkdir -p "$out"

RATE=${RATE:-25000}
DURATION=${DURATION:-60s}
CLIENTS=${CLIENTS:-8}
INFLIGHT=${INFLIGHT:-256}
PROFILE=${PROFILE:-macronode}
PORT=${PORT:-4433}
OPS=${OPS:-127.0.0.1:9108}

tags=
[ "$PROFILE" = macronode ] && tags="-tags macronode"
echo "svc-dht node load: results in $out"
go build -buildvcs=auto $tags -o "$out/svc-dht" ./cmd/svc-dht
go build -buildvcs=auto -o "$out/svc-dht-perf" ./cmd/svc-dht-perf
secs=${DURATION%s}
status=0

# phase NAME RPS SECONDS: one daemon, one generator run.
phase() {
	name=$1 rps=$2 dur=$3
	echo "== $name: $rps RPC/s for $dur"
	if [ -n "${DAEMON_PROCS:-}" ]; then
		GOMAXPROCS=$DAEMON_PROCS "$out/svc-dht" --amnesia.enabled=true --listen_addr "127.0.0.1:$PORT" --ops_addr "$OPS" \
			--bootstrap.use_default_seeds=false --limits.peer_rps "$RATE" --limits.max_rps "$RATE" \
			--log.level warn 2> "$out/$name-daemon.log" &
	else
		"$out/svc-dht" --amnesia.enabled=true --listen_addr "127.0.0.1:$PORT" --ops_addr "$OPS" \
			--bootstrap.use_default_seeds=false --limits.peer_rps "$RATE" --limits.max_rps "$RATE" \
			--log.level warn 2> "$out/$name-daemon.log" &
	fi
	daemon=$!
	ready=0
	wait_readyz "$OPS" && ready=1
	if [ "$ready" = 0 ]; then
		echo "$name: the daemon did not answer /readyz on $OPS within 10 s (log: $out/$name-daemon.log)" >&2
		kill "$daemon" 2> /dev/null || true
		wait "$daemon" 2> /dev/null || true
		status=1
		return
	fi
	# RSS every 5 s while the generator runs.
	(
		while kill -0 "$daemon" 2> /dev/null; do
			awk -v t="$(date +%s)" '/^VmRSS/ {print t, $2, $3}' "/proc/$daemon/status" 2> /dev/null || true
			sleep 5
		done
	) > "$out/$name-rss.txt" &
	sampler=$!
	"$out/svc-dht-perf" --target "quic://127.0.0.1:$PORT" --rps "$rps" --mix 60/35/5 --duration "$dur" \
		--clients "$CLIENTS" --inflight "$INFLIGHT" --server-pid "$daemon" --server-metrics "http://$OPS/metrics" \
		--progress=false --json "$out/$name.json" | tee "$out/$name.txt" || status=1
	kill "$daemon" 2> /dev/null || true
	wait "$daemon" 2> /dev/null || true
	kill "$sampler" 2> /dev/null || true
	wait "$sampler" 2> /dev/null || true
	echo "$name: daemon RSS samples (unix-time kB): $(tr '\n' ' ' < "$out/$name-rss.txt" | sed 's/ kB/kB/g')"
}

phase sustained "$RATE" "$DURATION"
phase latency 4000 "$((secs / 2))s"
phase burst "$((RATE * 2))" "$DURATION"

# The burst may be refused only with Busy (1501) or QuotaExceeded (1429).
if [ -f "$out/burst.txt" ]; then
	codes=$(grep -o 'codes map\[[^]]*\]' "$out/burst.txt" | sed 's/codes map\[//; s/\]//' | tr ' ' '\n' | cut -d: -f1 | sort -u | tr '\n' ' ')
	bad=$(echo "$codes" | tr ' ' '\n' | grep -v -E '^(ok|busy|quota_exceeded|)$' || true)
	if [ -n "$bad" ]; then
		echo "burst: codes other than ok/busy/quota_exceeded: $bad" >&2
		status=1
	else
		echo "burst: codes seen: $codes(only ok/busy/quota_exceeded)"
	fi
fi
exit $status
