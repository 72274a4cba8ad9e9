// Package sim is the deterministic simulator of svc-dht: a discrete-event
// scheduler with a virtual clock that drives many node cores (node/core)
// over a simulated network, in one goroutine.
//
// Events — a request or response reaching a node, a core's timer, a
// scenario callback — sit in a binary heap ordered by (virtual time,
// sequence number), so ties resolve in scheduling order and a run is a pure
// function of Config.Seed and the scenario. Every processed event (time,
// kind, endpoints, probe or timer ID) and every operation result is folded
// into an FNV-1a hash (Sim.TraceHash): same seed, same scenario → same
// hash, bit for bit.
//
// The network: each pair of nodes has a fixed base RTT drawn from
// [RTTMin, RTTMax] by a hash of the pair and the seed; each message takes
// half of it plus uniform jitter, and is lost with probability Loss.
// Partitions cut the links between two sets of nodes for a while; churn
// kills and (re)joins nodes at a rate; a killed node drops all its state,
// messages to it vanish, and a revived or new node bootstraps through the
// seeds. Messages are passed as structs (core.Request / core.Response),
// not encoded, which keeps 10,000-node runs fast; Config.EncodeOnWire sends
// every message through the real codec instead (same run, same trace hash).
//
// Every node has an IP address from an AddressPlan: random public IPv4
// addresses by default (tables group them by /16), or addresses drawn from
// real IP-to-ASN ranges (ASNPlan, e.g. the extract in
// kbucket/asndb/testdata) together with the matching kbucket.Resolver, so
// the routing tables' diversity rules see real ASNs.
//
// Scenarios build a network (Sim.Build), start operations (Sim.FindNode,
// Sim.FindValue, Sim.Provide), inject faults (Kill, Revive, KillRandom,
// Partition, StartChurn, NodeOptions.ExtraDelay for slow nodes,
// NodeOptions.FindNodeHook for hostile ones), run virtual time (Run, Wait,
// At) and summarise the per-operation records (Summarize). README-api.md
// describes the API for scenario authors.
package sim
