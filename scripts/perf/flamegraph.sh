#!/bin/sh
# Captures a CPU profile of one svc-dht daemon under the Silver load
# (PERFORMANCE.md §4: 2,500 RPC/s mixed 60/35/5) and renders it twice: as a
# flame graph SVG (scripts/perf/flame, a small Go program in its own module:
# root at the bottom, width = CPU share, svc-dht's own packages in blue,
# hover a frame for its function, samples and share) and as a pprof call
# graph SVG (`go tool pprof -svg`). The daemon is the macronode build, whose
# ops plane serves /debug/pprof (the micronode build has no pprof endpoint);
# the load comes from svc-dht-perf --target beside it.
#
# usage: scripts/perf/flamegraph.sh [OUTDIR]   (default: a fresh directory under /tmp)
#
# Environment: RPS=2500  SECONDS_PROFILED=20  PORT=4433  OPS=127.0.0.1:9108  SEED=1
# Writes OUTDIR/flame.svg (the flame graph; open it in a browser),
# OUTDIR/stacks.txt (the folded stacks, "a;b;c cpu-ns" lines),
# OUTDIR/cpu.svg (the call graph), OUTDIR/cpu.pb.gz (the raw profile; also
# try `go tool pprof -http=: OUTDIR/cpu.pb.gz`) and OUTDIR/load.json.
# The call graph needs graphviz (dot): installed with apt-get when missing
# and running as root, otherwise the script says so and stops.
set -eu

. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
out=${1:-$(mktemp -d /tmp/svc-dht-flame.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd) # absolute: the flame renderer runs from its own directory
RPS=${RPS:-2500}
SECONDS_PROFILED=${SECONDS_PROFILED:-20}
PORT=${PORT:-4433}
OPS=${OPS:-127.0.0.1:9108}
SEED=${SEED:-1}

if ! command -v dot > /dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null 2>&1; then
		echo "installing graphviz (dot) for go tool pprof -svg"
		apt-get install -y graphviz > /dev/null || { apt-get update > /dev/null && apt-get install -y graphviz > /dev/null; }
	else
		echo "graphviz (dot) is missing: install it (apt-get install graphviz) and run again" >&2
		exit 1
	fi
fi

go build -tags macronode -o "$out/svc-dht" ./cmd/svc-dht
go build -o "$out/svc-dht-perf" ./cmd/svc-dht-perf

"$out/svc-dht" --profile macronode --listen_addr "127.0.0.1:$PORT" --ops_addr "$OPS" \
	--bootstrap.use_default_seeds=false --amnesia.enabled=true \
	--limits.peer_rps 100000 --limits.max_rps 100000 --log.level warn 2> "$out/daemon.log" &
daemon=$!
trap 'kill "$daemon" 2> /dev/null || true' EXIT
ready=0
wait_readyz "$OPS" && ready=1
if [ "$ready" != 1 ]; then
	echo "the daemon did not answer /readyz on $OPS within 10 s (log: $out/daemon.log)" >&2
	exit 1
fi

# The load runs a little longer than the profile, which starts once the
# generator has connected.
"$out/svc-dht-perf" --target "quic://127.0.0.1:$PORT" --rps "$RPS" --mix 60/35/5 --seed "$SEED" \
	--duration "$((SECONDS_PROFILED + 4))s" --server-pid "$daemon" --server-metrics "http://$OPS/metrics" \
	--json "$out/load.json" --progress=false > "$out/load.txt" &
load=$!
sleep 2
curl -sf -o "$out/cpu.pb.gz" "http://$OPS/debug/pprof/profile?seconds=$SECONDS_PROFILED"
wait "$load"
(cd scripts/perf/flame && go run . -o "$out/flame.svg" -folded "$out/stacks.txt" \
	-title "svc-dht macronode CPU under the Silver load ($RPS RPC/s mixed 60/35/5)" "$out/cpu.pb.gz")
go tool pprof -svg -output "$out/cpu.svg" "$out/svc-dht" "$out/cpu.pb.gz"
cat "$out/load.txt"
echo "profile: $out/cpu.pb.gz  flame graph: $out/flame.svg  call graph: $out/cpu.svg"
