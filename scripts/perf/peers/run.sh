#!/usr/bin/env bash
# Side-by-side comparison of go-libp2p-kad-dht and anacrolix/dht on loopback
# (issue 5, point 5). Builds the peers tool, then runs the standard set:
#   - one FIND_NODE server per implementation, 64 requests in flight for 20 s
#     (libp2p twice: streams reused per worker, and a new stream per RPC);
#   - in-process swarms of 100 and 200 nodes, 500 lookups each;
# and writes one JSON file per run, machine.txt and table.md into OUTDIR.
#
# usage: scripts/perf/peers/run.sh OUTDIR
# env:   DURATION (20s) WARMUP (3s) INFLIGHT (64) NODES ("100 200") LOOKUPS (500)
#        IMPLS ("libp2p anacrolix") PORT_BASE (47100)
#        PEERS_NETNS=off to skip the private network namespace.
#
# Everything listens and dials on 127.0.0.1 only (the tool refuses any other
# address). When unshare(1) and ip(8) are usable (root), the runs also happen
# inside a fresh network namespace whose only interface is loopback, so no
# packet can leave the machine even by mistake.
set -euo pipefail

out=${1:?usage: run.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin="$out/peers"

if [ -z "${PEERS_IN_NETNS:-}" ]; then
	echo "== build"
	(cd "$here" && go build -o "$bin" .)
	if [ "${PEERS_NETNS:-auto}" != off ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
		unshare -n true 2>/dev/null; then
		echo "== entering a private network namespace (loopback only)"
		exec unshare -n env PEERS_IN_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$1"' "$0" "$out"
	fi
	echo "== no private network namespace (unshare not permitted): loopback guards in the tool only"
fi

DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
INFLIGHT=${INFLIGHT:-64}
NODES=${NODES:-100 200}
LOOKUPS=${LOOKUPS:-500}
IMPLS=${IMPLS:-libp2p anacrolix}
PORT_BASE=${PORT_BASE:-47100}

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go version 2>/dev/null || echo unknown)"
	echo "cpus: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "netns: ${PEERS_IN_NETNS:-no}"
	echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt"

server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT

rpc() { # impl port name [extra rpc-load flags]
	local impl=$1 port=$2 name=$3
	shift 3
	echo "== rpc $name: $impl, $INFLIGHT in flight, $DURATION"
	"$bin" rpc-server --impl "$impl" --listen "127.0.0.1:$port" --max-lifetime 10m &
	server_pid=$!
	"$bin" rpc-load --impl "$impl" --target "127.0.0.1:$port" --inflight "$INFLIGHT" \
		--warmup "$WARMUP" --duration "$DURATION" --json "$out/rpc-$name.json" "$@"
	stop_server
}

port=$PORT_BASE
for impl in $IMPLS; do
	port=$((port + 1))
	rpc "$impl" "$port" "$impl"
	if [ "$impl" = libp2p ]; then
		port=$((port + 1))
		rpc "$impl" "$port" "$impl-stream-per-rpc" --stream-per-rpc
	fi
done

for n in $NODES; do
	for impl in $IMPLS; do
		echo "== swarm: $impl, $n nodes, $LOOKUPS lookups"
		"$bin" swarm --impl "$impl" --nodes "$n" --lookups "$LOOKUPS" --json "$out/swarm-$impl-$n.json"
	done
done

echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
"$bin" table "$out"/rpc-*.json "$out"/swarm-*.json | tee "$out/table.md"
