package runtime

import (
	"slices"
	"testing"

	"github.com/svc-dht/svc-dht/node/config"
)

func TestReloadAppliesLimitsAndDefersCoreKnobs(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg, testOptions(60, nil))
	next := cfg.Clone()
	next.Limits.PeerRPS = 5
	next.Limits.MaxInflight = 7
	next.Alpha = 4
	changes := []config.Change{
		{Key: "limits.peer_rps", Old: "100", New: "5"},
		{Key: "limits.max_inflight", Old: "128", New: "7"},
		{Key: "alpha", Old: "3", New: "4"},
		{Key: "k", Old: "20", New: "24", Restart: true},
	}
	deferred, err := n.Reload(next, changes)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(deferred, []string{"alpha", "k"}) {
		t.Errorf("deferred %v, want [alpha k]", deferred)
	}
	if got := n.maxInflight.Load(); got != 7 {
		t.Errorf("max_inflight %d after reload, want 7", got)
	}
	if got := n.peerLimit.interval.Load(); got != 2e8 {
		t.Errorf("peer interval %d ns after reload, want 2e8 (5/s)", got)
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
