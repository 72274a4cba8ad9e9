package anacrolix

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	dht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/log"
	"github.com/anacrolix/torrent/iplist"
	"golang.org/x/time/rate"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

// Impl is the implementation name used in results.
const Impl = "anacrolix"

// Version names the library version this binary was built with.
func Version() string {
	return "anacrolix/dht/v2 " + result.ModuleVersion("github.com/anacrolix/dht/v2")
}

// loopbackOnly is an IP block list that blocks every address that is not loopback.
type loopbackOnly struct{}

func (loopbackOnly) Lookup(ip net.IP) (iplist.Range, bool) {
	if ip.IsLoopback() {
		return iplist.Range{}, false
	}
	return iplist.Range{First: ip, Last: ip, Description: "not loopback"}, true
}

func (loopbackOnly) NumRanges() int { return 1 }

// newServer starts an anacrolix/dht server on a UDP socket bound to ap (loopback),
// with a node ID from rng, the given starting nodes (nil: none), the send rate
// limiter off and the find_node target fix. onFindNode, if set, is called per
// find_node query.
func newServer(ap netip.AddrPort, rng *rand.Rand, starting func() []dht.Addr, onFindNode func()) (*dht.Server, error) {
	if !ap.Addr().Unmap().IsLoopback() {
		return nil, fmt.Errorf("listen address %s is not loopback", ap)
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return nil, fmt.Errorf("listen udp %s: %w", ap, err)
	}
	c := dht.NewDefaultServerConfig()
	c.Conn = conn
	for i := range c.NodeId {
		c.NodeId[i] = byte(rng.Uint32())
	}
	c.NoSecurity = true
	// Only our loopback seeds: never the default global bootstrap routers.
	c.StartingNodes = func() ([]dht.Addr, error) {
		if starting == nil {
			return nil, nil
		}
		return starting(), nil
	}
	// Rate limiter off. The default is one 25/s limiter shared by every server in the process.
	c.SendLimiter = rate.NewLimiter(rate.Inf, 0)
	c.IPBlocklist = loopbackOnly{}
	c.Logger = log.Default.FilterLevel(log.Warning)
	c.OnQuery = func(m *krpc.Msg, _ net.Addr) bool {
		if m.Q == "find_node" && m.A != nil {
			m.A.InfoHash = m.A.Target
			if onFindNode != nil {
				onFindNode()
			}
		}
		return true
	}
	s, err := dht.NewServer(c)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("anacrolix dht server: %w", err)
	}
	return s, nil
}

func udpAddr(s *dht.Server) dht.Addr {
	return dht.NewAddr(s.Addr())
}

func newRand(seed, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, salt))
}
