// Package result holds the JSON result of one comparison run (the field names
// svc-dht-perf uses) and the latency summary helpers that fill it.
package result
