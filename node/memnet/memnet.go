package memnet

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// Defaults of Config.
const (
	DefaultMaxInbound = 1024
	DefaultRPCTimeout = 1500 * time.Millisecond
	// MaxAckDelay is the peer's ACK delay in the probe timeout of a
	// retransmission (Config.Retransmit): quic-go's max_ack_delay, the
	// QUIC default (RFC 9000 §18.2).
	MaxAckDelay = 25 * time.Millisecond
	// maxAttempts bounds the transmissions of one message with
	// Config.Retransmit (the caller's context ends the wait long before).
	maxAttempts = 16
	// Port is the port of every endpoint's address.
	Port = 4433
)

// ErrClosed is returned by calls on a closed endpoint. It matches
// wire.ErrTransportDown.
var ErrClosed = fmt.Errorf("memnet: endpoint closed: %w", wire.ErrTransportDown)

// Config describes the links of a Network. The zero value is a network
// without delay or loss.
type Config struct {
	// Seed makes the addresses, the base RTTs and the per-message draws.
	Seed uint64
	// RTTMin and RTTMax bound the base round-trip time of a link; each pair
	// of endpoints has a fixed RTT in that range.
	RTTMin, RTTMax time.Duration
	// Jitter is the largest extra one-way delay, drawn uniformly per
	// message (0: none).
	Jitter time.Duration
	// Loss is the probability that a message is lost, in [0, 1).
	Loss float64
	// Retransmit makes a lost message late instead of gone, as QUIC's
	// loss recovery makes it: the sender retransmits it after its probe
	// timeout, PTO = link RTT + max(2·Jitter, 1ms) + MaxAckDelay (RFC 9002
	// §6.2, with the RTT variation of the link's jitter), and the
	// retransmission is lost again with probability Loss, each attempt
	// doubling the PTO. False: a lost message is never delivered and the
	// caller waits until its context ends (a blackholed RPC).
	Retransmit bool
	// FrameMax is the frame cap (frame_max) in bytes; 0 means wire.FrameMax.
	FrameMax int
	// MaxInbound caps the requests an endpoint serves at a time; 0 means
	// DefaultMaxInbound.
	MaxInbound int
	// RPCTimeout bounds a Call whose context has no deadline; 0 means
	// DefaultRPCTimeout.
	RPCTimeout time.Duration
	// Now is the clock of the error envelopes' timestamps; nil means
	// time.Now.
	Now func() time.Time
}

func (c *Config) fill() error {
	switch {
	case c.RTTMin < 0 || c.RTTMax < c.RTTMin:
		return fmt.Errorf("memnet: rtt range %v-%v invalid", c.RTTMin, c.RTTMax)
	case c.Jitter < 0:
		return fmt.Errorf("memnet: jitter %v must not be negative", c.Jitter)
	case !(c.Loss >= 0 && c.Loss < 1):
		return fmt.Errorf("memnet: loss %v outside [0, 1)", c.Loss)
	case c.MaxInbound < 0 || c.RPCTimeout < 0:
		return fmt.Errorf("memnet: negative max inbound %d or rpc timeout %v", c.MaxInbound, c.RPCTimeout)
	}
	if err := wire.CheckFrameCap(c.FrameMax); err != nil {
		return fmt.Errorf("memnet: %w", err)
	}
	if c.FrameMax == 0 {
		c.FrameMax = wire.FrameMax
	}
	if c.MaxInbound == 0 {
		c.MaxInbound = DefaultMaxInbound
	}
	if c.RPCTimeout == 0 {
		c.RPCTimeout = DefaultRPCTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Stats counts what a Network carried.
type Stats struct {
	Calls     uint64 // Call invocations
	Delivered uint64 // requests given to a handler
	Answered  uint64 // responses delivered to their caller
	Lost      uint64 // transmissions lost (requests and responses; with Retransmit, each lost attempt)
	Oversize  uint64 // frames over FrameMax (answered or refused with 1413)
	Refused   uint64 // requests refused: MaxInbound reached, draining or closed
	NoRoute   uint64 // calls to an address or NodeID no endpoint has
}

// Network connects endpoints. It is safe for concurrent use.
type Network struct {
	cfg Config

	mu     sync.RWMutex
	byAddr map[netip.AddrPort]*Endpoint
	byText map[string]*Endpoint // by Addrs()[0], "quic://ip:port": no parsing on the common path
	byID   map[kbucket.ID]*Endpoint
	ips    map[netip.Addr]bool // every address handed out, closed endpoints' too
	next   uint32

	calls, delivered, answered, lost, oversize, refused, noRoute atomic.Uint64
}

// New returns an empty network.
func New(cfg Config) (*Network, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	return &Network{
		cfg:    cfg,
		byAddr: make(map[netip.AddrPort]*Endpoint),
		byText: make(map[string]*Endpoint),
		byID:   make(map[kbucket.ID]*Endpoint),
		ips:    make(map[netip.Addr]bool),
	}, nil
}

// Stats returns the network's counters.
func (n *Network) Stats() Stats {
	return Stats{
		Calls: n.calls.Load(), Delivered: n.delivered.Load(), Answered: n.answered.Load(),
		Lost: n.lost.Load(), Oversize: n.oversize.Load(), Refused: n.refused.Load(), NoRoute: n.noRoute.Load(),
	}
}

// Endpoint is one node's attachment to the network: its transport. It
// implements the runtime's Transport interface (Call, Addrs, Close) and
// Drain.
type Endpoint struct {
	net  *Network
	id   kbucket.ID
	idx  uint32
	addr netip.AddrPort
	text string // "quic://ip:port"
	h    transport.Handler
	sent atomic.Uint64 // messages sent (requests and responses): the draw sequence
	done chan struct{} // closed by Close

	mu       sync.Mutex
	active   int // handlers running
	draining bool
	closed   bool
	idle     chan struct{} // closed when active drops to 0 while draining or closing
	pool     sync.Pool     // *[]byte response buffers
}

// Listen attaches an endpoint for id to the network. h serves its inbound
// requests; nil makes a dial-only endpoint that refuses them. A NodeID can
// be attached once at a time.
func (n *Network) Listen(id *identity.Identity, h transport.Handler) (*Endpoint, error) {
	if id == nil {
		return nil, errors.New("memnet: listen: nil identity")
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, dup := n.byID[id.ID()]; dup {
		return nil, fmt.Errorf("memnet: listen: node %s already attached", id.ID().Short())
	}
	idx := n.next
	n.next++
	var ip netip.Addr
	for try := uint64(0); ; try++ {
		ip = publicIPv4(splitmix(n.cfg.Seed ^ uint64(idx)<<20 ^ try<<52 ^ 0xadd7))
		if ip.IsValid() && !n.ips[ip] {
			break
		}
	}
	n.ips[ip] = true
	e := &Endpoint{net: n, id: id.ID(), idx: idx, addr: netip.AddrPortFrom(ip, Port), h: h, done: make(chan struct{})}
	e.text = transport.Scheme + e.addr.String()
	e.pool.New = func() any { b := make([]byte, 0, wire.FrameBufSize); return &b }
	n.byAddr[e.addr] = e
	n.byText[e.text] = e
	n.byID[e.id] = e
	return e, nil
}

// publicIPv4 maps x to a unicast IPv4 address outside the special-purpose
// ranges, or the zero Addr when x falls in one.
func publicIPv4(x uint64) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(x))
	a := netip.AddrFrom4(b)
	if b[0] == 0 || b[0] >= 224 || kbucket.IsSpecialPurpose(a) {
		return netip.Addr{}
	}
	return a
}

// ID returns the endpoint's NodeID.
func (e *Endpoint) ID() kbucket.ID { return e.id }

// Addr returns the endpoint's address.
func (e *Endpoint) Addr() netip.AddrPort { return e.addr }

// Addrs returns the endpoint's address as "quic://ip:port".
func (e *Endpoint) Addrs() []string { return []string{e.text} }

// resolve finds the endpoint addr (or, when addr is empty, expect) names.
func (n *Network) resolve(addr string, expect *kbucket.ID) (*Endpoint, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if addr == "" {
		if expect == nil {
			return nil, errors.New("no address and no NodeID")
		}
		if e, ok := n.byID[*expect]; ok {
			return e, nil
		}
		return nil, fmt.Errorf("no endpoint for node %s", expect.Short())
	}
	if e, ok := n.byText[addr]; ok {
		return e, nil
	}
	rest, ok := strings.CutPrefix(addr, transport.Scheme)
	if !ok {
		return nil, fmt.Errorf("address %q: want %shost:port", addr, transport.Scheme)
	}
	ap, err := netip.ParseAddrPort(rest)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if e, ok := n.byAddr[ap]; ok {
		return e, nil
	}
	return nil, fmt.Errorf("address %q: no endpoint", addr)
}

// Call performs one RPC, with the contract of transport.Transport.Call:
// req is a complete frame, the response envelope (without length prefix)
// is appended to dst[:0], and the callee is returned. A context without
// deadline gets Config.RPCTimeout. A lost message, or a context that ends
// first, gives an error wrapping ctx.Err(); refusals by the callee match
// wire.ErrTransportDown and the refusal's code (1501 Busy); a callee with
// another NodeID than expect gives an error matching
// transport.ErrIDMismatch.
func (e *Endpoint) Call(ctx context.Context, addr string, expect *kbucket.ID, req, dst []byte) ([]byte, transport.PeerInfo, error) {
	n := e.net
	n.calls.Add(1)
	dst = dst[:0]
	select {
	case <-e.done:
		return dst, transport.PeerInfo{}, ErrClosed
	default:
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RPCTimeout)
		defer cancel()
	}
	to, err := n.resolve(addr, expect)
	if err != nil {
		n.noRoute.Add(1)
		return dst, transport.PeerInfo{}, fmt.Errorf("memnet: call: %w: %w", err, wire.ErrTransportDown)
	}
	peer := transport.PeerInfo{ID: to.id, Addr: to.addr}
	if expect != nil && *expect != to.id {
		return dst, transport.PeerInfo{}, fmt.Errorf("memnet: call %s: reached %s, want %s: %w",
			addr, to.id.Short(), expect.Short(), transport.ErrIDMismatch)
	}
	if len(req) <= 4 || int(binary.BigEndian.Uint32(req)) != len(req)-4 {
		return dst, peer, fmt.Errorf("memnet: call %s: request is not one frame: %w", addr, wire.ErrMalformed)
	}
	fail := func(err error) ([]byte, transport.PeerInfo, error) {
		return dst, peer, fmt.Errorf("memnet: call %s: %w", addr, err)
	}

	// The request's trip.
	var t *time.Timer // one timer for both trips
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	if err := e.travel(ctx, to, &t); err != nil {
		return fail(err)
	}
	bp := to.pool.Get().(*[]byte)
	defer to.pool.Put(bp)
	resp, err := to.serve(ctx, e, req[4:], (*bp)[:0])
	*bp = resp[:0]
	if err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	// The response's trip.
	if len(resp)-4 > n.cfg.FrameMax {
		n.oversize.Add(1)
		return fail(fmt.Errorf("read response: frame of %d bytes over %d: %w", len(resp)-4, n.cfg.FrameMax, wire.ErrFrameTooLarge))
	}
	if err := to.travel(ctx, e, &t); err != nil {
		return fail(err)
	}
	n.answered.Add(1)
	return append(dst, resp[4:]...), peer, nil
}

// travel waits the one-way delay of the next message from e to to, or
// until ctx ends when the message is lost (without Retransmit). *t is the
// caller's timer, made on first use and reused.
func (e *Endpoint) travel(ctx context.Context, to *Endpoint, t **time.Timer) error {
	d, delivered := e.net.trip(e.idx, to.idx, &e.sent)
	if !delivered {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.done:
			return ErrClosed
		}
	}
	if d <= 0 {
		return ctx.Err()
	}
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case <-(*t).C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-e.done:
		return ErrClosed
	}
}

// trip draws the fate of one message from endpoint from to endpoint to,
// taking its draws from the sender's sequence seq: the time until it
// arrives, or false when it is lost for good. With Retransmit a lost
// transmission adds its probe timeout (doubling each time) and is drawn
// again.
func (n *Network) trip(from, to uint32, seq *atomic.Uint64) (time.Duration, bool) {
	var late time.Duration
	pto := n.pto(from, to)
	for range maxAttempts {
		d, lost := n.draw(from, to, seq.Add(1))
		if !lost {
			return late + d, true
		}
		n.lost.Add(1)
		if !n.cfg.Retransmit {
			return 0, false
		}
		late += pto
		pto *= 2
	}
	return 0, false
}

// pto is the probe timeout of the link between from and to: its RTT plus
// its variation plus the peer's ACK delay.
func (n *Network) pto(from, to uint32) time.Duration {
	return n.linkRTT(from, to) + max(2*n.cfg.Jitter, time.Millisecond) + MaxAckDelay
}

// draw returns the one-way delay of the seq-th message sent by endpoint
// from to endpoint to, and whether it is lost.
func (n *Network) draw(from, to uint32, seq uint64) (time.Duration, bool) {
	c := &n.cfg
	h := splitmix(splitmix(c.Seed^uint64(from)<<32^0x3e55a9e) ^ seq)
	if c.Loss > 0 && float64(h>>11)/(1<<53) < c.Loss {
		return 0, true
	}
	d := n.linkRTT(from, to) / 2
	if c.Jitter > 0 {
		d += time.Duration(splitmix(h) % uint64(c.Jitter))
	}
	return d, false
}

// linkRTT is the fixed base RTT of the link between endpoints a and b.
func (n *Network) linkRTT(a, b uint32) time.Duration {
	lo, hi := min(a, b), max(a, b)
	span := uint64(n.cfg.RTTMax-n.cfg.RTTMin) + 1
	return n.cfg.RTTMin + time.Duration(splitmix(n.cfg.Seed^uint64(lo)<<32^uint64(hi))%span)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// errRefused is a callee's refusal of a request, as the QUIC transport's
// stream reset with code 1501.
var errRefused = fmt.Errorf("%w: %w", wire.NewError(wire.CodeBusy, "stream refused"), wire.ErrTransportDown)

// serve runs the handler of e for a request from caller and returns the
// response frame appended to dst. An oversize request is answered with a
// 1413 error envelope without reaching the handler; a handler error is
// answered with an error envelope of its code.
func (e *Endpoint) serve(ctx context.Context, caller *Endpoint, env, dst []byte) ([]byte, error) {
	n := e.net
	if len(env) > n.cfg.FrameMax {
		n.oversize.Add(1)
		return e.errorFrame(dst, nil, fmt.Errorf("memnet: request frame of %d bytes over %d: %w", len(env), n.cfg.FrameMax, wire.ErrFrameTooLarge)), nil
	}
	if !e.enter() {
		n.refused.Add(1)
		return dst, errRefused
	}
	defer e.leave()
	n.delivered.Add(1)
	resp, err := e.h(ctx, transport.PeerInfo{ID: caller.id, Addr: caller.addr}, env, dst)
	if err != nil {
		return e.errorFrame(dst[:0], env, err), nil
	}
	return resp, nil
}

// enter takes an inbound slot: false when the endpoint refuses requests
// (no handler, draining, closed, or MaxInbound being served).
func (e *Endpoint) enter() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.h == nil || e.closed || e.draining || e.active >= e.net.cfg.MaxInbound {
		return false
	}
	e.active++
	return true
}

// leave releases an inbound slot.
func (e *Endpoint) leave() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.active--
	if e.active == 0 && e.idle != nil {
		close(e.idle)
		e.idle = nil
	}
}

// idleChanLocked returns a channel closed once no handler runs (nil: none
// runs now). Call with e.mu held.
func (e *Endpoint) idleChanLocked() chan struct{} {
	if e.active == 0 {
		return nil
	}
	if e.idle == nil {
		e.idle = make(chan struct{})
	}
	return e.idle
}

// Drain refuses new inbound requests from now on and waits until the
// handlers running have returned, or until ctx ends.
func (e *Endpoint) Drain(ctx context.Context) error {
	e.mu.Lock()
	e.draining = true
	ch := e.idleChanLocked()
	e.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("memnet: drain: %w", ctx.Err())
	}
}

// Close detaches the endpoint: its address no longer answers, its own
// calls in flight fail, and Close waits for its running handlers to
// return. It is idempotent.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	ch := e.idleChanLocked()
	e.mu.Unlock()
	n := e.net
	n.mu.Lock()
	delete(n.byAddr, e.addr)
	delete(n.byText, e.text)
	delete(n.byID, e.id)
	n.mu.Unlock()
	if ch != nil {
		<-ch
	}
	return nil
}

// errorFrame appends an error response frame for err to dst, answering
// req's opcode and corr_id when req decodes.
func (e *Endpoint) errorFrame(dst, req []byte, err error) []byte {
	code := wire.CodeOf(err)
	if code == 0 || code == wire.CodeOK {
		code = wire.CodeMalformed
	}
	var in wire.Envelope
	if req == nil || wire.DecodeEnvelope(req, &in) != nil {
		in = wire.Envelope{}
	}
	env := wire.NewResponse(&in, code, e.net.cfg.Now().Unix())
	env.Reason = reason(err)
	out, ferr := wire.AppendFrame(dst, &env, nil)
	if ferr != nil {
		return dst
	}
	return out
}

// reason is err's text cut to wire.MaxReasonLen bytes.
func reason(err error) string {
	s := err.Error()
	var we *wire.Error
	if errors.As(err, &we) && we.Reason != "" {
		s = we.Reason
	}
	if len(s) > wire.MaxReasonLen {
		s = strings.ToValidUTF8(s[:wire.MaxReasonLen], "")
	}
	return s
}
