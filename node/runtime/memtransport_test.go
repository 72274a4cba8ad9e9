package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/memnet"
	"github.com/svc-dht/svc-dht/node/transport"
)

// TestNewTransportMemnet runs a small network whose nodes talk over the
// in-memory network (Options.NewTransport) instead of QUIC: they bootstrap,
// become ready and serve lookups and provides through the same runtime.
func TestNewTransportMemnet(t *testing.T) {
	net, err := memnet.New(memnet.Config{Seed: 9, RTTMin: time.Millisecond, RTTMax: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var eps []*memnet.Endpoint
	mk := func(id *identity.Identity, h transport.Handler) (Transport, error) {
		e, err := net.Listen(id, h)
		if err != nil {
			return nil, err
		}
		eps = append(eps, e)
		return e, nil
	}
	const size = 6
	nodes := make([]*Node, size)
	for i := range nodes {
		var seedList []string
		if i > 0 {
			seedList = []string{seedOf(nodes[0])}
		}
		cfg := testConfig(t, seedList...)
		cfg.EventLoops = 1
		opts := testOptions(uint64(i+1), nil)
		opts.DisableOps = true
		opts.NewTransport = mk
		nodes[i] = startNode(t, cfg, opts)
		if got, want := nodes[i].Addrs(), eps[i].Addrs(); len(got) != 1 || got[0] != want[0] {
			t.Fatalf("node %d addrs %v, want the memnet endpoint's %v", i, got, want)
		}
	}
	waitReady(t, nodes...)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	key := kbucket.ID{0xab, 0xcd}
	pr, err := nodes[size-1].Provide(ctx, api.ProvideParams{Key: key})
	if err != nil || pr.Replicas == 0 {
		t.Fatalf("Provide: %+v %v", pr, err)
	}
	fp, err := nodes[1].FindProviders(ctx, key)
	if err != nil || len(fp.Providers) != 1 || fp.Providers[0].Publisher != api.ID(nodes[size-1].ID()) {
		t.Fatalf("FindProviders: %+v %v", fp, err)
	}
	fc, err := nodes[2].FindClosest(ctx, nodes[4].ID())
	if err != nil || len(fc.Peers) == 0 || fc.Peers[0].ID != api.ID(nodes[4].ID()) {
		t.Fatalf("FindClosest: %+v %v", fc, err)
	}
	if st := net.Stats(); st.Answered == 0 || st.Delivered < st.Answered {
		t.Errorf("memnet stats %+v", st)
	}
}

// TestNewTransportError checks that a failing NewTransport fails New.
func TestNewTransportError(t *testing.T) {
	boom := errors.New("boom")
	opts := testOptions(1, nil)
	opts.DisableOps = true
	opts.NewTransport = func(*identity.Identity, transport.Handler) (Transport, error) { return nil, boom }
	if _, err := New(testConfig(t), opts); !errors.Is(err, boom) {
		t.Errorf("New: %v, want the transport's error", err)
	}
}
