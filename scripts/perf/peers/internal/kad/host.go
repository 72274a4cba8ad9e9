package kad

import (
	"context"
	"fmt"
	"io"
	"net/netip"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/result"
)

// ProtocolPrefix is the private DHT protocol prefix: these nodes never speak
// the public /ipfs/kad protocol.
const ProtocolPrefix protocol.ID = "/svc-dht-peers"

// ProtocolID is the FIND_NODE stream protocol the nodes serve.
const ProtocolID = ProtocolPrefix + "/kad/1.0.0"

// Impl is the implementation name used in results.
const Impl = "libp2p"

// Version names the library versions this binary was built with.
func Version() string {
	return "go-libp2p-kad-dht " + result.ModuleVersion("github.com/libp2p/go-libp2p-kad-dht") +
		", go-libp2p " + result.ModuleVersion("github.com/libp2p/go-libp2p")
}

// loopbackGater refuses every dial to, and every connection from, an address
// that is not loopback.
type loopbackGater struct{}

func (loopbackGater) InterceptPeerDial(peer.ID) bool { return true }
func (loopbackGater) InterceptAddrDial(_ peer.ID, a ma.Multiaddr) bool {
	return manet.IsIPLoopback(a)
}
func (loopbackGater) InterceptAccept(c network.ConnMultiaddrs) bool {
	return manet.IsIPLoopback(c.RemoteMultiaddr())
}
func (loopbackGater) InterceptSecured(_ network.Direction, _ peer.ID, c network.ConnMultiaddrs) bool {
	return manet.IsIPLoopback(c.RemoteMultiaddr())
}
func (loopbackGater) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) {
	return true, 0
}

// quicAddr is the QUIC listen multiaddr of a loopback ip:port.
func quicAddr(ap netip.AddrPort) (ma.Multiaddr, error) {
	ip := ap.Addr().Unmap()
	if !ip.IsLoopback() {
		return nil, fmt.Errorf("listen address %s is not loopback", ap)
	}
	proto := "ip4"
	if ip.Is6() {
		proto = "ip6"
	}
	a, err := ma.NewMultiaddr(fmt.Sprintf("/%s/%s/udp/%d/quic-v1", proto, ip, ap.Port()))
	if err != nil {
		return nil, fmt.Errorf("listen multiaddr: %w", err)
	}
	return a, nil
}

// newHost builds a loopback-only QUIC host listening on ap, its key drawn from rng.
func newHost(ap netip.AddrPort, rng io.Reader) (host.Host, error) {
	listen, err := quicAddr(ap)
	if err != nil {
		return nil, err
	}
	priv, _, err := crypto.GenerateEd25519Key(rng)
	if err != nil {
		return nil, fmt.Errorf("host key: %w", err)
	}
	h, err := libp2p.New(
		libp2p.Identity(priv),
		libp2p.ListenAddrs(listen),
		libp2p.Transport(libp2pquic.NewTransport), // the only transport: no TCP, no WebSocket, no WebTransport/WebRTC
		libp2p.DisableRelay(),
		libp2p.ForceReachabilityPublic(), // fixed reachability: AutoNAT never probes
		libp2p.DisableIdentifyAddressDiscovery(),
		libp2p.ConnectionGater(loopbackGater{}),
		libp2p.UserAgent("svc-dht-peers"),
	)
	if err != nil {
		return nil, fmt.Errorf("libp2p host on %s: %w", listen, err)
	}
	return h, nil
}

// newDHT starts kad-dht in server mode on h with a private protocol, no
// automatic refresh and only the given (loopback) bootstrap peers.
func newDHT(h host.Host, bootstrap []peer.AddrInfo, onFindNode func()) (*dht.IpfsDHT, error) {
	opts := []dht.Option{
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.BootstrapPeers(bootstrap...),
		dht.DisableAutoRefresh(),
	}
	if onFindNode != nil {
		opts = append(opts, dht.OnRequestHook(func(_ context.Context, _ network.Stream, req *pb.Message) {
			if req.GetType() == pb.Message_FIND_NODE {
				onFindNode()
			}
		}))
	}
	d, err := dht.New(h, opts...)
	if err != nil {
		return nil, fmt.Errorf("kad-dht: %w", err)
	}
	return d, nil
}

func addrInfo(h host.Host) peer.AddrInfo {
	return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()}
}
