// Command dhtctl is the command-line client of a svc-dht node's local API
// (package node/api), served on the node's ops listener.
//
// Usage:
//
//	dhtctl [--ops ADDR] [--json] [--timeout D] COMMAND [ARGS]
//
// Commands:
//
//	ping [PEER]                    ping a peer (ID, quic://host:port or ID@quic://...), or the node itself
//	find-node ID                   find the nodes closest to ID
//	provide (KEY | --data TEXT) [--addr A]... [--ttl D]
//	                               sign and announce a provider record for KEY (or for BLAKE3(TEXT))
//	find-providers KEY             find the providers of KEY
//	peers                          show the routing table
//	stats                          show the node's counters, sizes and readiness
//	help [COMMAND]                 show help
//
// --ops defaults to $SVC_DHT_OPS, else 127.0.0.1:9108. --json prints the
// API's JSON answer (and, on failure, its JSON error body) on stdout.
// Global flags may also follow the command.
//
// Exit status: 0 success, 1 the operation failed (the node's code, name and
// reason are printed), 2 usage error, 3 node unreachable.
package main
