package kad

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/loadgen"
)

type connAddrs struct{ local, remote ma.Multiaddr }

func (c connAddrs) LocalMultiaddr() ma.Multiaddr  { return c.local }
func (c connAddrs) RemoteMultiaddr() ma.Multiaddr { return c.remote }

func TestGaterLoopbackOnly(t *testing.T) {
	g := loopbackGater{}
	allow := []string{"/ip4/127.0.0.1/udp/4001/quic-v1", "/ip6/::1/udp/4001/quic-v1", "/ip4/127.3.2.1/tcp/1"}
	deny := []string{
		"/ip4/104.131.131.82/tcp/4001",                   // a public IPFS bootstrap peer
		"/dnsaddr/bootstrap.libp2p.io",                   // the default bootstrap name
		"/dns4/example.com/udp/4001/quic-v1",             // any name: would need DNS
		"/ip4/10.0.0.1/udp/4001/quic-v1",                 // private range
		"/ip4/0.0.0.0/udp/4001/quic-v1",                  // unspecified
		"/ip4/192.168.1.1/udp/4001/quic-v1/p2p-circuit",  // relay
		"/ip6/2001:db8::1/udp/4001/quic-v1/webtransport", // public v6
	}
	local := ma.StringCast("/ip4/127.0.0.1/udp/1/quic-v1")
	for _, s := range allow {
		a := ma.StringCast(s)
		if !g.InterceptAddrDial("", a) || !g.InterceptAccept(connAddrs{local, a}) || !g.InterceptSecured(network.DirInbound, "", connAddrs{local, a}) {
			t.Errorf("%s refused", s)
		}
	}
	for _, s := range deny {
		a := ma.StringCast(s)
		if g.InterceptAddrDial("", a) || g.InterceptAccept(connAddrs{local, a}) || g.InterceptSecured(network.DirOutbound, "", connAddrs{local, a}) {
			t.Errorf("%s allowed", s)
		}
	}
}

func startTestServer(t *testing.T, fill int) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartServer(ctx, netip.MustParseAddrPort("127.0.0.1:0"), fill, 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServerSpeaksOnlyThePrivateProtocol(t *testing.T) {
	s := startTestServer(t, 1)
	protos := s.main.h.Mux().Protocols()
	if !slices.Contains(protos, protocol.ID(ProtocolID)) {
		t.Fatalf("server does not serve %s: %v", ProtocolID, protos)
	}
	for _, p := range protos {
		if p == "/ipfs/kad/1.0.0" || p == "/ipfs/lan/kad/1.0.0" {
			t.Fatalf("server speaks the public DHT protocol %s", p)
		}
	}
	for _, a := range s.main.h.Addrs() {
		if ip, err := a.ValueForProtocol(ma.P_IP4); err != nil || ip != "127.0.0.1" {
			t.Fatalf("server listens on %s", a)
		}
	}
}

func TestServerAnswersLoad(t *testing.T) {
	const fill = 5
	s := startTestServer(t, fill)
	if got := s.RTSize(); got != fill {
		t.Fatalf("routing table %d, want the %d fillers", got, fill)
	}
	_, _, addr := s.Info()
	for _, perRPC := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		l, err := NewLoad(ctx, addr, 2, 4, perRPC, 3)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		before := s.Served()
		rep, err := loadgen.Run(ctx, loadgen.Config{Duration: time.Minute, MaxCalls: 300}, l.Callers())
		l.Close()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Errors != 0 || rep.Calls < 300-4 {
			t.Fatalf("streamPerRPC=%v: %d calls, %d errors", perRPC, rep.Calls, rep.Errors)
		}
		// Every answer lists all fillers: the server knows no one else.
		if rep.AnswerNodes != fill*rep.Calls {
			t.Fatalf("streamPerRPC=%v: %d answer nodes over %d calls, want %d each", perRPC, rep.AnswerNodes, rep.Calls, fill)
		}
		if served := s.Served() - before; served < uint64(rep.Calls) || served > 300 {
			t.Fatalf("server counted %d FIND_NODE for %d calls", served, rep.Calls)
		}
	}
}

func TestNewLoadRefusesNonLoopback(t *testing.T) {
	_, err := NewLoad(context.Background(), "/ip4/104.131.131.82/udp/4001/quic-v1/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ", 1, 1, false, 1)
	if err == nil {
		t.Fatal("public target accepted")
	}
}

func TestSwarmLookups(t *testing.T) {
	const n = 8
	sw, err := NewSwarm(n, 2, 11)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	failed, err := sw.Bootstrap(ctx, 0)
	if err != nil || failed != 0 {
		t.Fatalf("bootstrap: %d failed, %v", failed, err)
	}
	// In a network this small every node should know most of the others.
	if m := sw.MeanRTSize(); m < n/2 {
		t.Fatalf("mean routing table %.1f after bootstrap", m)
	}
	rep, err := loadgen.RunLookups(ctx, n, 6, 2, 5, 30*time.Second, sw.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.OK != 6 {
		t.Fatalf("lookups: %d ok, %d errors, first %v", rep.OK, rep.Errors, rep.FirstErr)
	}
	if rep.RPCs < 6 {
		t.Fatalf("%d RPCs for 6 lookups: query events not counted", rep.RPCs)
	}
	// k = 20 > n: every lookup returns all other nodes, the closest included.
	if rep.Exact != rep.OK {
		t.Fatalf("%d of %d lookups found the closest node", rep.Exact, rep.OK)
	}
	if _, err := NewSwarm(3, 3, 1); err == nil {
		t.Fatal("swarm of only seeds accepted")
	}
}
