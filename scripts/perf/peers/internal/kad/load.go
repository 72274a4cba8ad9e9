package kad

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"time"

	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	manet "github.com/multiformats/go-multiaddr/net"
	"google.golang.org/protobuf/proto"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/loadgen"
)

const (
	callTimeout = 5 * time.Second
	maxMsgSize  = 4 << 20 // kad-dht's network.MessageSizeMax
	numKeys     = 4096
)

// Load is a set of client hosts, each with streams to the server.
type Load struct {
	hosts   []host.Host
	callers []*caller
}

// NewLoad connects clients client hosts to target (a multiaddr ending in
// /p2p/ID, on loopback) and runs inflight workers spread over them. Each
// worker keeps one stream and sends one FIND_NODE at a time on it, as
// kad-dht's own message sender reuses streams; with streamPerRPC set, each
// RPC opens a fresh stream instead (protocol negotiation included) and closes it.
func NewLoad(ctx context.Context, target string, clients, inflight int, streamPerRPC bool, seed uint64) (*Load, error) {
	if clients <= 0 || inflight <= 0 {
		return nil, fmt.Errorf("clients (%d) and inflight (%d) must be positive", clients, inflight)
	}
	ai, err := peer.AddrInfoFromString(target)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", target, err)
	}
	for _, a := range ai.Addrs {
		if !manet.IsIPLoopback(a) {
			return nil, fmt.Errorf("target %s is not a loopback address", a)
		}
	}
	rng := rand.NewChaCha8(seedBytes(seed ^ 0x10ad))
	reqs, err := findNodeRequests(rand.New(rng), numKeys)
	if err != nil {
		return nil, err
	}
	l := &Load{}
	for i := range clients {
		h, err := newHost(netip.MustParseAddrPort("127.0.0.1:0"), rng)
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("client host %d: %w", i, err)
		}
		l.hosts = append(l.hosts, h)
		if err := h.Connect(ctx, *ai); err != nil {
			l.Close()
			return nil, fmt.Errorf("client %d connect: %w", i, err)
		}
	}
	for i := range inflight {
		c := &caller{ctx: ctx, h: l.hosts[i%clients], pid: ai.ID, reqs: reqs, next: i * numKeys / inflight, perRPC: streamPerRPC}
		if !streamPerRPC {
			if err := c.open(); err != nil {
				l.Close()
				return nil, err
			}
		}
		l.callers = append(l.callers, c)
	}
	return l, nil
}

// Callers returns one loadgen.Caller per stream.
func (l *Load) Callers() []loadgen.Caller {
	out := make([]loadgen.Caller, len(l.callers))
	for i, c := range l.callers {
		out[i] = c
	}
	return out
}

// Close resets the streams and closes the client hosts.
func (l *Load) Close() error {
	for _, c := range l.callers {
		if c.s != nil {
			_ = c.s.Reset()
		}
	}
	var errs []error
	for _, h := range l.hosts {
		errs = append(errs, h.Close())
	}
	return errors.Join(errs...)
}

// findNodeRequests encodes n varint-framed FIND_NODE requests for random keys.
func findNodeRequests(r *rand.Rand, n int) ([][]byte, error) {
	out := make([][]byte, n)
	key := make([]byte, 32)
	for i := range out {
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		body, err := proto.Marshal(&pb.Message{Type: pb.Message_FIND_NODE, Key: key})
		if err != nil {
			return nil, fmt.Errorf("encode FIND_NODE: %w", err)
		}
		f := binary.AppendUvarint(make([]byte, 0, len(body)+binary.MaxVarintLen64), uint64(len(body)))
		out[i] = append(f, body...)
	}
	return out, nil
}

// caller sends FIND_NODE requests on one reused stream, as kad-dht's own
// message sender does.
type caller struct {
	ctx    context.Context
	h      host.Host
	pid    peer.ID
	s      network.Stream
	r      *bufio.Reader
	reqs   [][]byte
	next   int
	buf    []byte
	msg    pb.Message
	perRPC bool
}

func (c *caller) open() error {
	s, err := c.h.NewStream(c.ctx, c.pid, ProtocolID)
	if err != nil {
		return fmt.Errorf("open %s stream: %w", ProtocolID, err)
	}
	c.s = s
	c.r = bufio.NewReader(s)
	return nil
}

func (c *caller) fail(err error) (int, error) {
	if c.s != nil {
		_ = c.s.Reset()
		c.s = nil
	}
	return 0, err
}

// Call implements loadgen.Caller.
func (c *caller) Call() (int, error) {
	if c.s == nil {
		if err := c.open(); err != nil {
			return 0, err
		}
	}
	req := c.reqs[c.next%len(c.reqs)]
	c.next++
	if err := c.s.SetDeadline(time.Now().Add(callTimeout)); err != nil {
		return c.fail(fmt.Errorf("set deadline: %w", err))
	}
	if _, err := c.s.Write(req); err != nil {
		return c.fail(fmt.Errorf("write FIND_NODE: %w", err))
	}
	if c.perRPC {
		if err := c.s.CloseWrite(); err != nil {
			return c.fail(fmt.Errorf("close write: %w", err))
		}
	}
	n, err := binary.ReadUvarint(c.r)
	if err != nil {
		return c.fail(fmt.Errorf("read reply length: %w", err))
	}
	if n > maxMsgSize {
		return c.fail(fmt.Errorf("reply of %d bytes exceeds %d", n, maxMsgSize))
	}
	if cap(c.buf) < int(n) {
		c.buf = make([]byte, n)
	}
	b := c.buf[:n]
	if _, err := io.ReadFull(c.r, b); err != nil {
		return c.fail(fmt.Errorf("read reply: %w", err))
	}
	proto.Reset(&c.msg)
	if err := proto.Unmarshal(b, &c.msg); err != nil {
		return c.fail(fmt.Errorf("decode reply: %w", err))
	}
	if c.msg.GetType() != pb.Message_FIND_NODE {
		return c.fail(fmt.Errorf("reply type %v, want FIND_NODE", c.msg.GetType()))
	}
	if c.perRPC {
		if err := c.s.Close(); err != nil {
			return c.fail(fmt.Errorf("close stream: %w", err))
		}
		c.s = nil
	}
	if len(c.msg.CloserPeers) == 0 {
		return 0, errors.New("empty FIND_NODE answer")
	}
	return len(c.msg.CloserPeers), nil
}
