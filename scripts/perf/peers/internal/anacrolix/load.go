package anacrolix

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/loadgen"
)

const (
	callTimeout = 2 * time.Second
	numKeys     = 4096
	compactNode = 26 // 20-byte ID + 4-byte IPv4 + 2-byte port
)

// tidMarker locates the 4-byte transaction ID in an encoded query.
var tidMarker = []byte("1:t4:")

// Load is a set of UDP sockets, one per request in flight.
type Load struct {
	callers []*caller
}

// NewLoad opens inflight UDP sockets on 127.0.0.1 towards target (loopback).
// Each sends BEP 5 find_node queries (read-only, so the server does not add
// the load generator to its table) and waits for the answer.
func NewLoad(target netip.AddrPort, inflight int, seed uint64) (*Load, error) {
	if !target.Addr().Unmap().IsLoopback() {
		return nil, fmt.Errorf("target %s is not loopback", target)
	}
	if inflight <= 0 {
		return nil, fmt.Errorf("inflight (%d) must be positive", inflight)
	}
	rng := newRand(seed, 0x10ad)
	var id krpc.ID
	for i := range id {
		id[i] = byte(rng.Uint32())
	}
	reqs := make([][]byte, numKeys)
	tidAt := -1
	for i := range reqs {
		var t krpc.ID
		for j := range t {
			t[j] = byte(rng.Uint32())
		}
		b, err := bencode.Marshal(krpc.Msg{T: "\x00\x00\x00\x00", Y: "q", Q: "find_node",
			A: &krpc.MsgArgs{ID: id, Target: t}, ReadOnly: true})
		if err != nil {
			return nil, fmt.Errorf("encode find_node: %w", err)
		}
		at := bytes.LastIndex(b, tidMarker)
		if at < 0 || (tidAt >= 0 && at+len(tidMarker) != tidAt) {
			return nil, errors.New("find_node encoding: transaction ID not at a fixed offset")
		}
		tidAt = at + len(tidMarker)
		reqs[i] = b
	}
	l := &Load{}
	for i := range inflight {
		conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(target.Addr(), 0)), net.UDPAddrFromAddrPort(target))
		if err != nil {
			l.Close()
			return nil, fmt.Errorf("udp socket %d: %w", i, err)
		}
		c := &caller{conn: conn, tidAt: tidAt, next: i * numKeys / inflight, tid: uint32(i) << 24}
		// Private copies: the transaction ID is patched in place.
		c.reqs = make([][]byte, len(reqs))
		for j, r := range reqs {
			c.reqs[j] = bytes.Clone(r)
		}
		l.callers = append(l.callers, c)
	}
	return l, nil
}

// Callers returns one loadgen.Caller per socket.
func (l *Load) Callers() []loadgen.Caller {
	out := make([]loadgen.Caller, len(l.callers))
	for i, c := range l.callers {
		out[i] = c
	}
	return out
}

// Close closes the sockets.
func (l *Load) Close() error {
	var errs []error
	for _, c := range l.callers {
		errs = append(errs, c.conn.Close())
	}
	return errors.Join(errs...)
}

type reply struct {
	T string `bencode:"t"`
	Y string `bencode:"y"`
	R *struct {
		Nodes string `bencode:"nodes"`
	} `bencode:"r"`
}

type caller struct {
	conn  *net.UDPConn
	reqs  [][]byte
	tidAt int
	next  int
	tid   uint32
	buf   [1 << 16]byte
}

// Call implements loadgen.Caller. A lost or late answer is a timeout error;
// stale answers to earlier queries are skipped.
func (c *caller) Call() (int, error) {
	req := c.reqs[c.next%len(c.reqs)]
	c.next++
	c.tid++
	tid := req[c.tidAt : c.tidAt+4]
	tid[0], tid[1], tid[2], tid[3] = byte(c.tid>>24), byte(c.tid>>16), byte(c.tid>>8), byte(c.tid)
	if err := c.conn.SetDeadline(time.Now().Add(callTimeout)); err != nil {
		return 0, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := c.conn.Write(req); err != nil {
		return 0, fmt.Errorf("send find_node: %w", err)
	}
	for {
		n, err := c.conn.Read(c.buf[:])
		if err != nil {
			return 0, fmt.Errorf("read answer: %w", err)
		}
		var r reply
		if err := bencode.Unmarshal(c.buf[:n], &r); err != nil {
			var trailing bencode.ErrUnusedTrailingBytes
			if !errors.As(err, &trailing) {
				return 0, fmt.Errorf("decode answer: %w", err)
			}
		}
		if r.T != string(tid) {
			continue // an answer to an earlier, timed-out query
		}
		if r.Y != "r" || r.R == nil {
			return 0, fmt.Errorf("answer type %q, want r", r.Y)
		}
		if len(r.R.Nodes) == 0 || len(r.R.Nodes)%compactNode != 0 {
			return 0, fmt.Errorf("find_node answer with %d bytes of nodes", len(r.R.Nodes))
		}
		return len(r.R.Nodes) / compactNode, nil
	}
}
