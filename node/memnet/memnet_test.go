package memnet

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newID(t testing.TB, seed byte) *identity.Identity {
	t.Helper()
	id, err := identity.Generate(rand.NewChaCha8([32]byte{seed, 0x3e}), false)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// pingFrame returns a PING request frame with the given corr_id.
func pingFrame(t testing.TB, corr uint64) []byte {
	t.Helper()
	env := wire.NewRequest(wire.OpPing, corr, 1700000000)
	f, err := wire.AppendFrame(nil, &env, &wire.PingRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// echo answers every request OK, recording the caller it saw.
type echo struct {
	calls  atomic.Int64
	caller atomic.Pointer[transport.PeerInfo]
}

func (h *echo) serve(_ context.Context, peer transport.PeerInfo, req, dst []byte) ([]byte, error) {
	h.calls.Add(1)
	h.caller.Store(&peer)
	var in wire.Envelope
	if err := wire.DecodeEnvelope(req, &in); err != nil {
		return dst, err
	}
	env := wire.NewResponse(&in, wire.CodeOK, in.TS)
	return wire.AppendFrame(dst, &env, &wire.PingResponse{})
}

func attach(t *testing.T, n *Network, seed byte, h transport.Handler) *Endpoint {
	t.Helper()
	e, err := n.Listen(newID(t, seed), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

func TestDelivery(t *testing.T) {
	n, err := New(Config{Seed: 1, RTTMin: time.Millisecond, RTTMax: 2 * time.Millisecond, Jitter: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var h echo
	a := attach(t, n, 1, nil)
	b := attach(t, n, 2, h.serve)
	if a.Addr() == b.Addr() || !strings.HasPrefix(b.Addrs()[0], transport.Scheme) {
		t.Fatalf("addresses %v %v", a.Addrs(), b.Addrs())
	}
	want := b.ID()
	resp, peer, err := a.Call(context.Background(), b.Addrs()[0], &want, pingFrame(t, 7), make([]byte, 0, 64))
	if err != nil {
		t.Fatalf("Call: %v", err)
	}
	if peer.ID != b.ID() || peer.Addr != b.Addr() {
		t.Errorf("peer %+v, want %s at %v", peer, b.ID().Short(), b.Addr())
	}
	var env wire.Envelope
	if err := wire.DecodeEnvelope(resp, &env); err != nil {
		t.Fatalf("response: %v", err)
	}
	if env.CorrID != 7 || env.Code != wire.CodeOK || env.Flags&wire.FlagResp == 0 {
		t.Errorf("response corr %d code %v flags %d", env.CorrID, env.Code, env.Flags)
	}
	if c := h.caller.Load(); c == nil || c.ID != a.ID() || c.Addr != a.Addr() {
		t.Errorf("handler saw caller %+v, want %s at %v", c, a.ID().Short(), a.Addr())
	}
	// By NodeID alone.
	if _, _, err := a.Call(context.Background(), "", &want, pingFrame(t, 8), nil); err != nil {
		t.Errorf("Call by NodeID: %v", err)
	}
	// Wrong NodeID, unknown address, dial-only callee.
	other := a.ID()
	if _, _, err := a.Call(context.Background(), b.Addrs()[0], &other, pingFrame(t, 9), nil); !errors.Is(err, transport.ErrIDMismatch) {
		t.Errorf("expect mismatch: %v", err)
	}
	if _, _, err := a.Call(context.Background(), "quic://192.0.2.1:4433", nil, pingFrame(t, 10), nil); !errors.Is(err, wire.ErrTransportDown) {
		t.Errorf("unknown address: %v", err)
	}
	if _, _, err := b.Call(context.Background(), a.Addrs()[0], nil, pingFrame(t, 11), nil); !errors.Is(err, wire.ErrBusy) || !errors.Is(err, wire.ErrTransportDown) {
		t.Errorf("dial-only callee: %v", err)
	}
	if _, _, err := a.Call(context.Background(), b.Addrs()[0], nil, []byte{0, 0, 0, 9, 1}, nil); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("bad frame: %v", err)
	}
	st := n.Stats()
	if st.Answered != 2 || st.Delivered != 2 || st.NoRoute != 1 || st.Refused != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestDrawsDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, RTTMin: time.Millisecond, RTTMax: 3 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.1}
	n1, _ := New(cfg)
	n2, _ := New(cfg)
	cfg.Seed = 43
	n3, _ := New(cfg)
	same, lost := true, 0
	const draws = 20000
	for seq := uint64(1); seq <= draws; seq++ {
		from, to := uint32(seq%7), uint32(seq%11)
		d1, l1 := n1.draw(from, to, seq)
		d2, l2 := n2.draw(from, to, seq)
		if d1 != d2 || l1 != l2 {
			t.Fatalf("seq %d: draws differ for one seed: %v/%v %v/%v", seq, d1, l1, d2, l2)
		}
		d3, l3 := n3.draw(from, to, seq)
		same = same && d1 == d3 && l1 == l3
		if l1 {
			lost++
			continue
		}
		// half the link RTT plus jitter in [0, 1ms)
		if d1 < cfg.RTTMin/2 || d1 >= cfg.RTTMax/2+cfg.Jitter {
			t.Fatalf("seq %d: delay %v outside [%v, %v)", seq, d1, cfg.RTTMin/2, cfg.RTTMax/2+cfg.Jitter)
		}
		if rtt := n1.linkRTT(from, to); rtt != n1.linkRTT(to, from) || d1-rtt/2 >= cfg.Jitter {
			t.Fatalf("seq %d: link rtt %v not symmetric or jitter %v too large", seq, rtt, d1-rtt/2)
		}
	}
	if same {
		t.Error("seeds 42 and 43 drew the same sequence")
	}
	if frac := float64(lost) / draws; frac < 0.09 || frac > 0.11 {
		t.Errorf("lost %.4f of messages, want about 0.1", frac)
	}
	// Addresses too are a function of the seed.
	a1, _ := n1.Listen(newID(t, 1), nil)
	a2, _ := n2.Listen(newID(t, 1), nil)
	a3, _ := n3.Listen(newID(t, 1), nil)
	if a1.Addr() != a2.Addr() || a1.Addr() == a3.Addr() {
		t.Errorf("addresses %v %v %v: want the first two equal, the third different", a1.Addr(), a2.Addr(), a3.Addr())
	}
	for _, e := range []*Endpoint{a1, a2, a3} {
		_ = e.Close()
	}
}

func TestLoss(t *testing.T) {
	n, _ := New(Config{Seed: 3, Loss: 0.999999})
	var h echo
	a := attach(t, n, 1, nil)
	b := attach(t, n, 2, h.serve)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _, err := a.Call(ctx, b.Addrs()[0], nil, pingFrame(t, 1), nil)
	if !errors.Is(err, context.DeadlineExceeded) || wire.CodeOf(err) != wire.CodeTimeout {
		t.Errorf("lost request: %v, want a timeout", err)
	}
	if h.calls.Load() != 0 || n.Stats().Lost != 1 {
		t.Errorf("handler calls %d, stats %+v", h.calls.Load(), n.Stats())
	}
}

func TestFrameCap(t *testing.T) {
	n, err := New(Config{Seed: 4, FrameMax: 128})
	if err != nil {
		t.Fatal(err)
	}
	var h echo
	a := attach(t, n, 1, nil)
	b := attach(t, n, 2, h.serve)
	env := wire.NewRequest(wire.OpFindNode, 5, 1700000000)
	big, err := wire.AppendFrame(nil, &env, &wire.FindNodeRequest{Target: kbucket.ID{1}})
	if err != nil {
		t.Fatal(err)
	}
	big = append(big[:4], append(big[4:], make([]byte, 200)...)...) // pad past the cap
	binary.BigEndian.PutUint32(big, uint32(len(big)-4))
	resp, _, err := a.Call(context.Background(), b.Addrs()[0], nil, big, nil)
	if err != nil {
		t.Fatalf("oversize request: %v (want an answer)", err)
	}
	var out wire.Envelope
	if err := wire.DecodeEnvelope(resp, &out); err != nil || out.Code != wire.CodeFrameTooLarge {
		t.Errorf("answer %+v (%v), want code 1413", out, err)
	}
	if h.calls.Load() != 0 || n.Stats().Oversize != 1 {
		t.Errorf("handler calls %d, stats %+v", h.calls.Load(), n.Stats())
	}
	// The link stays usable.
	if _, _, err := a.Call(context.Background(), b.Addrs()[0], nil, pingFrame(t, 6), nil); err != nil {
		t.Errorf("after an oversize frame: %v", err)
	}
	// A response over the cap is refused by the caller.
	c := attach(t, n, 3, func(_ context.Context, _ transport.PeerInfo, req, dst []byte) ([]byte, error) {
		var in wire.Envelope
		_ = wire.DecodeEnvelope(req, &in)
		env := wire.NewResponse(&in, wire.CodeOK, 0)
		env.Reason = strings.Repeat("x", 200)
		return wire.AppendFrame(dst, &env, &wire.PingResponse{})
	})
	if _, _, err := a.Call(context.Background(), c.Addrs()[0], nil, pingFrame(t, 7), nil); !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Errorf("oversize response: %v", err)
	}
}

func TestInboundCapDrainClose(t *testing.T) {
	n, _ := New(Config{Seed: 5, MaxInbound: 1})
	entered, release := make(chan struct{}), make(chan struct{})
	a := attach(t, n, 1, nil)
	b := attach(t, n, 2, func(_ context.Context, _ transport.PeerInfo, req, dst []byte) ([]byte, error) {
		entered <- struct{}{}
		<-release
		var in wire.Envelope
		_ = wire.DecodeEnvelope(req, &in)
		env := wire.NewResponse(&in, wire.CodeOK, 0)
		return wire.AppendFrame(dst, &env, &wire.PingResponse{})
	})
	first := make(chan error, 1)
	go func() {
		_, _, err := a.Call(context.Background(), b.Addrs()[0], nil, pingFrame(t, 1), nil)
		first <- err
	}()
	<-entered
	if _, _, err := a.Call(context.Background(), b.Addrs()[0], nil, pingFrame(t, 2), nil); !errors.Is(err, wire.ErrBusy) {
		t.Errorf("second request over MaxInbound 1: %v, want busy", err)
	}
	drained := make(chan error, 1)
	go func() { drained <- b.Drain(context.Background()) }()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Drain(ctx); err == nil {
		t.Error("Drain with an ended context while a handler runs: nil error")
	}
	close(release)
	if err := <-first; err != nil {
		t.Errorf("request in flight during drain: %v", err)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Call(context.Background(), b.Addrs()[0], nil, pingFrame(t, 3), nil); !errors.Is(err, wire.ErrTransportDown) {
		t.Errorf("call to a closed endpoint: %v", err)
	}
	if _, _, err := b.Call(context.Background(), a.Addrs()[0], nil, pingFrame(t, 4), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("call from a closed endpoint: %v", err)
	}
	// The NodeID can attach again.
	if _, err := n.Listen(newID(t, 2), nil); err != nil {
		t.Errorf("re-attach after Close: %v", err)
	}
	if _, err := n.Listen(newID(t, 1), nil); err == nil {
		t.Error("attaching a NodeID twice: no error")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{RTTMin: 3 * time.Millisecond, RTTMax: time.Millisecond},
		{Jitter: -1},
		{Loss: 1},
		{Loss: -0.1},
		{FrameMax: wire.FrameMax + 1},
		{MaxInbound: -1},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v): no error", c)
		}
	}
}

// TestRetransmitTrip checks the fate of messages with Retransmit against the
// draws it is made of: a message is delivered after the PTOs of its lost
// attempts (doubling) plus the one-way delay of the attempt that got
// through, and each attempt takes one draw of the sender's sequence.
func TestRetransmitTrip(t *testing.T) {
	cfg := Config{Seed: 8, RTTMin: time.Millisecond, RTTMax: 3 * time.Millisecond, Jitter: time.Millisecond, Loss: 0.4, Retransmit: true}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := New(cfg) // draws without side effects on n's counters
	var seq, refSeq atomic.Uint64
	late := 0
	for msg := range 2000 {
		from, to := uint32(msg%5), uint32(5+msg%3)
		got, ok := n.trip(from, to, &seq)
		if !ok {
			t.Fatalf("message %d lost for good with Retransmit", msg)
		}
		var want time.Duration
		pto := ref.linkRTT(from, to) + 2*cfg.Jitter + MaxAckDelay
		attempts := 0
		for {
			attempts++
			d, lost := ref.draw(from, to, refSeq.Add(1))
			if !lost {
				want += d
				break
			}
			want += pto
			pto *= 2
		}
		if got != want {
			t.Fatalf("message %d: delay %v, want %v (%d attempts)", msg, got, want, attempts)
		}
		if attempts > 1 {
			late++
			if got < ref.linkRTT(from, to)+MaxAckDelay {
				t.Fatalf("message %d: %d attempts but only %v late", msg, attempts, got)
			}
		}
	}
	if seq.Load() != refSeq.Load() {
		t.Errorf("sequence advanced %d, want %d (one draw per attempt)", seq.Load(), refSeq.Load())
	}
	if frac := float64(late) / 2000; frac < 0.35 || frac > 0.45 {
		t.Errorf("%.3f of messages needed a retransmission, want about 0.4", frac)
	}
	if st := n.Stats(); st.Lost != seq.Load()-2000 {
		t.Errorf("lost %d, want %d (attempts minus messages)", st.Lost, seq.Load()-2000)
	}

	// Without Retransmit the first loss is final.
	cfg.Retransmit = false
	b, _ := New(cfg)
	var bs atomic.Uint64
	lostForGood := 0
	for range 2000 {
		if _, ok := b.trip(1, 2, &bs); !ok {
			lostForGood++
		}
	}
	if bs.Load() != 2000 || lostForGood < 700 || lostForGood > 900 {
		t.Errorf("blackhole: %d draws, %d lost, want 2000 draws and about 800 lost", bs.Load(), lostForGood)
	}
}

// TestRetransmitCall runs calls over a link that loses most transmissions:
// with Retransmit every call is answered, without it they time out.
func TestRetransmitCall(t *testing.T) {
	n, _ := New(Config{Seed: 6, Loss: 0.5, Retransmit: true})
	var h echo
	a := attach(t, n, 1, nil)
	b := attach(t, n, 2, h.serve)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // not the 1.5 s default: retransmissions take a while
	defer cancel()
	for i := range 8 {
		if _, _, err := a.Call(ctx, b.Addrs()[0], nil, pingFrame(t, uint64(i+1)), nil); err != nil {
			t.Fatalf("call %d with Retransmit: %v", i, err)
		}
	}
	if st := n.Stats(); st.Answered != 8 || st.Lost == 0 {
		t.Errorf("stats %+v: want 8 answered and some transmissions lost", st)
	}
}
