// Package seeds holds the bootstrap side of a node: seed addresses, the
// embedded default seed list, and the strategy for dialing seeds.
//
// A seed is "quic://host:port" or, pinned to the node ID its certificate must
// prove, "<64 hex id>@quic://host:port" (Parse, Seed). FromConfig merges the
// configured seeds with the embedded default list (default.txt, empty until a
// public network exists: see that file) and de-duplicates them by address.
// An empty result means the node is the first node of its network.
//
// Dialer is the dial scheduler as a pure state machine (no I/O, goroutines
// or clock): randomized order from an injected math/rand/v2 source, at most N
// dials at once, per-seed backoff 1 s, 5 s, 15 s, 60 s, then 300 s, each
// ±20% jitter, reset by a success. Runner drives a Dialer with a caller's
// DialFunc and an injected Clock, tracks which seeds are up and how many
// answered (bootstrap.required), and records when the first dial started
// relative to process start (dht_boot_first_dial_seconds). This package
// knows nothing about QUIC: the transport is reached only through DialFunc.
package seeds
