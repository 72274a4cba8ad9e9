package runtime

import (
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// job is one inbound RPC on its way through the runtime: admitted by the
// transport's stream goroutine, decoded by an event loop, served by the
// owner, encoded by the loop, answered by the stream goroutine. Jobs are
// pooled.
type job struct {
	ctx     context.Context
	peer    transport.PeerInfo
	req     []byte // request envelope; valid until done is signalled
	dst     []byte // pooled response buffer from the transport
	arrived time.Time

	hdr      wire.Envelope // request header (op, corr_id) for the answer
	creq     core.Request
	verified bool  // creq.Record was verified off the owner
	verr     error // its verdict
	resp     *core.Response
	reply    chan struct{} // the owner signals the processor here

	out  []byte
	err  error
	done chan struct{} // cap 1: the answer (out or err) is ready
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}

func (j *job) finish(out []byte, err error) {
	j.out, j.err = out, err
	j.done <- struct{}{}
}

// proc is the scratch state of one goroutine that processes jobs (an
// event loop or a verification worker): decoding buffers and the response
// the owner fills, reused from job to job.
type proc struct {
	env   wire.Envelope
	resp  core.Response
	reply chan struct{} // cap 1
}

// loop is one per-core event loop with its bounded work queue.
type loop struct {
	proc
	q chan *job
}

// Errors answered at intake, before any heavy work.
var (
	errDraining    = wire.NewError(wire.CodeBusy, "node shutting down")
	errQueueFull   = wire.NewError(wire.CodeBusy, "work queue full")
	errNotStarted  = wire.NewError(wire.CodeNotReady, "node starting")
	errMaxInflight = &wire.Error{Code: wire.CodeQuotaExceeded, Kind: "max_inflight", Reason: "quota: inbound requests in flight"}
	errMaxRPS      = &wire.Error{Code: wire.CodeQuotaExceeded, Kind: "max_rps", Reason: "quota: global request rate"}
	errPeerRPS     = &wire.Error{Code: wire.CodeQuotaExceeded, Kind: "peer_rps", Reason: "quota: peer request rate"}
	errNotRequest  = wire.NewError(wire.CodeMalformed, "expected a request envelope")
)

// serveRPC is the transport's Handler, run on the stream's goroutine. It
// applies the cheap checks — draining, the inflight cap, the global and
// per-peer rates — then hands the request to an event loop's bounded queue
// without ever blocking on it (all full: 1501 Busy), and waits for the
// answer.
func (n *Node) serveRPC(ctx context.Context, peer transport.PeerInfo, req, dst []byte) ([]byte, error) {
	switch n.state.Load() {
	case stateNew:
		return nil, errNotStarted
	case stateRunning:
	default:
		n.m.BusyRejected(peekOp(req))
		return nil, errDraining
	}
	if n.draining.Load() {
		n.m.BusyRejected(peekOp(req))
		return nil, errDraining
	}
	if n.inflight.Add(1) > n.maxInflight.Load() {
		n.release()
		n.m.Rejected("max_inflight")
		return nil, errMaxInflight
	}
	defer n.release()
	now := n.now()
	ns := now.UnixNano()
	if !n.peerLimit.allow(peer.ID, ns) {
		n.m.Rejected("peer_rps")
		return nil, errPeerRPS
	}
	if !n.global.allow(ns) {
		n.m.Rejected("max_rps")
		return nil, errMaxRPS
	}
	j := jobPool.Get().(*job)
	j.ctx, j.peer, j.req, j.dst, j.arrived = ctx, peer, req, dst, now
	if !n.enqueue(j) {
		j.reset()
		n.m.QueueDropped("work")
		n.m.BusyRejected(peekOp(req))
		return nil, errQueueFull
	}
	<-j.done
	out, err := j.out, j.err
	j.reset()
	return out, err
}

// release ends one inbound request's inflight slot.
func (n *Node) release() {
	if n.inflight.Add(-1) == 0 && n.draining.Load() {
		select {
		case n.drained <- struct{}{}:
		default:
		}
	}
}

// reset clears j and returns it to the pool.
func (j *job) reset() {
	done := j.done
	*j = job{done: done}
	jobPool.Put(j)
}

// enqueue offers j to the event loops' queues, round robin from a rotating
// start, without blocking.
func (n *Node) enqueue(j *job) bool {
	k := len(n.loops)
	start := int(n.rr.Add(1) % uint32(k))
	for i := range k {
		select {
		case n.loops[(start+i)%k].q <- j:
			return true
		default:
		}
	}
	return false
}

// queueDepth is queue_depth{queue="work"}.
func (n *Node) queueDepth() int {
	d := 0
	for _, l := range n.loops {
		d += len(l.q)
	}
	return d
}

// runLoop is one event loop: it decodes and validates its queue's
// requests, has the owner serve them and encodes the answers.
func (n *Node) runLoop(l *loop) {
	defer n.wg.Done()
	for {
		select {
		case j := <-l.q:
			n.process(&l.proc, j)
		case <-n.quit:
			for {
				select {
				case j := <-l.q:
					j.finish(nil, errDraining)
				default:
					return
				}
			}
		}
	}
}

// runVerifier is a verification worker (macronode): it checks PROVIDE
// records off the event loops, then finishes their jobs.
func (n *Node) runVerifier() {
	defer n.wg.Done()
	p := &proc{reply: make(chan struct{}, 1)}
	for {
		select {
		case j := <-n.verifyQ:
			n.verify(j)
			n.route(p, j)
		case <-n.quit:
			for {
				select {
				case j := <-n.verifyQ:
					j.finish(nil, errDraining)
				default:
					return
				}
			}
		}
	}
}

// process decodes and validates j, verifies a PROVIDE record (inline, or
// through the verification pool when there is one), and routes j to the
// owner.
func (n *Node) process(p *proc, j *job) {
	if err := j.ctx.Err(); err != nil {
		j.finish(nil, err) // the caller gave up: nobody to answer
		return
	}
	if err := wire.DecodeEnvelope(j.req, &p.env); err != nil {
		n.m.Rejected(rejectReason(err))
		j.finish(nil, err)
		return
	}
	if p.env.IsResponse() {
		n.m.Rejected("malformed")
		j.finish(nil, errNotRequest)
		return
	}
	j.hdr = wire.Envelope{ProtoVer: p.env.ProtoVer, Op: p.env.Op, CorrID: p.env.CorrID, Flags: p.env.Flags}
	if err := core.DecodeRequest(&p.env, &j.creq); err != nil {
		n.m.Rejected(rejectReason(err))
		j.finish(nil, err)
		return
	}
	if j.creq.Op == wire.OpProvide && j.creq.Record != nil {
		if n.verifyQ != nil {
			select {
			case n.verifyQ <- j:
			default:
				n.m.QueueDropped("verify")
				n.m.BusyRejected(wire.OpProvide.String())
				j.finish(nil, errQueueFull)
			}
			return
		}
		n.verify(j)
	}
	n.route(p, j)
}

// verify checks j's PROVIDE record and keeps the verdict for the core.
func (n *Node) verify(j *job) {
	info, err := n.verifier.Load().v.Verify(j.creq.Record, n.now())
	n.m.RecordVerified(info, err)
	j.verified, j.verr = true, err
}

// route has the owner serve j (waiting for it), then encodes the answer
// into j's pooled buffer.
func (n *Node) route(p *proc, j *job) {
	j.resp, j.reply = &p.resp, p.reply
	select {
	case n.inbound <- j:
	case <-n.ownerDone:
		j.finish(nil, errDraining)
		return
	}
	select {
	case <-p.reply:
	case <-n.ownerDone:
		// The owner may have answered just before it stopped.
		select {
		case <-p.reply:
		default:
			j.finish(nil, errDraining)
			return
		}
	}
	now := n.now()
	out := append(j.dst[:0], 0, 0, 0, 0)
	out, err := core.AppendResponse(out, &j.hdr, &p.resp, now.Unix())
	if err != nil {
		j.finish(nil, err)
		return
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	n.m.RPCServed(j.hdr.Op, p.resp.Code, now.Sub(j.arrived))
	j.finish(out, nil)
}

// serveInbound is the owner's part of an inbound request: the core
// answers it into the processor's response.
func (n *Node) serveInbound(j *job) {
	if g := n.opts.hooks; g != nil && g.ownerGate != nil {
		<-g.ownerGate
	}
	now := n.now()
	from := kbucket.Peer{ID: j.peer.ID, Addr: j.peer.Addr}
	if p, ok := n.core.Table().Find(from.ID); !ok || p.Addr != from.Addr {
		// The transport dials from its listening socket, so the observed
		// address is where the peer can be reached.
		from.Addrs = n.observedAddrs(from.Addr)
	}
	if j.verified {
		n.pre.one, n.pre.oneErr = j.creq.Record, j.verr
	}
	acts := n.core.HandleRequest(now, from, &j.creq, j.resp)
	n.pre.one, n.pre.oneErr = nil, nil
	if j.creq.Op == wire.OpProvide {
		n.countProvide(j.resp)
	}
	j.reply <- struct{}{}
	n.do(acts)
}

// countProvide counts an inbound PROVIDE's outcome.
func (n *Node) countProvide(r *core.Response) {
	switch r.Code {
	case wire.CodeOK:
		n.m.ProviderRecords(metrics.RecordStored, 1)
	case wire.CodeQuotaExceeded:
		n.m.ProviderRecords(metrics.RecordRefused, 1)
		n.m.Rejected("store_full")
	default:
		n.m.ProviderRecords(metrics.RecordInvalid, 1)
		n.m.Rejected(codeReason(r.Code))
	}
}

// rejectReason is the rejected_total reason of a refused request.
func rejectReason(err error) string { return codeReason(wire.CodeOf(err)) }

func codeReason(c wire.Code) string {
	switch c {
	case wire.CodeBadVersion:
		return "bad_version"
	case wire.CodeFrameTooLarge:
		return "frame_too_large"
	case wire.CodeBadSignature:
		return "bad_signature"
	case wire.CodeStaleRecord:
		return "stale_record"
	case wire.CodeNotReady:
		return "not_ready"
	}
	return "malformed"
}

// peekOp returns the opcode name of a request envelope without decoding
// it, for the endpoint label of a request refused at intake: Core
// Deterministic CBOR puts proto_ver (key 0) first and the opcode (key 1)
// second. Anything else is "other".
func peekOp(b []byte) string {
	if len(b) < 1 || b[0]>>5 != 5 { // a map
		return "other"
	}
	i := 1
	if b[0]&0x1f >= 24 {
		return "other" // more than 23 keys: not an envelope
	}
	skipUint := func() bool { // one unsigned integer at b[i]
		if i >= len(b) || b[i]>>5 != 0 {
			return false
		}
		switch ai := b[i] & 0x1f; {
		case ai < 24:
			i++
		case ai <= 27:
			i += 1 + 1<<(ai-24)
		default:
			return false
		}
		return i <= len(b)
	}
	if i+1 >= len(b) || b[i] != 0 {
		return "other"
	}
	i++
	if !skipUint() || i+1 >= len(b) || b[i] != 1 {
		return "other"
	}
	op := b[i+1]
	if op > byte(wire.OpStore) {
		return "other"
	}
	return wire.Opcode(op).String()
}

// maxAddrCache bounds the owner's cache of observed-address strings.
const maxAddrCache = 4096

// observedAddrs (owner) returns the quic:// address list of an observed
// address, cached so that a peer that keeps calling without a place in the
// table (a full bucket) does not cost an allocation per request. The
// slices are shared and never modified.
func (n *Node) observedAddrs(ap netip.AddrPort) []string {
	if a, ok := n.addrCache[ap]; ok {
		return a
	}
	if len(n.addrCache) >= maxAddrCache {
		clear(n.addrCache)
	}
	a := []string{transport.Scheme + ap.String()}
	n.addrCache[ap] = a
	return a
}
