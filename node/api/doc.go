// Package api is the node's local client API: JSON over HTTP on the ops
// listener (localhost only by default), used by applications on the box and
// by dhtctl. Handler serves it over a Backend that the node runtime
// implements; Client is its Go client.
//
// Endpoints, all under /v1/:
//
//	POST /v1/provide          {key: "b3:<hex>" | data: "<text>", addrs?: ["quic://h:p"], ttl?: "24h"}
//	                          → {key, replicas, hops, latency_ms, dual_signed}
//	GET  /v1/providers/{key}  → {key, providers: [{publisher, addrs, ttl, ts, algs}], hops, latency_ms}
//	GET  /v1/closest/{id}     → {target, peers: [{id, addrs, asn?, last_seen?}], hops, latency_ms}
//	POST /v1/ping             {peer?: "<id>" | "quic://host:port" | "<id>@quic://host:port"}
//	                          → {peer, addr?, rtt_ms, self?}
//	GET  /v1/peers            → {self, k, size, buckets: [{index, size, replacements, asn_entropy_bits, asn_max_pct, peers}]}
//	GET  /v1/stats            → {self, ready, missing?, uptime_s, table_size, store: {records, keys, own}, counters}
//
// IDs and keys are written "b3:<64 hex>" (bare hex is accepted on input);
// ttl in a provider is in seconds, ts in unix seconds, *_ms fields are
// fractional milliseconds. A provide without ttl uses the node's
// provider.ttl_secs; a ttl is a Go duration ("90m") or a bare number of
// seconds, whole seconds from 1m to 48h. A ping without a peer is answered
// by the local node itself (self: true).
//
// POST bodies must be application/json, at most Options.MaxBody bytes (64
// KiB by default), a single JSON object without unknown fields. A request may
// bound the time the node spends on it with the header Svc-Dht-Timeout (a Go
// duration); the node also applies Options.MaxTimeout.
//
// Every failure is answered with a JSON body that carries a SPEC code:
//
//	{"error": {"code": 1422, "name": "Malformed", "kind": "...", "reason": "..."}}
//
// HTTP status by code: 400 for 1400 and 1422, 404 for 1404, 413 for 1413,
// 429 for 1429, 503 for 1450 and 1501, 504 for 1508, 500 for the rest
// (1440, 1441). Two request errors use a more precise status with code 1422:
// 405 for a wrong method (with an Allow header) and 415 for a body that is
// not application/json; an unknown endpoint is 404 with code 1404. The
// node's local-only errors have no wire code, so the nearest one is sent
// with the error's kind: transport_down → 502 with 1508, hop_exceeded → 504
// with 1508, no_bootstrap → 503 with 1450. An error outside the closed set
// is 500 with 1501 and kind "internal". Client turns these bodies back into
// errors that match the wire sentinels under errors.Is (see APIError).
package api
