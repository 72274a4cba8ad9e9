// Package memnet is an in-memory network for real node runtimes: it carries
// their RPC frames between endpoints in one process, with injected round-trip
// time, jitter and loss, so that a swarm of thousands of node/runtime nodes
// (their real event loops and the real codec) runs without sockets. The
// performance harness cmd/svc-dht-perf builds its swarm mode on it through
// runtime.Options.NewTransport.
//
// # Links, delays and loss
//
// Each endpoint gets a public-looking IPv4 address (port 4433) drawn from the
// seed; peers reach it at "quic://ip:4433", as they would a QUIC node. Each
// pair of endpoints has a fixed base RTT in [RTTMin, RTTMax] derived from a
// hash of the pair and the seed. Every message (request or response) takes
// half of its link's RTT plus a uniform jitter in [0, Jitter), and is lost
// with probability Loss. By default a lost message is never delivered: the
// caller waits until its context ends (the RPC timeout) and gets a timeout,
// as a probe to an unreachable peer does, which exercises the protocol's
// hedged probes. With Config.Retransmit a lost message is late instead, as
// over QUIC, whose streams are reliable: the sender retransmits it after
// its probe timeout (the link's RTT, twice the jitter, and QUIC's 25 ms
// ACK delay; RFC 9002 §6.2), drawn for loss again with a doubled timeout.
//
// The random draws are deterministic: the jitter and loss of the n-th
// message an endpoint sends are a pure function of the seed, the endpoint's
// index and n, and its address and the base RTTs of the seed and the
// indices. Timing is real time, so which message is an endpoint's n-th
// depends on the scheduling of the goroutines, and a run is not repeatable
// bit for bit (the simulator node/sim is).
//
// # Scheduling
//
// memnet starts no goroutine of its own. An RPC runs entirely on the
// goroutine of the caller's Call: it waits the request's one-way delay on a
// timer (one per Call, reused for the response's trip), runs
// the callee's handler (which for a runtime node queues the
// request to the node's event loops and waits for the answer, as the QUIC
// transport's stream goroutine does), waits the response's one-way delay on
// a timer and returns. The number of goroutines is therefore the callers'
// own (a runtime node runs one per outstanding probe), and every wait ends
// with the caller's context, the RPC timeout by default. Each endpoint
// serves at most MaxInbound requests at a time; beyond, and while it drains
// or after it closed, a request is refused as the QUIC transport refuses a
// stream (1501 Busy).
//
// # Frames
//
// A request is a complete frame (wire.AppendFrame). A request whose length
// prefix exceeds FrameMax is not given to the handler: the callee answers it
// with a 1413 error envelope, as the QUIC transport does; a response over
// FrameMax is refused by the caller with 1413. Call returns the response
// envelope without its length prefix, appended to dst.
package memnet
