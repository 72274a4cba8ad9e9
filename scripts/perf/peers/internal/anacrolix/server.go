package anacrolix

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	dht "github.com/anacrolix/dht/v2"
)

// Server is one anacrolix/dht server answering find_node, with filler
// servers in the same process that populate its routing table.
type Server struct {
	main    *dht.Server
	fillers []*dht.Server
	served  atomic.Uint64
}

// StartServer starts the server on listen (a loopback ip:port), starts fill
// filler servers and pings each from the server so that they enter its table
// as good nodes. With anacrolix's k = 8 per bucket not every filler fits.
func StartServer(ctx context.Context, listen netip.AddrPort, fill int, seed uint64) (*Server, error) {
	rng := newRand(seed, 0xa2a)
	s := &Server{}
	var err error
	s.main, err = newServer(listen, rng, nil, func() { s.served.Add(1) })
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ephemeral := netip.AddrPortFrom(listen.Addr(), 0)
	for i := range fill {
		f, err := newServer(ephemeral, rng, nil, nil)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("filler %d: %w", i, err)
		}
		s.fillers = append(s.fillers, f)
		if err := ctx.Err(); err != nil {
			s.Close()
			return nil, err
		}
		if res := s.main.Ping(f.Addr().(*net.UDPAddr)); res.ToError() != nil {
			s.Close()
			return nil, fmt.Errorf("ping filler %d: %w", i, res.ToError())
		}
	}
	return s, nil
}

// Info implements ctl.Source: the dial address is the server's ip:port.
func (s *Server) Info() (impl, version, addr string) {
	return Impl, Version(), s.main.Addr().String()
}

// Served implements ctl.Source: find_node queries handled by the server.
func (s *Server) Served() uint64 { return s.served.Load() }

// RTSize implements ctl.Source.
func (s *Server) RTSize() int { return s.main.NumNodes() }

// Close stops the server and its fillers.
func (s *Server) Close() error {
	for _, f := range s.fillers {
		f.Close()
	}
	if s.main != nil {
		s.main.Close()
	}
	return nil
}
