package runtime

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/core"
)

func TestReloadAppliesLimitsAndCoreKnobs(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg, testOptions(60, nil))
	next := cfg.Clone()
	next.Limits.PeerRPS = 5
	next.Limits.MaxInflight = 7
	next.Alpha = 4
	next.HedgeAfter = 300 * time.Millisecond
	next.Provider.TTL, next.Provider.Refresh = 6*time.Hour, 3*time.Hour
	next.Provider.MaxTotal = 300
	next.HappyEyeballsDelay = 20 * time.Millisecond
	next.Bootstrap.Seeds = []string{"quic://192.0.2.1:4433"}
	changes := []config.Change{
		{Key: "limits.peer_rps", Old: "100", New: "5"},
		{Key: "limits.max_inflight", Old: "1024", New: "7"},
		{Key: "alpha", Old: "3", New: "4"},
		{Key: "hedge_after", Old: "250ms", New: "300ms"},
		{Key: "provider.ttl_secs", Old: "24h", New: "6h"},
		{Key: "provider.refresh_secs", Old: "12h", New: "3h"},
		{Key: "provider.max_total", Old: "2048", New: "300"},
		{Key: "happy_eyeballs_delay", Old: "75ms", New: "20ms"},
		{Key: "bootstrap.seeds", Old: "", New: "quic://192.0.2.1:4433"},
		{Key: "k", Old: "20", New: "24", Restart: true},
	}
	deferred, err := n.Reload(next, changes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deferred, []string{"bootstrap.seeds", "k"}) {
		t.Errorf("deferred %v, want [bootstrap.seeds k]", deferred)
	}
	if got := n.maxInflight.Load(); got != 7 {
		t.Errorf("max_inflight %d after reload, want 7", got)
	}
	if got := n.peerLimit.interval.Load(); got != 2e8 {
		t.Errorf("peer interval %d ns after reload, want 2e8 (5/s)", got)
	}
	if got := time.Duration(n.providerTTL.Load()); got != 6*time.Hour {
		t.Errorf("API provide ttl %v after reload, want 6h", got)
	}
	// Reload returns once the owner has given the core its new knobs.
	var tun core.Tunables
	if err := n.query(context.Background(), func(time.Time) { tun = n.core.Tunables() }); err != nil {
		t.Fatal(err)
	}
	want := coreConfig(next, nil).Tunables()
	if tun != want || tun.Alpha != 4 || tun.ProviderRefresh != 3*time.Hour || tun.StoreMaxTotal != 300 {
		t.Errorf("core tunables %+v after reload, want %+v", tun, want)
	}

	bad := next.Clone()
	bad.Limits.PeerRPS = 0 // below its range
	if _, err := n.Reload(bad, nil); err == nil {
		t.Fatal("invalid reload accepted")
	}
	if got := n.peerLimit.interval.Load(); got != 2e8 {
		t.Errorf("invalid reload changed the peer limit to %d ns", got)
	}
}

func TestReloadBeforeStart(t *testing.T) {
	cfg := testConfig(t)
	n, err := New(cfg, testOptions(61, nil))
	if err != nil {
		t.Fatal(err)
	}
	next := cfg.Clone()
	next.Beta = 3
	if _, err := n.Reload(next, []config.Change{{Key: "beta", Old: "1", New: "3"}}); err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Shutdown(context.Background()) }()
	var beta int
	if err := n.query(context.Background(), func(time.Time) { beta = n.core.Tunables().Beta }); err != nil {
		t.Fatal(err)
	}
	if beta != 3 {
		t.Fatalf("beta %d after a reload before Start, want 3", beta)
	}
}
