package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// probeResult is the outcome of one outbound RPC.
type probeResult struct {
	id       core.ProbeID
	peer     transport.PeerInfo // who answered (the certificate's NodeID)
	resp     core.Response
	verrs    []error // FIND_VALUE: the verdict on each of resp.Providers
	err      error   // no valid answer: transport failure, timeout, bad frame
	rtt      time.Duration
	verified bool // verrs is set
}

// startProbe runs the core's ActSend in a goroutine of its own (or through
// Options.Go), under a context that ActCancel (a hedged loser, a timed-out
// probe) ends.
func (n *Node) startProbe(id core.ProbeID, peer kbucket.Peer, req core.Request) {
	ctx, cancel := context.WithTimeout(n.probeCtx, time.Duration(n.rpcTimeout.Load()))
	n.probes[id] = cancel
	n.wg.Add(1)
	run := func() {
		defer n.wg.Done()
		r := new(probeResult)
		n.rpc(ctx, dialAddr(peer), &peer.ID, &req, r)
		r.id = id
		select {
		case n.results <- r:
		case <-n.ownerDone:
		}
	}
	if n.opts.Go != nil {
		n.opts.Go(run)
		return
	}
	go run()
}

// dialAddr picks the address to reach peer at: its first advertised
// quic:// address with a specified host, else the address its packets came
// from.
func dialAddr(p kbucket.Peer) string {
	for _, a := range p.Addrs {
		if ap, err := netip.ParseAddrPort(strings.TrimPrefix(a, transport.Scheme)); err == nil && ap.Addr().IsUnspecified() {
			continue
		}
		if strings.HasPrefix(a, transport.Scheme) {
			return a
		}
	}
	if p.Addr.IsValid() {
		return transport.Scheme + p.Addr.String()
	}
	return "" // the transport then needs a pooled connection to p.ID
}

// rpc performs one request to addr (expecting the NodeID expect when not
// nil) and fills r: the decoded, validated answer or the error. Every RPC
// is counted in dht_rpcs_total{op,code} and dht_rpcs_inflight; one that got
// no answer counts with code 1508 when its context ended (timeout or
// cancelled hedge) and as transport_down otherwise.
func (n *Node) rpc(ctx context.Context, addr string, expect *kbucket.ID, req *core.Request, r *probeResult) {
	n.m.RPCStarted()
	code := wire.Code(0)
	defer func() { n.m.RPCFinished(req.Op, code) }()
	corr := n.corr.Add(1)
	if corr == 0 {
		corr = n.corr.Add(1)
	}
	start := n.now()
	out := n.pools.Get(wire.FrameBufSize)
	frame, err := appendRequestFrame(out.B[:0], req, corr, start.Unix())
	if err != nil {
		n.pools.Put(out)
		r.err = err
		code = wire.CodeOf(err)
		return
	}
	out.B = frame
	in := n.pools.Get(wire.FrameBufSize)
	raw, pi, err := n.tr.Call(ctx, addr, expect, frame, in.B[:0])
	n.pools.Put(out)
	in.B = raw
	defer n.pools.Put(in)
	r.peer, r.rtt = pi, n.now().Sub(start)
	if err != nil {
		if ctx.Err() != nil {
			code = wire.CodeTimeout
		} else {
			code = wire.CodeOf(err)
		}
		r.err = err
		return
	}
	var env wire.Envelope
	if err := wire.DecodeEnvelope(raw, &env); err != nil {
		code, r.err = wire.CodeMalformed, fmt.Errorf("runtime: %s answer from %s: %w", req.Op, addr, err)
		return
	}
	if err := checkAnswer(&env, req.Op, corr); err != nil {
		code, r.err = wire.CodeMalformed, fmt.Errorf("runtime: %s answer from %s: %w", req.Op, addr, err)
		return
	}
	if err := core.DecodeResponse(&env, &r.resp); err != nil {
		code, r.err = wire.CodeMalformed, fmt.Errorf("runtime: %s answer from %s: %w", req.Op, addr, err)
		return
	}
	code = r.resp.Code
	if len(r.resp.Providers) > 0 {
		// Verify the records here rather than on the owner.
		v := n.verifier.Load().v
		now := n.now()
		r.verrs = make([]error, len(r.resp.Providers))
		for i := range r.resp.Providers {
			var info identity.VerifyInfo
			info, r.verrs[i] = v.Verify(&r.resp.Providers[i], now)
			n.m.RecordVerified(info, r.verrs[i])
		}
		r.verified = true
	}
}

// checkAnswer validates a response envelope against the request: a
// response, same opcode, same corr_id (an error answer may carry 0).
func checkAnswer(env *wire.Envelope, op wire.Opcode, corr uint64) error {
	switch {
	case !env.IsResponse():
		return fmt.Errorf("not a response: %w", wire.ErrMalformed)
	case env.Op != op:
		return fmt.Errorf("opcode %s, want %s: %w", env.Op, op, wire.ErrMalformed)
	case env.CorrID != corr && !(env.CorrID == 0 && env.Code != wire.CodeOK):
		return fmt.Errorf("corr_id %#x, want %#x: %w", env.CorrID, corr, wire.ErrMalformed)
	}
	return nil
}

// appendRequestFrame appends the frame (length prefix and envelope) of req.
func appendRequestFrame(dst []byte, req *core.Request, corr uint64, ts int64) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	out, err := core.AppendRequest(dst, req, corr, ts)
	if err != nil {
		return dst[:start], err
	}
	if n := len(out) - start - 4; n > wire.FrameMax {
		return dst[:start], wire.NewError(wire.CodeFrameTooLarge, "request frame too large")
	}
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	return out, nil
}

// probeDone hands a probe's outcome to the core.
func (n *Node) probeDone(r *probeResult) {
	cancel, live := n.probes[r.id]
	if !live {
		return // cancelled or timed out: the core no longer waits for it
	}
	cancel()
	delete(n.probes, r.id)
	now := n.now()
	if r.err != nil {
		n.do(n.core.HandleFailure(now, r.id, r.err))
		return
	}
	if r.verified {
		n.pre.many, n.pre.manyErr = r.resp.Providers, r.verrs
	}
	acts := n.core.HandleResponse(now, r.id, r.peer.Addr, &r.resp)
	n.pre.many, n.pre.manyErr = nil, nil
	n.do(acts)
}

// preVerifier is the core's RecordVerifier. Records already verified off
// the owner — an inbound PROVIDE by its event loop or the verification
// pool, the providers of a FIND_VALUE answer by the probe's goroutine — get
// that verdict back (by pointer identity), so signature checks never run on
// the owner; anything else (none in the current core) is verified here.
// The verdicts are computed milliseconds before the core asks, which only
// matters for a record expiring within those milliseconds.
type preVerifier struct {
	n       *Node
	one     *wire.ProviderRecord
	oneErr  error
	many    []wire.ProviderRecord
	manyErr []error
}

// Verify implements core.RecordVerifier.
func (p *preVerifier) Verify(rec *wire.ProviderRecord, now time.Time) error {
	if rec == p.one && rec != nil {
		return p.oneErr
	}
	for i := range p.many {
		if rec == &p.many[i] {
			return p.manyErr[i]
		}
	}
	info, err := p.n.verifier.Load().v.Verify(rec, now)
	p.n.m.RecordVerified(info, err)
	return err
}

// signer is the core's RecordSigner. A provide from the API is signed
// before it reaches the owner (ML-DSA-87 signing is slow); the core then
// gets that record back. Republications are signed on the owner, every
// provider.refresh_secs.
type signer struct {
	n   *Node
	pre *wire.ProviderRecord // signed off the owner for the current Provide call
}

// SignRecord implements core.RecordSigner. With a pre-signed record for
// the same key it copies that record (its ts and ttl included: the API may
// ask for a ttl of its own); otherwise it signs rec with the node identity.
func (s *signer) SignRecord(rec *wire.ProviderRecord) error {
	if p := s.pre; p != nil && p.Key == rec.Key {
		*rec = *p
		return nil
	}
	if err := identity.Sign(rec, s.n.id, s.n.dualSign.Load()); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	return nil
}

// errNoAnswer is the failure of an RPC the owner stopped waiting for.
var errNoAnswer = errors.New("runtime: node stopped before the answer")
