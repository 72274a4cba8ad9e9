package core

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

func TestProviderRecordsExportImport(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 41))
	cfg := DefaultConfig()
	cfg.PeerRPS = 0
	src := newTestCore(t, randID(r), &cfg)
	k1, k2 := randID(r), randID(r)
	p1, p2, p3 := randID(r), randID(r), randID(r)
	for _, rec := range []*wire.ProviderRecord{
		signedRecord(k1, p1, epoch, time.Hour),
		signedRecord(k1, p2, epoch, 2*time.Hour),
		signedRecord(k2, p1, epoch, 3*time.Hour),
		signedRecord(k2, p3, epoch, 10*time.Minute), // expired at the export below
	} {
		if resp := provide(src, epoch, rec); resp.Code != wire.CodeOK {
			t.Fatalf("provide: %d %s", resp.Code, resp.Reason)
		}
	}
	if src.StoredKeys() != 2 || src.StoredRecords() != 4 {
		t.Fatalf("stored %d keys, %d records; want 2, 4", src.StoredKeys(), src.StoredRecords())
	}
	at := epoch.Add(30 * time.Minute)
	prefix := []wire.ProviderRecord{{Key: kbucket.ID{0xff}}} // appended to, never touched
	recs := src.ProviderRecords(at, prefix)
	if len(recs) != 4 || recs[0].Key != prefix[0].Key {
		t.Fatalf("exported %d records (prefix kept: %v), want the prefix and 3 unexpired", len(recs), recs[0].Key == prefix[0].Key)
	}
	recs = recs[1:]
	if !slices.IsSortedFunc(recs, func(a, b wire.ProviderRecord) int {
		if d := bytes.Compare(a.Key[:], b.Key[:]); d != 0 {
			return d
		}
		return bytes.Compare(a.Publisher[:], b.Publisher[:])
	}) {
		t.Error("export is not ordered by key and publisher")
	}
	for _, rec := range recs {
		if kbucket.ID(rec.Publisher) == p3 {
			t.Error("expired record exported")
		}
	}

	// A restarted node imports the snapshot and serves it.
	dst := newTestCore(t, randID(r), &cfg)
	for i := range recs {
		if err := dst.ImportProvider(at, &recs[i]); err != nil {
			t.Fatalf("import %d: %v", i, err)
		}
	}
	if err := dst.ImportProvider(at, &recs[0]); err != nil { // idempotent
		t.Fatalf("second import of a record: %v", err)
	}
	if dst.StoredRecords() != 3 || dst.StoredKeys() != 2 {
		t.Fatalf("after import: %d records, %d keys; want 3, 2", dst.StoredRecords(), dst.StoredKeys())
	}
	var resp Response
	dst.HandleRequest(at, peerFor(randID(r)), &Request{Op: wire.OpFindValue, Key: k1}, &resp)
	if len(resp.Providers) != 2 {
		t.Fatalf("FIND_VALUE after import: %d providers, want 2", len(resp.Providers))
	}
	if got := dst.ProviderRecords(at, nil); !slices.EqualFunc(got, recs, func(a, b wire.ProviderRecord) bool {
		return a.Key == b.Key && a.Publisher == b.Publisher && a.TS == b.TS && a.TTL == b.TTL
	}) {
		t.Fatal("re-export differs from the imported snapshot")
	}

	// Refusals: expired, over-long ttl, nil, over a bound.
	expired := signedRecord(randID(r), p1, epoch, 10*time.Minute)
	long := signedRecord(randID(r), p1, at, MaxProviderTTL+time.Second)
	for name, rec := range map[string]*wire.ProviderRecord{"expired": expired, "ttl over 48h": long} {
		if err := dst.ImportProvider(at, rec); !errors.Is(err, wire.ErrStaleRecord) {
			t.Errorf("import %s: %v, want StaleRecord", name, err)
		}
	}
	if err := dst.ImportProvider(at, nil); !errors.Is(err, wire.ErrMalformed) {
		t.Errorf("import nil: %v, want Malformed", err)
	}
	small := cfg
	small.StoreMaxPerKey, small.StoreMaxPerPublisher, small.StoreMaxTotal = 1, 1, 1
	bounded := newTestCore(t, randID(r), &small)
	if err := bounded.ImportProvider(at, &recs[0]); err != nil {
		t.Fatal(err)
	}
	if err := bounded.ImportProvider(at, &recs[1]); !errors.Is(err, wire.ErrQuotaExceeded) {
		t.Errorf("import over the bounds: %v, want QuotaExceeded", err)
	}
	if bounded.StoredRecords() != 1 {
		t.Errorf("bounded store holds %d records, want 1", bounded.StoredRecords())
	}
}

func TestSetTunables(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 42))
	nw := newNetwork(r, 300)
	cfg := DefaultConfig()
	cfg.PeerRPS = 0
	c := newTestCore(t, randID(r), &cfg)
	seedFrom(c, nw, r, 40)
	h := newHarness(t, c)
	h.take(c.Start(epoch)) // the first refresh check comes 30-33.75 s later
	before := c.Tunables()
	if before != cfg.Tunables() {
		t.Fatalf("Tunables %+v, want the config's %+v", before, cfg.Tunables())
	}

	bad := before
	bad.Alpha = 9
	bad.StoreMaxTotal = 1
	if _, err := c.SetTunables(h.now, bad); !errors.Is(err, ErrConfig) {
		t.Fatalf("alpha 9 accepted: %v", err)
	}
	bad = before
	bad.ProviderRefresh = bad.ProviderTTL
	if _, err := c.SetTunables(h.now, bad); !errors.Is(err, ErrConfig) {
		t.Fatalf("refresh = ttl accepted: %v", err)
	}
	if c.Tunables() != before || c.store.maxTotal != before.StoreMaxTotal {
		t.Fatal("a refused set changed the core")
	}

	next := before
	next.Alpha = 5
	next.BucketRefreshInterval = 10 * time.Second
	next.StoreMaxPerKey, next.StoreMaxPerPublisher, next.StoreMaxTotal = 1, 1, 1
	acts, err := c.SetTunables(h.now, next)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tunables() != next {
		t.Fatalf("Tunables %+v after set, want %+v", c.Tunables(), next)
	}
	// The shorter refresh interval pulls the next refresh check in, to
	// one check period of the new interval.
	var refreshAt time.Time
	for _, a := range acts {
		if a.Kind == ActArmTimer && a.Timer == timerRefresh {
			refreshAt = a.Deadline
		}
	}
	if !refreshAt.Equal(h.now.Add(10 * time.Second / refreshChecks)) {
		t.Fatalf("refresh re-armed at %v, want now+%v", refreshAt, 10*time.Second/refreshChecks)
	}
	// New lookups use the new alpha.
	_, acts, err = c.FindNode(h.now, randID(r))
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	if n := lookupSends(h); n != 5 {
		t.Fatalf("%d probes in flight, want the new alpha 5", n)
	}
	// The store bounds apply to the next record.
	if resp := provide(c, h.now, signedRecord(randID(r), randID(r), h.now, time.Hour)); resp.Code != wire.CodeOK {
		t.Fatalf("first record: %d %s", resp.Code, resp.Reason)
	}
	if resp := provide(c, h.now, signedRecord(randID(r), randID(r), h.now, time.Hour)); resp.Code != wire.CodeQuotaExceeded {
		t.Fatalf("record over the new total bound 1: code %d", resp.Code)
	}
}

// provideTTL runs ProvideWithTTL to its end against nw and returns the ttl
// of the records sent.
func provideTTL(t *testing.T, h *harness, nw *network, key kbucket.ID, ttl time.Duration) uint32 {
	t.Helper()
	_, acts, err := h.c.ProvideWithTTL(h.now, key, nil, ttl)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	return sentTTL(t, h, nw)
}

// sentTTL answers every send and returns the ttl of the PROVIDE records,
// which must all agree.
func sentTTL(t *testing.T, h *harness, nw *network) uint32 {
	t.Helper()
	var ttl uint32
	for len(h.sends) > 0 {
		a := h.pending()[0]
		if a.Req.Op == wire.OpProvide {
			if ttl != 0 && a.Req.Record.TTL != ttl {
				t.Fatalf("records with ttl %d and %d", ttl, a.Req.Record.TTL)
			}
			ttl = a.Req.Record.TTL
		}
		h.answer(a.Probe, nw.respond(a, h.c.cfg.K))
	}
	return ttl
}

func TestProvideWithTTL(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 43))
	nw := newNetwork(r, 200)
	cfg := DefaultConfig()
	cfg.ProviderTTL, cfg.ProviderRefresh = 4*time.Hour, 2*time.Hour
	c := newTestCore(t, randID(r), &cfg)
	seedFrom(c, nw, r, 30)
	h := newHarness(t, c)

	for _, bad := range []time.Duration{-time.Hour, 30 * time.Second, MaxProviderTTL + time.Second, 90*time.Second + time.Millisecond} {
		if _, _, err := c.ProvideWithTTL(h.now, randID(r), nil, bad); !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("ttl %v: %v, want Malformed", bad, err)
		}
	}
	if c.Publications() != 0 || c.Running() != 0 {
		t.Fatalf("refused provides left %d publications, %d operations", c.Publications(), c.Running())
	}

	short, long, deflt := randID(r), randID(r), randID(r)
	if got := provideTTL(t, h, nw, short, 30*time.Minute); got != 1800 {
		t.Fatalf("ttl 30m sent as %ds", got)
	}
	if got := provideTTL(t, h, nw, long, 8*time.Hour); got != 8*3600 {
		t.Fatalf("ttl 8h sent as %ds", got)
	}
	if got := provideTTL(t, h, nw, deflt, 0); got != 4*3600 {
		t.Fatalf("default ttl sent as %ds, want provider ttl 4h", got)
	}
	if c.Publications() != 3 {
		t.Fatalf("%d publications, want 3", c.Publications())
	}
	h.results = nil

	// The 30m record is republished every 15m (half its ttl, shorter than
	// the 2h refresh), keeping its ttl.
	for i := 1; i <= 2; i++ {
		h.now = epoch.Add(time.Duration(i) * 15 * time.Minute)
		h.fireDue()
		if got := sentTTL(t, h, nw); got != 1800 {
			t.Fatalf("republication %d of the 30m record: ttl %ds", i, got)
		}
		if len(h.results) != 1 || h.results[0].Target != short || h.results[0].Purpose != PurposeRepublish {
			t.Fatalf("republication %d: %d results", i, len(h.results))
		}
		h.results = nil
	}

	// A reload changes the default ttl: the default publication follows
	// it, the explicit one keeps its own. A shorter refresh pulls both in.
	next := c.Tunables()
	next.ProviderTTL, next.ProviderRefresh = 3*time.Hour, time.Hour
	acts, err := c.SetTunables(h.now, next)
	if err != nil {
		t.Fatal(err)
	}
	h.take(acts)
	h.now = h.now.Add(time.Hour)
	h.fireDue()
	got := map[kbucket.ID]uint32{}
	for len(h.sends) > 0 {
		a := h.pending()[0]
		if a.Req.Op == wire.OpProvide {
			got[a.Req.Record.Key] = a.Req.Record.TTL
		}
		h.answer(a.Probe, nw.respond(a, cfg.K))
	}
	if got[long] != 8*3600 || got[deflt] != 3*3600 {
		t.Fatalf("republished ttls %v: want 8h for the explicit one, the new default 3h", got)
	}
}
