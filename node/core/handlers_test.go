package core

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	cases := map[string]func(*Config){
		"k":              func(c *Config) { c.K, c.Table.K = 15, 15 },
		"alpha":          func(c *Config) { c.Alpha = 0 },
		"beta":           func(c *Config) { c.Beta = 5 },
		"hop_budget":     func(c *Config) { c.HopBudget = 9 },
		"rpc_timeout":    func(c *Config) { c.RPCTimeout = 100 * time.Millisecond },
		"hedge_after":    func(c *Config) { c.HedgeAfter = time.Second },
		"lookup_max":     func(c *Config) { c.LookupMaxRPCs = 3 },
		"refresh":        func(c *Config) { c.BucketRefreshInterval = time.Second },
		"ttl":            func(c *Config) { c.ProviderTTL = 49 * time.Hour },
		"refresh_secs":   func(c *Config) { c.ProviderRefresh = c.ProviderTTL },
		"enough":         func(c *Config) { c.ProviderEnough = 0 },
		"per_key":        func(c *Config) { c.StoreMaxPerKey = 0 },
		"sweep":          func(c *Config) { c.SweepInterval = 0 },
		"store bounds":   func(c *Config) { c.EnableStore, c.StoreMaxTotalBytes = true, 1 },
		"rates":          func(c *Config) { c.PeerRPS = -1 },
		"tracked":        func(c *Config) { c.MaxTrackedPeers = 0 },
		"table k":        func(c *Config) { c.Table.K = 24 },
		"table asn":      func(c *Config) { c.Table.ASNMaxPct = 0.9 },
		"negative max":   func(c *Config) { c.MaxLookups = -1 },
		"max rps":        func(c *Config) { c.MaxRPS = -3 },
		"lookup max big": func(c *Config) { c.LookupMaxRPCs = 100*c.K + 1 },
	}
	for name, mutate := range cases {
		c := DefaultConfig()
		mutate(&c)
		err := c.Validate()
		if !errors.Is(err, ErrConfig) && !errors.Is(err, kbucket.ErrConfig) {
			t.Errorf("%s: Validate = %v, want a config error", name, err)
		}
		if _, err := New(kbucket.ID{1}, c, Deps{Rand: rand.New(rand.NewPCG(1, 2)), Verifier: testVerifier{}}); err == nil {
			t.Errorf("%s: New accepted an invalid config", name)
		}
	}
	if _, err := New(kbucket.ID{1}, DefaultConfig(), Deps{Verifier: testVerifier{}}); err == nil {
		t.Error("New without Rand accepted")
	}
	if _, err := New(kbucket.ID{1}, DefaultConfig(), Deps{Rand: rand.New(rand.NewPCG(1, 2))}); err == nil {
		t.Error("New without Verifier accepted")
	}
}

func TestHandlePing(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	self := randID(r)
	cfg := DefaultConfig()
	cfg.Addrs = []string{"quic://198.51.100.1:4433"}
	c := newTestCore(t, self, &cfg)
	from := peerFor(randID(r))
	var resp Response
	acts := c.HandleRequest(epoch, from, &Request{Op: wire.OpPing}, &resp)
	if len(acts) != 0 {
		t.Fatalf("ping produced actions %v", acts)
	}
	if resp.Code != wire.CodeOK || resp.Op != wire.OpPing || resp.Self.ID != self || !slices.Equal(resp.Self.Addrs, cfg.Addrs) {
		t.Fatalf("ping response = %+v", resp)
	}
	got, ok := c.Table().Find(from.ID)
	if !ok || got.Addr != from.Addr || got.LastSeen != epoch.UnixNano() {
		t.Fatalf("requester not recorded in the table: %+v %v", got, ok)
	}
	if s := c.Stats(); s.Requests[wire.OpPing] != 1 || s.RouteAdded != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

// fillTable reports n random peers to c as inbound exchanges and returns
// the IDs.
func fillTable(t testing.TB, c *Core, r *rand.Rand, n int) []kbucket.ID {
	t.Helper()
	ids := make([]kbucket.ID, n)
	for i := range ids {
		ids[i] = randID(r)
		c.AddPeer(epoch, peerFor(ids[i]))
	}
	return ids
}

func TestHandleFindNode(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	c := newTestCore(t, randID(r), nil)
	fillTable(t, c, r, 400)
	inTable := c.Table().Snapshot().Peers(nil)
	if len(inTable) < 60 {
		t.Fatalf("table holds only %d peers", len(inTable))
	}
	var resp Response
	for trial := range 50 {
		target := randID(r)
		from := inTable[trial%len(inTable)]
		c.HandleRequest(epoch, from, &Request{Op: wire.OpFindNode, Key: target}, &resp)
		want := make([]kbucket.ID, 0, len(inTable))
		for _, p := range inTable {
			if p.ID != from.ID {
				want = append(want, p.ID)
			}
		}
		slices.SortFunc(want, func(a, b kbucket.ID) int { return kbucket.Xor(a, target).Cmp(kbucket.Xor(b, target)) })
		want = want[:c.cfg.K]
		got := make([]kbucket.ID, len(resp.Closest))
		for i, ni := range resp.Closest {
			got[i] = ni.ID
			if len(ni.Addrs) != 1 || !strings.HasPrefix(ni.Addrs[0], "quic://") {
				t.Fatalf("node info without its addresses: %+v", ni)
			}
		}
		if resp.Code != wire.CodeOK || !slices.Equal(got, want) {
			t.Fatalf("trial %d: closest = %v, want %v", trial, got, want)
		}
	}
}

func TestHandleFindValue(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	c := newTestCore(t, randID(r), nil)
	fillTable(t, c, r, 100)
	key, pub := randID(r), randID(r)
	from := peerFor(randID(r))
	var resp Response
	c.HandleRequest(epoch, from, &Request{Op: wire.OpProvide, Record: signedRecord(key, pub, epoch, time.Hour)}, &resp)
	if resp.Code != wire.CodeOK || !resp.Accepted {
		t.Fatalf("provide: %+v", resp)
	}
	c.HandleRequest(epoch, from, &Request{Op: wire.OpFindValue, Key: key}, &resp)
	if len(resp.Providers) != 1 || resp.Providers[0].Publisher != pub || len(resp.Closest) != 0 {
		t.Fatalf("find value of a stored key: %+v", resp)
	}
	c.HandleRequest(epoch, from, &Request{Op: wire.OpFindValue, Key: randID(r)}, &resp)
	if len(resp.Providers) != 0 || len(resp.Closest) != c.cfg.K || resp.Code != wire.CodeOK {
		t.Fatalf("find value of an unknown key: %d providers, %d closest, code %d", len(resp.Providers), len(resp.Closest), resp.Code)
	}
}

func TestHandleProvideRejects(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	c := newTestCore(t, randID(r), nil)
	key, pub := randID(r), randID(r)
	unsigned := signedRecord(key, pub, epoch, time.Hour)
	unsigned.Sigs = nil
	cases := []struct {
		name string
		rec  *wire.ProviderRecord
		code wire.Code
	}{
		{"valid", signedRecord(key, pub, epoch, time.Hour), wire.CodeOK},
		{"no record", nil, wire.CodeMalformed},
		{"bad signature", unsigned, wire.CodeBadSignature},
		{"expired", signedRecord(key, randID(r), epoch.Add(-2*time.Hour), time.Hour), wire.CodeStaleRecord},
		{"future", signedRecord(key, randID(r), epoch.Add(time.Hour), time.Hour), wire.CodeStaleRecord},
	}
	for _, tc := range cases {
		var resp Response
		c.HandleRequest(epoch, peerFor(randID(r)), &Request{Op: wire.OpProvide, Record: tc.rec}, &resp)
		if resp.Code != tc.code || resp.Accepted != (tc.code == wire.CodeOK) || (tc.code != wire.CodeOK && resp.Reason == "") {
			t.Errorf("%s: code %d accepted %v reason %q, want code %d", tc.name, resp.Code, resp.Accepted, resp.Reason, tc.code)
		}
	}
	if c.StoredRecords() != 1 {
		t.Fatalf("stored %d records, want 1", c.StoredRecords())
	}
}

func provide(c *Core, now time.Time, rec *wire.ProviderRecord) Response {
	var resp Response
	c.HandleRequest(now, peerFor(kbucket.ID(rec.Publisher)), &Request{Op: wire.OpProvide, Record: rec}, &resp)
	return resp
}

func TestProviderStoreBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	cfg := DefaultConfig()
	cfg.StoreMaxPerKey, cfg.StoreMaxPerPublisher, cfg.StoreMaxTotal = 2, 3, 4
	cfg.PeerRPS = 0
	c := newTestCore(t, randID(r), &cfg)
	k1, k2, k3, k4 := randID(r), randID(r), randID(r), randID(r)
	p1, p2, p3, p4 := randID(r), randID(r), randID(r), randID(r)
	steps := []struct {
		key, pub kbucket.ID
		code     wire.Code
		reason   string
	}{
		{k1, p1, wire.CodeOK, ""},
		{k1, p2, wire.CodeOK, ""},
		{k1, p3, wire.CodeQuotaExceeded, "per-key"},
		{k1, p1, wire.CodeOK, ""}, // a repeat is not a new record
		{k2, p1, wire.CodeOK, ""},
		{k3, p1, wire.CodeOK, ""},
		{k4, p1, wire.CodeQuotaExceeded, "per-publisher"},
		{k4, p3, wire.CodeQuotaExceeded, "total"},
		{k2, p4, wire.CodeQuotaExceeded, "total"},
	}
	for i, s := range steps {
		resp := provide(c, epoch, signedRecord(s.key, s.pub, epoch, time.Hour))
		if resp.Code != s.code || !strings.Contains(resp.Reason, s.reason) {
			t.Fatalf("step %d: code %d reason %q, want %d %q", i, resp.Code, resp.Reason, s.code, s.reason)
		}
	}
	if c.StoredRecords() != 4 {
		t.Fatalf("stored %d, want the total bound 4", c.StoredRecords())
	}
	// Bounds are checked before the (expensive) signature check: an
	// unsigned record over a bound gets 1429, not 1440.
	unsigned := signedRecord(k4, p3, epoch, time.Hour)
	unsigned.Sigs = nil
	if resp := provide(c, epoch, unsigned); resp.Code != wire.CodeQuotaExceeded {
		t.Fatalf("unsigned record over a bound: code %d, want 1429 before verification", resp.Code)
	}
}

func TestProviderStoreIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	c := newTestCore(t, randID(r), nil)
	key, pub := randID(r), randID(r)
	from := peerFor(randID(r))
	findTS := func(now time.Time) []int64 {
		var resp Response
		c.HandleRequest(now, from, &Request{Op: wire.OpFindValue, Key: key}, &resp)
		var ts []int64
		for _, p := range resp.Providers {
			ts = append(ts, p.TS)
		}
		return ts
	}
	provide(c, epoch, signedRecord(key, pub, epoch, time.Hour))
	later := epoch.Add(50 * time.Minute)
	if resp := provide(c, later, signedRecord(key, pub, later, time.Hour)); !resp.Accepted {
		t.Fatalf("repeat refused: %+v", resp)
	}
	if got := findTS(later); !slices.Equal(got, []int64{later.Unix()}) {
		t.Fatalf("after a newer repeat: ts = %v, want one record with ts %d", got, later.Unix())
	}
	// An older replay neither duplicates nor shortens the record.
	provide(c, later, signedRecord(key, pub, epoch.Add(time.Minute), time.Hour))
	if got := findTS(later); !slices.Equal(got, []int64{later.Unix()}) {
		t.Fatalf("after an older replay: ts = %v", got)
	}
	// The repeat extended the expiry: at epoch+1h30 the first record would
	// be gone, the repeat is not.
	if got := findTS(epoch.Add(90 * time.Minute)); len(got) != 1 {
		t.Fatalf("extended record not served: %v", got)
	}
	if c.StoredRecords() != 1 {
		t.Fatalf("stored %d records, want 1", c.StoredRecords())
	}
}

func TestProviderExpirySweep(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	c := newTestCore(t, randID(r), nil)
	h := newHarness(t, c)
	h.take(c.Start(epoch))
	key := randID(r)
	provide(c, epoch, signedRecord(key, randID(r), epoch, 90*time.Second))
	provide(c, epoch, signedRecord(randID(r), randID(r), epoch, time.Hour))
	h.advance(time.Minute)
	h.fireDue()
	if c.StoredRecords() != 2 {
		t.Fatalf("sweep before expiry dropped records: %d left", c.StoredRecords())
	}
	h.advance(time.Minute)
	// Expired records are never served, even before the sweep.
	var resp Response
	c.HandleRequest(h.now, peerFor(randID(r)), &Request{Op: wire.OpFindValue, Key: key}, &resp)
	if len(resp.Providers) != 0 {
		t.Fatal("expired record served")
	}
	h.fireDue()
	if c.StoredRecords() != 1 || c.Stats().RecordsExpired != 1 {
		t.Fatalf("after sweep: %d stored, %d expired", c.StoredRecords(), c.Stats().RecordsExpired)
	}
	// The sweep timer re-arms itself: exactly one is pending.
	n := 0
	for _, a := range h.timers {
		if a.Timer == timerSweep {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d sweep timers pending, want 1", n)
	}
}

func TestHandleStore(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	from := peerFor(randID(r))
	value := []byte("hello, dht")
	key := kbucket.ID(blake3.Sum256(value))
	var resp Response

	off := newTestCore(t, randID(r), nil)
	off.HandleRequest(epoch, from, &Request{Op: wire.OpStore, Key: key, Value: value}, &resp)
	if resp.Code != wire.CodeNotFound || resp.Accepted {
		t.Fatalf("store while disabled: %+v", resp)
	}

	cfg := DefaultConfig()
	cfg.EnableStore, cfg.StoreMaxValueBytes, cfg.StoreMaxTotalBytes = true, 16, 20
	on := newTestCore(t, randID(r), &cfg)
	big := []byte("this value is longer than sixteen bytes")
	other := []byte("0123456789abc")
	for _, tc := range []struct {
		name  string
		key   kbucket.ID
		value []byte
		code  wire.Code
	}{
		{"ok", key, value, wire.CodeOK},
		{"repeat", key, value, wire.CodeOK},
		{"wrong key", randID(r), value, wire.CodeMalformed},
		{"too big", kbucket.ID(blake3.Sum256(big)), big, wire.CodeFrameTooLarge},
		{"empty", key, nil, wire.CodeMalformed},
		{"total", kbucket.ID(blake3.Sum256(other)), other, wire.CodeQuotaExceeded},
	} {
		on.HandleRequest(epoch, from, &Request{Op: wire.OpStore, Key: tc.key, Value: tc.value}, &resp)
		if resp.Code != tc.code || resp.Accepted != (tc.code == wire.CodeOK) {
			t.Errorf("%s: code %d accepted %v, want %d", tc.name, resp.Code, resp.Accepted, tc.code)
		}
	}
}

func TestHandleUnknownOpcode(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	c := newTestCore(t, randID(r), nil)
	from := peerFor(randID(r))
	var resp Response
	c.HandleRequest(epoch, from, &Request{Op: 0x7f}, &resp)
	if resp.Code != wire.CodeMalformed {
		t.Fatalf("unknown opcode answered %d", resp.Code)
	}
	if _, ok := c.Table().Find(from.ID); ok {
		t.Fatal("a malformed request updated the routing table")
	}
}

func TestPeerRateLimit(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	cfg := DefaultConfig()
	cfg.PeerRPS, cfg.PeerBurst = 10, 5
	c := newTestCore(t, randID(r), &cfg)
	a, b := peerFor(randID(r)), peerFor(randID(r))
	var resp Response
	ping := func(p kbucket.Peer, now time.Time) wire.Code {
		c.HandleRequest(now, p, &Request{Op: wire.OpPing}, &resp)
		return resp.Code
	}
	for i := range 5 {
		if code := ping(a, epoch); code != wire.CodeOK {
			t.Fatalf("request %d within the burst: %d", i, code)
		}
	}
	if code := ping(a, epoch); code != wire.CodeQuotaExceeded {
		t.Fatalf("request over the burst: %d, want 1429", code)
	}
	if code := ping(b, epoch); code != wire.CodeOK {
		t.Fatalf("another peer limited: %d", code)
	}
	if code := ping(a, epoch.Add(100*time.Millisecond)); code != wire.CodeOK {
		t.Fatalf("after one interval: %d", code)
	}
	if code := ping(a, epoch.Add(100*time.Millisecond)); code != wire.CodeQuotaExceeded {
		t.Fatalf("second request in the same interval: %d", code)
	}
	if got := c.Stats().QuotaRejected; got != 2 {
		t.Fatalf("QuotaRejected = %d, want 2", got)
	}
}

func TestGlobalRate(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	cfg := DefaultConfig()
	cfg.MaxRPS, cfg.MaxBurst, cfg.PeerRPS = 100, 3, 0
	c := newTestCore(t, randID(r), &cfg)
	var resp Response
	var codes []wire.Code
	for range 4 {
		c.HandleRequest(epoch, peerFor(randID(r)), &Request{Op: wire.OpPing}, &resp)
		codes = append(codes, resp.Code)
	}
	want := []wire.Code{wire.CodeOK, wire.CodeOK, wire.CodeOK, wire.CodeQuotaExceeded}
	if !slices.Equal(codes, want) || !strings.Contains(resp.Reason, "global") {
		t.Fatalf("codes = %v (%s), want %v", codes, resp.Reason, want)
	}
	c.HandleRequest(epoch.Add(10*time.Millisecond), peerFor(randID(r)), &Request{Op: wire.OpPing}, &resp)
	if resp.Code != wire.CodeOK {
		t.Fatalf("after one interval: %d", resp.Code)
	}
}

func TestTrackedPeersBound(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	cfg := DefaultConfig()
	cfg.PeerRPS, cfg.PeerBurst, cfg.MaxTrackedPeers = 1, 1, 2
	c := newTestCore(t, randID(r), &cfg)
	var resp Response
	round := func(now time.Time) []wire.Code {
		var codes []wire.Code
		for range 3 {
			c.HandleRequest(now, peerFor(randID(r)), &Request{Op: wire.OpPing}, &resp)
			codes = append(codes, resp.Code)
		}
		return codes
	}
	want := []wire.Code{wire.CodeOK, wire.CodeOK, wire.CodeQuotaExceeded}
	if got := round(epoch); !slices.Equal(got, want) || !strings.Contains(resp.Reason, "peers") {
		t.Fatalf("codes = %v (%s), want %v", got, resp.Reason, want)
	}
	// Once the tracked peers are idle again their entries are reclaimed.
	if got := round(epoch.Add(2 * time.Second)); !slices.Equal(got, want) {
		t.Fatalf("after idle: codes = %v, want %v", got, want)
	}
}
