package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/wire"
)

// startNetwork starts n nodes on loopback: node 0 without seeds (the first
// node of the network), the others seeded by it with its pinned ID.
func startNetwork(t *testing.T, size int) []*Node {
	t.Helper()
	nodes := make([]*Node, size)
	nodes[0] = startNode(t, testConfig(t), testOptions(0, nil))
	for i := 1; i < size; i++ {
		nodes[i] = startNode(t, testConfig(t, seedOf(nodes[0])), testOptions(uint64(i), nil))
	}
	return nodes
}

func TestNetworkBootstrapsAndFindsProviders(t *testing.T) {
	nodes := startNetwork(t, 5)
	st := nodes[0].ReadyStatus()
	if !st.Ready || !st.FirstNode {
		t.Fatalf("node 0 without seeds: status %+v, want ready first node", st)
	}
	waitReady(t, nodes...)
	for i, n := range nodes[1:] {
		if st := n.ReadyStatus(); st.FirstNode {
			t.Errorf("node %d has a seed but says first_node", i+1)
		}
		if n.runner.Answered() != 1 {
			t.Errorf("node %d: %d seeds answered, want 1", i+1, n.runner.Answered())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	key := kbucket.ID(blake3.Sum256([]byte("runtime network test")))
	res, err := nodes[2].Provide(ctx, api.ProvideParams{Key: key})
	if err != nil {
		t.Fatalf("provide: %v", err)
	}
	if res.Replicas < 1 || !res.DualSigned {
		t.Fatalf("provide: %+v, want at least one replica and a dual-signed record", res)
	}
	for i, n := range nodes {
		if i == 2 {
			continue
		}
		got, err := n.FindProviders(ctx, key)
		if err != nil {
			t.Fatalf("node %d: find providers: %v", i, err)
		}
		if len(got.Providers) != 1 || kbucket.ID(got.Providers[0].Publisher) != nodes[2].ID() {
			t.Fatalf("node %d: providers %+v, want node 2 (%s)", i, got.Providers, nodes[2].ID().Short())
		}
		if got.Providers[0].Addrs[0] != nodes[2].Addrs()[0] {
			t.Errorf("node %d: provider addrs %v, want %v", i, got.Providers[0].Addrs, nodes[2].Addrs())
		}
	}

	// An unknown key is not found, with the SPEC code.
	_, err = nodes[1].FindProviders(ctx, kbucket.ID(blake3.Sum256([]byte("nobody"))))
	if !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("find providers of an unknown key: %v, want 1404", err)
	}

	// FIND_NODE of a node's ID finds it; ping by ID and by address.
	closest, err := nodes[4].FindClosest(ctx, nodes[3].ID())
	if err != nil || len(closest.Peers) == 0 || kbucket.ID(closest.Peers[0].ID) != nodes[3].ID() {
		t.Fatalf("find closest to node 3: %+v, %v", closest, err)
	}
	if p, err := nodes[4].Ping(ctx, api.PeerRef{ID: nodes[0].ID(), HasID: true}); err != nil || kbucket.ID(p.Peer) != nodes[0].ID() {
		t.Fatalf("ping node 0 by id: %+v, %v", p, err)
	}
	if p, err := nodes[4].Ping(ctx, api.PeerRef{Addr: nodes[2].Addrs()[0]}); err != nil || kbucket.ID(p.Peer) != nodes[2].ID() {
		t.Fatalf("ping node 2 by address: %+v, %v", p, err)
	}
	if _, err := nodes[4].Ping(ctx, api.PeerRef{ID: kbucket.ID{1, 2, 3}, HasID: true, Addr: nodes[2].Addrs()[0]}); err == nil {
		t.Fatal("ping of node 2's address pinned to another id succeeded")
	}
	peers, err := nodes[4].Peers(ctx)
	if err != nil || peers.Size == 0 || len(peers.Buckets) == 0 {
		t.Fatalf("peers: %+v, %v", peers, err)
	}
	stats, err := nodes[2].Stats(ctx)
	if err != nil || !stats.Ready || stats.Counters["probes_sent"] == 0 {
		t.Fatalf("stats: %+v, %v", stats, err)
	}
}

// get fetches an ops endpoint of n.
func get(t *testing.T, n *Node, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + n.OpsAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestReadinessAndOpsPlane(t *testing.T) {
	// A node whose only seed does not answer is not ready, and says why.
	dead := newClient(t, 9) // a dial-only transport refuses inbound RPCs
	cfg := testConfig(t, "quic://"+strings.TrimPrefix(dead.Addrs()[0], "quic://"))
	n := startNode(t, cfg, testOptions(7, nil))
	code, body := get(t, n, "/readyz")
	var st struct {
		Ready      bool     `json:"ready"`
		Degraded   string   `json:"degraded"`
		Missing    []string `json:"missing"`
		RetryAfter int64    `json:"retry_after"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("readyz body %q: %v", body, err)
	}
	if code != http.StatusServiceUnavailable || st.Ready || len(st.Missing) == 0 ||
		!strings.HasPrefix(st.Missing[0], "seeds: 0/1") || st.RetryAfter < 1 {
		t.Fatalf("readyz of a node without answering seed: %d %s", code, body)
	}

	// The first node is ready and says so; its metrics carry the
	// contractual names, updated by real events.
	first := startNode(t, testConfig(t), testOptions(8, nil))
	code, body = get(t, first, "/readyz")
	if code != http.StatusOK || !strings.Contains(body, `"first_node":true`) {
		t.Fatalf("readyz of the first node: %d %s", code, body)
	}
	if code, body := get(t, first, "/v1/stats"); code != http.StatusOK || !strings.Contains(body, first.ID().String()) {
		t.Fatalf("local API /v1/stats: %d %s", code, body)
	}
	peer := startNode(t, testConfig(t, seedOf(first)), testOptions(10, nil))
	waitReady(t, peer)
	code, body = get(t, peer, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`dht_rpcs_total{op="ping",code="ok"}`,
		`dht_rpcs_total{op="find_node",code="ok"}`,
		"dht_boot_first_dial_seconds ",
		`dht_route_updates_total{action="added"}`,
		`dht_bootstrap_seeds_up{seed="` + first.Addrs()[0] + `"} 1`,
		`queue_depth{queue="work"} 0`,
		"dht_ready_bucket_fill_pct 1",
		`dht_lookup_hops_histogram_bucket{op="find_node"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", body)
	}
}
