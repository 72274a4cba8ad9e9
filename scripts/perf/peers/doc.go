// Command peers runs go-libp2p-kad-dht and anacrolix/dht through the same
// measurements as svc-dht-perf, on loopback only, and writes results with the
// same JSON field names. It is a separate module so that svc-dht never
// depends on either library.
//
// Subcommands:
//
//	peers rpc-server --impl libp2p|anacrolix --listen 127.0.0.1:PORT [--ctl 127.0.0.1:PORT] [--fill 32]
//	peers rpc-load   --impl libp2p|anacrolix --target 127.0.0.1:PORT [--inflight 64] [--duration 20s] [--json FILE]
//	peers swarm      --impl libp2p|anacrolix --nodes 200 --lookups 500 [--json FILE]
//	peers table      [--machine FILE] [--notes] [LABEL=]FILE.json...
//
// rpc-server answers single FIND_NODE RPCs and serves its CPU time,
// allocation count and RPCs served on GET /stats at the control address (by
// default the listen ip:port over TCP). rpc-load drives it with a fixed number
// of requests in flight and reports the achieved rate, the server's CPU and
// allocations per RPC over the measurement window, and the RPC latency.
// swarm runs N nodes in one process, bootstraps them from a few seeds, and
// measures the time to bootstrap, lookup latency, RPCs per lookup and memory
// per node. table renders results of this tool and of svc-dht-perf (read
// through a local copy of the fields it shows, so this module never imports
// svc-dht) side by side. See README.md for the exact commands.
package main
