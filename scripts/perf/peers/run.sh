#!/usr/bin/env bash
# Side-by-side comparison of go-libp2p-kad-dht, anacrolix/dht and svc-dht on
# loopback (issue 5, point 5). Builds the peers tool and, from the main
# module, the svc-dht daemon (default and macronode builds) and svc-dht-perf,
# then runs the standard set:
#   - one FIND_NODE server per implementation, 64 requests in flight for 20 s
#     after a 3 s warm-up (libp2p twice: streams reused per worker, and a new
#     stream per RPC; svc-dht twice: default build and -tags macronode, each
#     with its routing table filled from a 32-node devnet in another process);
#   - swarms of 100 and 200 nodes, 500 FIND_NODE lookups each;
# and writes one JSON file per run, machine.txt and table.md (all three
# implementations side by side, with the method of each row) into OUTDIR.
#
# usage: scripts/perf/peers/run.sh OUTDIR
# env:   DURATION (20s) WARMUP (3s) INFLIGHT (64) NODES ("100 200") LOOKUPS (500)
#        IMPLS ("libp2p anacrolix svc-dht") PORT_BASE (47100)
#        SVC_BUILDS ("micronode macronode") SVC_RPS (50000, offered; keep it
#        above the daemon's capacity) SVC_CLIENTS (8) SVC_FILL (32)
#        PEERS_NETNS=off to skip the private network namespace.
#
# Everything listens and dials on 127.0.0.1 only (the peers tool refuses any
# other address; svc-dht's daemon and devnet get loopback addresses and no
# default seeds). When unshare(1) and ip(8) are usable (root), the runs also
# happen inside a fresh network namespace whose only interface is loopback,
# so no packet can leave the machine even by mistake.
set -euo pipefail

out=${1:?usage: run.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
bin="$out/peers"
root=$(cd "$here/../../.." && pwd)
IMPLS=${IMPLS:-libp2p anacrolix svc-dht}

if [ -z "${PEERS_IN_NETNS:-}" ]; then
	echo "== build"
	(cd "$here" && go build -o "$bin" .)
	case " $IMPLS " in *" svc-dht "*)
		# svc-dht is built with its own module (the main one), never with this one.
		(cd "$root" && go build -o "$out/svc-dht-micronode" ./cmd/svc-dht &&
			go build -tags macronode -o "$out/svc-dht-macronode" ./cmd/svc-dht &&
			go build -o "$out/svc-dht-perf" ./cmd/svc-dht-perf)
		;;
	esac
	if [ "${PEERS_NETNS:-auto}" != off ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
		unshare -n true 2>/dev/null; then
		echo "== entering a private network namespace (loopback only)"
		exec unshare -n env PEERS_IN_NETNS=1 IMPLS="$IMPLS" bash -c 'ip link set lo up && exec bash "$0" "$1"' "$0" "$out"
	fi
	echo "== no private network namespace (unshare not permitted): loopback guards in the tool only"
fi

DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
INFLIGHT=${INFLIGHT:-64}
NODES=${NODES:-100 200}
LOOKUPS=${LOOKUPS:-500}
PORT_BASE=${PORT_BASE:-47100}
SVC_BUILDS=${SVC_BUILDS:-micronode macronode}
SVC_RPS=${SVC_RPS:-50000}
SVC_CLIENTS=${SVC_CLIENTS:-8}
SVC_FILL=${SVC_FILL:-32}

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "go: $(go version 2>/dev/null || echo unknown)"
	echo "cpus: $(nproc)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "netns: ${PEERS_IN_NETNS:-no}"
	if rev=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null); then
		[ -z "$(git -C "$root" status --porcelain 2>/dev/null)" ] || rev="$rev+dirty"
		echo "svc-dht tree: $rev"
	fi
	echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"
cat "$out/machine.txt"

pids=()
stop_all() { # stop the processes this script started, newest first
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	pids=()
}
trap stop_all EXIT

rpc() { # impl port name [extra rpc-load flags]
	local impl=$1 port=$2 name=$3
	shift 3
	echo "== rpc $name: $impl, $INFLIGHT in flight, $DURATION"
	"$bin" rpc-server --impl "$impl" --listen "127.0.0.1:$port" --max-lifetime 10m &
	pids+=($!)
	"$bin" rpc-load --impl "$impl" --target "127.0.0.1:$port" --inflight "$INFLIGHT" \
		--warmup "$WARMUP" --duration "$DURATION" --json "$out/rpc-$name.json" "$@"
	stop_all
}

# wait_for SECONDS WHAT CMD...: run CMD every 0.2 s until it succeeds.
wait_for() {
	local limit=$1 what=$2 i
	shift 2
	for ((i = 0; i < limit * 5; i++)); do
		if "$@"; then
			return 0
		fi
		sleep 0.2
	done
	echo "run.sh: $what: not within ${limit}s" >&2
	return 1
}

# svc_table_size OPS: the size of the routing table of the daemon whose ops
# plane is OPS (its local API's /v1/peers).
svc_table_size() {
	curl -sf "http://$1/v1/peers" | grep -o '"size":[0-9]*' | head -1 | cut -d: -f2
}

# alive PID LOG: fail the run when process PID is gone (its LOG's tail shown).
alive() {
	kill -0 "$1" 2>/dev/null && return 0
	echo "run.sh: process $1 exited early; end of $2:" >&2
	tail -5 "$2" >&2
	exit 1
}

devnet_ready() { # PID LOG
	alive "$1" "$2" && grep -q "ops plane of node 0" "$2"
}

daemon_ready() { # PID LOG OPS
	alive "$1" "$2" && curl -sf -o /dev/null "http://$3/readyz"
}

svc_filled() { # OPS MIN
	local n
	n=$(svc_table_size "$1") && [ -n "$n" ] && [ "$n" -ge "$2" ]
}

# svc_rpc BUILD PORT: one svc-dht daemon of BUILD (micronode = the default
# build, macronode = -tags macronode) on 127.0.0.1:PORT, its routing table
# filled from a devnet of SVC_FILL nodes in another process, loaded by
# svc-dht-perf with FIND_NODE only. Uses ports PORT to PORT+SVC_FILL+2
# (UDP for the nodes, TCP for the two ops planes).
svc_rpc() {
	local build=$1 port=$2
	local ops="127.0.0.1:$((port + 1))" devops="127.0.0.1:$((port + 2))" devbase=$((port + 3))
	local perf="$out/svc-dht-perf" log="$out/rpc-svc-dht-$build"
	echo "== rpc svc-dht-$build: $INFLIGHT in flight, $SVC_CLIENTS connections, $SVC_RPS/s offered, $DURATION"
	# The filler nodes: a devnet (node 0 first, the others seeded by it), idle
	# once its own provide/find check is done.
	"$out/svc-dht-micronode" devnet --nodes "$SVC_FILL" --ops "$devops" --base-port "$devbase" --seed 1 \
		--log-level error >"$log.devnet.log" 2>&1 &
	local devnet=$!
	pids+=("$devnet")
	wait_for 120 "devnet of $SVC_FILL nodes ready" devnet_ready "$devnet" "$log.devnet.log"
	# The daemon under test: a lone node seeded by devnet node 0; limits raised
	# as scripts/perf/run.sh does so that the load is not refused (1429).
	"$out/svc-dht-$build" --listen_addr "127.0.0.1:$port" --ops_addr "$ops" \
		--bootstrap.use_default_seeds=false --bootstrap.seeds "quic://127.0.0.1:$devbase" \
		--limits.peer_rps 100000 --limits.max_rps 1000000 --log.level warn 2>"$log.daemon.log" &
	local daemon=$!
	pids+=("$daemon")
	wait_for 30 "svc-dht daemon ready on $ops" daemon_ready "$daemon" "$log.daemon.log" "$ops"
	local want=$((SVC_FILL < 20 ? SVC_FILL - 1 : 20))
	wait_for 30 "svc-dht daemon's table at $want entries or more" svc_filled "$ops" "$want"
	local size
	size=$(svc_table_size "$ops")
	echo "svc-dht $build, target: the daemon's routing table held $size nodes (from a $SVC_FILL-node devnet in another process) when the load started; load average then $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/svc-dht-notes.txt"
	local common=(--target "quic://127.0.0.1:$port" --mix 0/100/0 --inflight "$INFLIGHT" --clients "$SVC_CLIENTS"
		--rps "$SVC_RPS" --seed 1 --server-pid "$daemon" --progress=false)
	if [ "$build" = macronode ]; then
		common+=(--server-metrics "http://$ops/metrics")
	fi
	if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
		"$perf" "${common[@]}" --duration "$WARMUP" >/dev/null
	fi
	"$perf" "${common[@]}" --duration "$DURATION" --json "$out/rpc-svc-dht-$build.json"
	stop_all
}

port=$PORT_BASE
rm -f "$out/svc-dht-notes.txt"
for impl in $IMPLS; do
	case $impl in
	svc-dht)
		for build in $SVC_BUILDS; do
			svc_rpc "$build" $((port + 1))
			port=$((port + SVC_FILL + 3))
		done
		;;
	*)
		port=$((port + 1))
		rpc "$impl" "$port" "$impl"
		if [ "$impl" = libp2p ]; then
			port=$((port + 1))
			rpc "$impl" "$port" "$impl-stream-per-rpc" --stream-per-rpc
		fi
		;;
	esac
done

for n in $NODES; do
	for impl in $IMPLS; do
		echo "== swarm: $impl, $n nodes, $LOOKUPS lookups"
		if [ "$impl" = svc-dht ]; then
			# FIND_NODE lookups paced at 25/s for LOOKUPS/25 s: LOOKUPS of them,
			# in effect one at a time; each node on its own QUIC socket on
			# loopback (mutual TLS), like the other swarms' real sockets; 30 s
			# of settle after ready (libp2p's rows get up to 60 s of it).
			"$out/svc-dht-perf" --net quic --settle 30s --peers "$n" --rtt 0s --jitter 0s --loss 0% --mix 0/100/0 \
				--rps 25 --duration "$((LOOKUPS * 40))ms" --seed 1 --progress=false \
				--json "$out/swarm-svc-dht-$n.json"
			echo "svc-dht, swarm of $n nodes: load average at the end $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/svc-dht-notes.txt"
		else
			"$bin" swarm --impl "$impl" --nodes "$n" --lookups "$LOOKUPS" --json "$out/swarm-$impl-$n.json"
		fi
	done
done

echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"

# One table, grouped by measurement, in a fixed order.
files=()
add() { # [LABEL=]NAME
	local label=${1%%=*} name=${1#*=}
	[ "$label" = "$1" ] && label=
	[ -f "$out/$name" ] && files+=("${label:+$label=}$out/$name")
	return 0
}
add rpc-libp2p.json
add rpc-libp2p-stream-per-rpc.json
add rpc-anacrolix.json
for build in $SVC_BUILDS; do
	add "svc-dht $build=rpc-svc-dht-$build.json"
done
for n in $NODES; do
	add "swarm-libp2p-$n.json"
	add "swarm-anacrolix-$n.json"
	add "swarm-svc-dht-$n.json"
done
{
	"$bin" table --machine "$out/machine.txt" --notes "${files[@]}"
	if [ -f "$out/svc-dht-notes.txt" ]; then
		echo
		echo "svc-dht runs (the daemons run the default micronode profile with limits.peer_rps 100000 and limits.max_rps 1000000; svc-dht-perf records no load average, so it is noted here):"
		echo
		sed 's/^/- /' "$out/svc-dht-notes.txt"
	fi
} | tee "$out/table.md"
