// Command svc-dht is the svc-dht daemon: one Kademlia DHT discovery node
// (node/runtime) with its QUIC listener and its ops plane, or, with the
// devnet subcommand, a local network of such nodes on loopback.
//
// Usage:
//
//	svc-dht [--config FILE] [--KEY VALUE]... [--strict-ready]
//	                        run one node
//	svc-dht --version       print the JSON of GET /version and exit
//	svc-dht --help          document every flag and exit
//	svc-dht config check FILE
//	                        validate a configuration file: "ok", or every problem
//	svc-dht devnet [--nodes N] [--ops ADDR] [--base-port P] [--seed S] [--timeout D] [--log-level L]
//	                        run N nodes (default 8) on 127.0.0.1 over QUIC
//
// Every configuration key is a flag named like the key (--queue_cap.work),
// an SVC_DHT_* environment variable and a TOML key (node/config,
// docs/CONFIG.md). --version prints exactly the body of /version: the
// service, the version, git revision and build time set with
//
//	go build -ldflags "-X main.version=v0.1.0 -X main.git=$(git rev-parse HEAD) -X main.buildTS=$(date -u +%FT%TZ)"
//
// (each falling back to the module's build information, then "unknown"),
// the Go version and the features of the configuration given.
//
// The process start time is taken when the package is initialised, before
// main runs, and given to the runtime, which measures from it the time to
// the first seed dial (dht_boot_first_dial_seconds, log event first_dial
// with first_dial_ms). svc-dht-perf --cold-start measures the whole of it,
// from exec. Build the daemon with CGO_ENABLED=0 (as the release and
// cross builds are): a cgo build links the C library dynamically and starts
// every thread through it, which costs measurably more CPU and page faults
// before the first dial.
//
// runtime.max_procs (micronode 1, macronode 0 = Go's default) sets
// GOMAXPROCS; the GOMAXPROCS environment variable, when set, wins. The
// node starts on every CPU and the setting takes effect 200 ms after it
// started (log event gomaxprocs), so that the first seed dial is not
// delayed; with event_loops = 0 the node gets one event loop per thread it
// will run with. devnet, which runs many nodes in one process, leaves
// GOMAXPROCS alone.
//
// Signals: SIGINT or SIGTERM shuts down gracefully (/readyz 503 first, then
// intake stops and in-flight work drains for up to shutdown_timeout); a
// second one forces the exit (code 1). SIGHUP reloads the configuration
// from the same file, environment and flags: an invalid one is refused with
// a warning (reload_refused) and the running one kept; a valid one is
// applied and the log event reload lists the changed keys, those applied
// and those that need a restart.
//
// Exit codes (SPEC §10): 0 clean exit; 1 other failure (or a forced exit);
// 2 bad configuration or command line, every problem printed with its key;
// 3 bind error (listen_addr or ops_addr unavailable); 4 not ready within
// bootstrap.timeout with --strict-ready (devnet: nodes not ready within
// --timeout).
//
// # devnet
//
// devnet starts N real nodes in this process, each on its own QUIC socket
// on 127.0.0.1 (ephemeral ports, or --base-port P and the next N-1), in
// amnesia mode (nothing written to disk) with the micronode profile and one
// event loop each. Node 0 starts first, without seeds: it is the first node
// of the network. The others are seeded by node 0 with its pinned NodeID.
// Only node 0 serves an ops plane (and the local API, so dhtctl works
// against it), on --ops (default 127.0.0.1:9108); the others have none.
// Once every node is ready, node N-1 provides the key BLAKE3("svc-dht
// devnet") and every other node looks it up (FIND_VALUE); devnet prints the
// readiness time (per node, from its Start to the first poll, every 10 ms,
// that finds it ready), the provide's replicas and latency, the find
// success count and hops and latency percentiles, then keeps every node
// running until SIGINT or SIGTERM and stops them all. --seed S (non-zero)
// makes identities and protocol randomness reproducible.
package main
