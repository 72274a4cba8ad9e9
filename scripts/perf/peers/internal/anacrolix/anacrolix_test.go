package anacrolix

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	dht "github.com/anacrolix/dht/v2"
	"github.com/anacrolix/dht/v2/krpc"
	"github.com/anacrolix/torrent/bencode"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/loadgen"
)

func TestLoopbackOnlyBlocklist(t *testing.T) {
	var b loopbackOnly
	for _, s := range []string{"127.0.0.1", "127.9.9.9", "::1"} {
		if _, blocked := b.Lookup(net.ParseIP(s)); blocked {
			t.Errorf("%s blocked", s)
		}
	}
	for _, s := range []string{"67.215.246.10", "10.0.0.1", "192.168.0.1", "0.0.0.0", "2001:db8::1"} {
		if _, blocked := b.Lookup(net.ParseIP(s)); !blocked {
			t.Errorf("%s not blocked", s)
		}
	}
}

func TestServerRefusesPublicListen(t *testing.T) {
	if _, err := newServer(netip.MustParseAddrPort("0.0.0.0:0"), newRand(1, 1), nil, nil); err == nil {
		t.Fatal("unspecified listen address accepted")
	}
	if _, err := NewLoad(netip.MustParseAddrPort("67.215.246.10:6881"), 1, 1); err == nil {
		t.Fatal("public target accepted")
	}
}

func TestServerNeverContactsTheGlobalRouters(t *testing.T) {
	// A server with no starting nodes must fail to bootstrap rather than fall
	// back to router.bittorrent.com and friends.
	s, err := newServer(netip.MustParseAddrPort("127.0.0.1:0"), newRand(1, 2), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if nodes, err := s.TraversalStartingNodes(); err == nil || len(nodes) != 0 {
		t.Fatalf("starting nodes %v, err %v: want none", nodes, err)
	}
	if _, err := s.Bootstrap(); err == nil {
		t.Fatal("bootstrap with no starting nodes succeeded")
	}
}

func startTestServer(t *testing.T, fill int) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartServer(ctx, netip.MustParseAddrPort("127.0.0.1:0"), fill, 9)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServerAnswersLoad(t *testing.T) {
	s := startTestServer(t, 16)
	rt := s.RTSize()
	if rt < 8 {
		t.Fatalf("routing table %d after 16 fillers", rt)
	}
	l, err := NewLoad(netip.MustParseAddrPort(s.main.Addr().String()), 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := s.Served()
	rep, err := loadgen.Run(context.Background(), loadgen.Config{Duration: time.Minute, MaxCalls: 400}, l.Callers())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Calls < 400-4 {
		t.Fatalf("%d calls, %d errors", rep.Calls, rep.Errors)
	}
	// anacrolix answers from the target's bucket and the farther ones, up to 8.
	if rep.AnswerNodes < rep.Calls || rep.AnswerNodes > 8*rep.Calls {
		t.Fatalf("%d answer nodes over %d calls, want 1 to 8 each", rep.AnswerNodes, rep.Calls)
	}
	if served := s.Served() - before; served < uint64(rep.Calls) || served > 400 {
		t.Fatalf("server counted %d find_node for %d calls", served, rep.Calls)
	}
	// Read-only queries: the load generator never enters the server's table.
	if got := s.RTSize(); got != rt {
		t.Fatalf("routing table changed from %d to %d under read-only load", rt, got)
	}
}

// findNode sends one read-only find_node for target to addr and returns the answer's node IDs.
func findNode(t *testing.T, addr netip.AddrPort, target krpc.ID) []krpc.ID {
	t.Helper()
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q, err := bencode.Marshal(krpc.Msg{T: "tt", Y: "q", Q: "find_node", A: &krpc.MsgArgs{ID: krpc.ID{1}, Target: target}, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write(q); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var m krpc.Msg
	if err := bencode.Unmarshal(buf[:n], &m); err != nil {
		t.Fatal(err)
	}
	if m.R == nil {
		t.Fatalf("no return in %+v", m)
	}
	var ids []krpc.ID
	for _, ni := range m.R.Nodes {
		ids = append(ids, ni.ID)
	}
	return ids
}

func TestFindNodeAnswersForTheTarget(t *testing.T) {
	// anacrolix answers find_node from the target's bucket first, so a query
	// for a known node's ID must list that node. Without the target fix the
	// server answers for the all-zero ID and misses the nodes of other buckets.
	s := startTestServer(t, 24)
	table := s.main.Nodes()
	if len(table) < 8 {
		t.Fatalf("routing table %d", len(table))
	}
	addr := netip.MustParseAddrPort(s.main.Addr().String())
	for i, ni := range table {
		got := findNode(t, addr, ni.ID)
		if len(got) == 0 || len(got) > 8 {
			t.Fatalf("target %d: %d nodes", i, len(got))
		}
		if !slices.Contains(got, ni.ID) {
			t.Fatalf("target %d (%x): answer does not list the target node itself", i, ni.ID)
		}
	}
}

func TestSwarmLookups(t *testing.T) {
	const n = 16
	sw, err := NewSwarm(n, 2, 11)
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	for i, srv := range sw.nodes {
		if a := srv.Addr().(*net.UDPAddr); !a.IP.IsLoopback() {
			t.Fatalf("node %d on %s", i, a)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	failed, err := sw.Bootstrap(ctx, 4)
	if err != nil || failed != 0 {
		t.Fatalf("bootstrap: %d failed, %v", failed, err)
	}
	if m := sw.MeanRTSize(); m < 2 {
		t.Fatalf("mean routing table %.1f after bootstrap", m)
	}
	rep, err := loadgen.RunLookups(ctx, n, 10, 2, 5, 30*time.Second, sw.Lookup)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.OK != 10 || rep.RPCs < 10 || rep.Exact == 0 {
		t.Fatalf("lookups: %d ok (%d exact), %d errors, %d RPCs, first %v", rep.OK, rep.Exact, rep.Errors, rep.RPCs, rep.FirstErr)
	}
	var _ dht.Addr = udpAddr(sw.nodes[0])
}
