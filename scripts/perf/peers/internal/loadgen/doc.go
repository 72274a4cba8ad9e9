// Package loadgen drives a fixed number of closed-loop workers (one request
// in flight each) through a warm-up and a measurement window, bounded both in
// time and in the total number of calls, and collects the latencies of the
// calls that completed inside the window.
package loadgen
