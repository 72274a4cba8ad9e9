// Package ctl is the control channel between rpc-server and rpc-load: the
// server answers GET /stats on a loopback HTTP port with its CPU time,
// allocation count, RPCs served and routing table size, so the load side can
// take the deltas over its measurement window.
package ctl
