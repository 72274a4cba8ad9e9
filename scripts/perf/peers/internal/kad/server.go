package kad

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
)

// node is one libp2p host with its DHT.
type node struct {
	h host.Host
	d *dht.IpfsDHT
}

func (n node) close() error {
	return errors.Join(n.d.Close(), n.h.Close())
}

func startNode(ap netip.AddrPort, rng *rand.ChaCha8, bootstrap []peer.AddrInfo, onFindNode func()) (node, error) {
	h, err := newHost(ap, rng)
	if err != nil {
		return node{}, err
	}
	d, err := newDHT(h, bootstrap, onFindNode)
	if err != nil {
		h.Close()
		return node{}, err
	}
	return node{h: h, d: d}, nil
}

// Server is one kad-dht node in server mode answering FIND_NODE, with filler
// nodes in the same process that populate its routing table.
type Server struct {
	main    node
	fillers []node
	served  atomic.Uint64
}

// StartServer starts the server on listen (a loopback ip:port) and connects
// fill filler nodes to it, waiting until they are all in its routing table.
func StartServer(ctx context.Context, listen netip.AddrPort, fill int, seed uint64) (*Server, error) {
	rng := rand.NewChaCha8(seedBytes(seed))
	s := &Server{}
	var err error
	s.main, err = startNode(listen, rng, nil, func() { s.served.Add(1) })
	if err != nil {
		return nil, fmt.Errorf("server node: %w", err)
	}
	self := addrInfo(s.main.h)
	ephemeral := netip.AddrPortFrom(listen.Addr(), 0)
	for i := range fill {
		f, err := startNode(ephemeral, rng, []peer.AddrInfo{self}, nil)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("filler %d: %w", i, err)
		}
		s.fillers = append(s.fillers, f)
		if err := f.h.Connect(ctx, self); err != nil {
			s.Close()
			return nil, fmt.Errorf("filler %d connect: %w", i, err)
		}
	}
	if err := waitRT(ctx, s.main.d, fill, 30*time.Second); err != nil {
		s.Close()
		return nil, fmt.Errorf("server routing table: %w", err)
	}
	return s, nil
}

// waitRT polls d's routing table until it holds at least want peers.
func waitRT(ctx context.Context, d *dht.IpfsDHT, want int, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for d.RoutingTable().Size() < want {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d peers after %v: %w", d.RoutingTable().Size(), want, limit, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Info implements ctl.Source: the dial address is the full multiaddr with /p2p/ID.
func (s *Server) Info() (impl, version, addr string) {
	addrs := s.main.h.Addrs()
	a := ""
	if len(addrs) > 0 {
		a = addrs[0].String() + "/p2p/" + s.main.h.ID().String()
	}
	return Impl, Version(), a
}

// Served implements ctl.Source: FIND_NODE requests handled by the server node.
func (s *Server) Served() uint64 { return s.served.Load() }

// RTSize implements ctl.Source.
func (s *Server) RTSize() int { return s.main.d.RoutingTable().Size() }

// Close stops the server and its fillers.
func (s *Server) Close() error {
	var errs []error
	for _, f := range s.fillers {
		errs = append(errs, f.close())
	}
	if s.main.h != nil {
		errs = append(errs, s.main.close())
	}
	return errors.Join(errs...)
}

func seedBytes(seed uint64) (b [32]byte) {
	for i := range 8 {
		b[i] = byte(seed >> (8 * i))
	}
	copy(b[8:], "svc-dht-peers/kad")
	return b
}
