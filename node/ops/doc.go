// Package ops is the node's operations HTTP plane (SPEC §9): /metrics,
// /healthz, /readyz and /version on one listener, localhost by default
// (127.0.0.1:9108), with a Mount hook for the local client API.
//
// Endpoints (GET and HEAD):
//
//   - /metrics: the Prometheus text format of the node's metrics
//     (node/metrics). Concurrent scrapes share one rendering: a request
//     that arrives while a rendering is in progress is answered with it.
//   - /healthz: 200 {"service":"svc-dht","status":"ok"} while the process
//     serves HTTP.
//   - /readyz: 200 {"service":"svc-dht","ready":true} when the runtime's
//     Readiness says so ("first_node":true for a node without seeds, the
//     first of its network); otherwise 503 with a Retry-After header and
//     {"service","ready":false,"degraded","missing":[...],"retry_after"},
//     retry_after in whole seconds like the header. degraded names the
//     state: "starting" before the runtime attached its Readiness,
//     "draining" from SetDraining on, otherwise the runtime's word
//     (typically "bootstrapping").
//   - /version: {"service","version","git","build_ts","go","features":[...]}
//     (see NewVersionInfo), the same JSON as `svc-dht --version`.
//   - /debug/pprof/...: net/http/pprof, in the macronode build only.
//
// Shutdown order (issue 4): the runtime calls SetDraining first, so that
// /readyz answers 503 at once while in-flight work drains, and Shutdown
// last. Every request body is capped (Options.MaxBodyBytes, answered 413
// beyond it); LimitBody is the same cap for other handlers. Binding to an
// address that is not loopback logs a warning: the plane has no
// authentication.
package ops
