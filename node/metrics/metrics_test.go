package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// record feeds m one of every kind of event the runtime reports.
func record(t testing.TB, m *Metrics) (tab *kbucket.Table, up string) {
	m.Lookup(wire.OpFindNode, 120*time.Millisecond, 3)
	m.Lookup(wire.OpFindValue, 40*time.Millisecond, 2)
	m.Lookup(wire.OpFindValue, 900*time.Millisecond, 7)
	m.Lookup(wire.OpProvide, 300*time.Millisecond, 4)
	for range 3 {
		m.RPCStarted()
	}
	m.RPCFinished(wire.OpFindNode, wire.CodeOK)
	m.RPCFinished(wire.OpPing, 0)
	m.HedgesSpawned(2)
	m.HedgesCanceled(1)
	m.HedgesCanceled(-4) // ignored
	m.RouteUpdates(RouteAdded, 5)
	m.RouteUpdates(RouteEvicted, 1)
	m.SetReadyBucketFillPct(0.75)
	m.SetFirstDial(125 * time.Millisecond)
	m.ProviderRecords(RecordStored, 2)
	m.ProviderRecords(RecordExpired, 1)
	m.Republish(RepublishOK)
	m.Republish(RepublishFailed)
	dual, classical, forged := verifications(t)
	m.RecordVerified(dual.info, dual.err)
	m.RecordVerified(classical.info, classical.err)
	m.RecordVerified(forged.info, forged.err)
	m.TLSHandshakeFailed("id_mismatch")
	depth := 17
	if err := m.QueueDepthFunc("work", func() int { return depth }); err != nil {
		t.Fatal(err)
	}
	m.QueueDropped("work")
	m.BusyRejected(wire.OpFindValue.String())
	m.Rejected("peer_rps")
	m.Rejected("peer_rps")

	tab = testTable(t, 60)
	m.SetBucketSource(tab.Snapshot())
	d, s := testSeeds(t)
	m.SetSeedSource(d)
	return tab, s.Addr
}

func TestContractFamilies(t *testing.T) {
	m := New()
	tab, up := record(t, m)
	fams, text := parse(t, m)

	for _, c := range contract {
		f := fams[c.name]
		if f == nil {
			t.Errorf("%s: missing", c.name)
			continue
		}
		if f.GetType() != c.typ {
			t.Errorf("%s: type %v, want %v", c.name, f.GetType(), c.typ)
		}
		if f.GetHelp() == "" {
			t.Errorf("%s: no help text", c.name)
		}
		for _, s := range f.GetMetric() {
			var names []string
			for _, l := range s.GetLabel() {
				names = append(names, l.GetName())
			}
			slices.Sort(names)
			if !slices.Equal(names, c.labels) {
				t.Errorf("%s: labels %v, want %v", c.name, names, c.labels)
			}
		}
	}
	for _, line := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(line, "# TYPE ") && strings.Count(string(text), line+"\n") != 1 {
			t.Errorf("duplicate %q", line)
		}
	}

	// Values follow the recorded events.
	eq := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got := value(t, fams, name, labels); got != want && !(math.IsNaN(want) && math.IsNaN(got)) {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	eq("dht_rpcs_total", map[string]string{"op": "find_node", "code": "ok"}, 1)
	eq("dht_rpcs_total", map[string]string{"op": "ping", "code": "transport_down"}, 1)
	if n := len(fams["dht_rpcs_total"].GetMetric()); n != 2 {
		t.Errorf("dht_rpcs_total has %d series, want only the 2 that occurred", n)
	}
	eq("dht_rpcs_inflight", nil, 1)
	eq("dht_hedge_spawned_total", nil, 2)
	eq("dht_hedge_canceled_total", nil, 1)
	eq("dht_route_updates_total", map[string]string{"action": "added"}, 5)
	eq("dht_route_updates_total", map[string]string{"action": "evicted"}, 1)
	eq("dht_route_updates_total", map[string]string{"action": "cached"}, 0)
	eq("dht_ready_bucket_fill_pct", nil, 0.75)
	eq("dht_boot_first_dial_seconds", nil, 0.125)
	eq("provider_records_total", map[string]string{"state": "stored"}, 2)
	eq("provider_records_total", map[string]string{"state": "expired"}, 1)
	eq("provider_records_total", map[string]string{"state": "refused"}, 0)
	eq("provider_republish_total", map[string]string{"result": "ok"}, 1)
	eq("provider_republish_total", map[string]string{"result": "failed"}, 1)
	eq("pq_dual_sign_ratio", nil, 0.5)
	eq("pq_verify_fail_total", map[string]string{"alg": "ml-dsa-87"}, 1)
	eq("pq_verify_fail_total", map[string]string{"alg": "ed25519"}, 0)
	eq("pq_classical_only_total", nil, 1)
	eq("tls_handshake_failures_total", map[string]string{"reason": "id_mismatch"}, 1)
	eq("tls_handshake_failures_total", map[string]string{"reason": "bad_cert"}, 0)
	eq("queue_depth", map[string]string{"queue": "work"}, 17)
	eq("queue_dropped_total", map[string]string{"queue": "work"}, 1)
	eq("busy_rejections_total", map[string]string{"endpoint": "find_value"}, 1)
	eq("rejected_total", map[string]string{"reason": "peer_rps"}, 2)

	// Histograms: cumulative buckets, count and sum.
	h := sample(t, fams, "dht_lookup_hops_histogram", map[string]string{"op": "find_value"}).GetHistogram()
	if h.GetSampleCount() != 2 || h.GetSampleSum() != 9 {
		t.Errorf("find_value hops: count %d sum %v, want 2 and 9", h.GetSampleCount(), h.GetSampleSum())
	}
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		want := uint64(0)
		if b.GetUpperBound() >= 2 {
			want++
		}
		if b.GetUpperBound() >= 7 {
			want++
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("find_value hops le=%v: %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if !slices.Equal(bounds, append(slices.Clone(hopBuckets), math.Inf(1))) {
		t.Errorf("hop buckets %v, want %v", bounds, hopBuckets)
	}
	l := sample(t, fams, "dht_lookup_latency_seconds", map[string]string{"op": "provide"}).GetHistogram()
	if l.GetSampleCount() != 1 || math.Abs(l.GetSampleSum()-0.3) > 1e-9 {
		t.Errorf("provide latency: count %d sum %v", l.GetSampleCount(), l.GetSampleSum())
	}
	for _, op := range []string{"find_node", "find_value", "provide"} {
		sample(t, fams, "dht_lookup_latency_seconds", map[string]string{"op": op})
	}

	// Per-bucket families: exactly the non-empty buckets, with the table's
	// numbers.
	stats := tab.Snapshot().Buckets()
	nonEmpty := 0
	for _, s := range stats {
		if s.Occupancy == 0 {
			continue
		}
		nonEmpty++
		b := map[string]string{"bucket": fmt.Sprint(s.Index)}
		eq("dht_bucket_occupancy", b, float64(s.Occupancy))
		eq("dht_bucket_asn_entropy_bits", b, s.EntropyBits)
		eq("dht_bucket_asn_max_pct", b, s.MaxASNPct)
	}
	if nonEmpty < 3 || len(fams["dht_bucket_occupancy"].GetMetric()) != nonEmpty {
		t.Errorf("%d occupancy series, %d non-empty buckets", len(fams["dht_bucket_occupancy"].GetMetric()), nonEmpty)
	}

	// Seeds: one series per seed, 1 for the one that answered.
	if n := len(fams["dht_bootstrap_seeds_up"].GetMetric()); n != 3 {
		t.Errorf("%d seed series, want 3", n)
	}
	eq("dht_bootstrap_seeds_up", map[string]string{"seed": up}, 1)
	upCount := 0.0
	for _, s := range fams["dht_bootstrap_seeds_up"].GetMetric() {
		upCount += s.GetGauge().GetValue()
	}
	if upCount != 1 {
		t.Errorf("%v seeds up, want 1", upCount)
	}
}

func TestFreshMetrics(t *testing.T) {
	m := New()
	fams, _ := parse(t, m)
	// Without sources and events, the families that need them are absent
	// and the others are at zero.
	for _, name := range []string{"dht_bucket_occupancy", "dht_bootstrap_seeds_up", "dht_boot_first_dial_seconds", "dht_rpcs_total", "queue_depth"} {
		if fams[name] != nil {
			t.Errorf("%s present before any source or event", name)
		}
	}
	if v := value(t, fams, "pq_dual_sign_ratio", nil); !math.IsNaN(v) {
		t.Errorf("pq_dual_sign_ratio = %v before any record, want NaN", v)
	}
	if v := value(t, fams, "rejected_total", map[string]string{"reason": "max_rps"}); v != 0 {
		t.Errorf("rejected_total{max_rps} = %v", v)
	}
	// Sources can be removed again.
	m.SetBucketSource(testTable(t, 5).Snapshot())
	m.SetBucketSource(nil)
	if fams, _ = parse(t, m); fams["dht_bucket_occupancy"] != nil {
		t.Error("bucket families present after SetBucketSource(nil)")
	}
}

func TestUnknownLabelsAreBounded(t *testing.T) {
	m := New()
	for i := range 100 {
		m.Rejected(fmt.Sprintf("reason_%d", i))
	}
	m.Rejected("bad\nvalue")
	m.Rejected(strings.Repeat("x", maxLabelLen+1))
	m.Rejected("")
	m.TLSHandshakeFailed(`we"ird\`)
	m.RPCStarted()
	m.RPCFinished(wire.Opcode(0x7f), wire.Code(1234))
	m.Lookup(wire.OpPing, time.Millisecond, 1)
	m.RouteUpdates(RouteAction(200), 1)
	m.ProviderRecords(RecordState(200), 1)
	m.Republish(RepublishResult(200))

	fams, _ := parse(t, m)
	rej := fams["rejected_total"].GetMetric()
	if want := len(knownRejectReasons) + maxExtraLabels + 1; len(rej) != want {
		t.Errorf("rejected_total has %d series, want %d (known + %d extra + other)", len(rej), want, maxExtraLabels)
	}
	// 100-32 folded reasons and 3 invalid values count as "other".
	if v := value(t, fams, "rejected_total", map[string]string{"reason": "other"}); v != 100-maxExtraLabels+3 {
		t.Errorf("rejected_total{other} = %v, want %d", v, 100-maxExtraLabels+3)
	}
	if v := value(t, fams, "tls_handshake_failures_total", map[string]string{"reason": `we"ird\`}); v != 1 {
		t.Errorf("escaped label value counted %v times", v)
	}
	if v := value(t, fams, "dht_rpcs_total", map[string]string{"op": "other", "code": "other"}); v != 1 {
		t.Errorf("unknown op and code: %v", v)
	}
	if h := sample(t, fams, "dht_lookup_hops_histogram", map[string]string{"op": "other"}).GetHistogram(); h.GetSampleCount() != 1 {
		t.Errorf("lookup of another op counted %d times", h.GetSampleCount())
	}
}

func TestQueueDepthFuncErrors(t *testing.T) {
	m := New()
	if err := m.QueueDepthFunc("work", nil); err == nil {
		t.Error("nil func accepted")
	}
	if err := m.QueueDepthFunc("bad\nname", func() int { return 0 }); err == nil {
		t.Error("invalid name accepted")
	}
	if err := m.QueueDepthFunc("work", func() int { return 1 }); err != nil {
		t.Fatal(err)
	}
	if err := m.QueueDepthFunc("work", func() int { return 2 }); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("duplicate queue: %v", err)
	}
}

// With the library's global metadata switch on, every family is still
// described exactly once (the parser rejects a second TYPE line).
func TestLibraryMetadataSwitch(t *testing.T) {
	EnableMetadata()
	t.Cleanup(func() { vm.ExposeMetadata(false) })
	m := New()
	record(t, m)
	fams, text := parse(t, m)
	for _, c := range contract {
		if fams[c.name].GetType() != c.typ {
			t.Errorf("%s: type %v, want %v", c.name, fams[c.name].GetType(), c.typ)
		}
		if n := bytes.Count(text, []byte("# TYPE "+c.name+" ")); n != 1 {
			t.Errorf("%s: %d TYPE lines", c.name, n)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("peer gone") }

func TestWriteError(t *testing.T) {
	if err := New().WritePrometheus(failWriter{}); err == nil {
		t.Error("write error not returned")
	}
}

func TestCountGroups(t *testing.T) {
	tab := testTable(t, 60)
	snap := tab.Snapshot()
	got := CountGroups(nil, snap, tab.Group)
	perBucket := map[int]int{}
	for _, g := range got {
		perBucket[g.Bucket] += g.Peers
		if g.Peers <= 0 || g.Group == kbucket.GroupExempt {
			t.Errorf("group count %+v", g)
		}
	}
	for _, s := range snap.Buckets() {
		if perBucket[s.Index] != s.Occupancy {
			t.Errorf("bucket %d: groups hold %d peers, occupancy %d", s.Index, perBucket[s.Index], s.Occupancy)
		}
	}
}

// Hot-path updates never allocate once their series exist.
func TestHotPathAllocs(t *testing.T) {
	m := New()
	m.RPCStarted()
	m.RPCFinished(wire.OpFindNode, wire.CodeOK)
	m.RPCServed(wire.OpFindNode, wire.CodeOK, time.Millisecond)
	reason := string([]byte("peer_rps")) // not a constant: the lookup hashes it
	allocs := testing.AllocsPerRun(200, func() {
		m.RPCStarted()
		m.RPCFinished(wire.OpFindNode, wire.CodeOK)
		m.RPCServed(wire.OpFindNode, wire.CodeOK, time.Millisecond)
		m.Lookup(wire.OpFindValue, 50*time.Millisecond, 3)
		m.HedgesSpawned(1)
		m.HedgesCanceled(1)
		m.RouteUpdates(RouteUpdated, 1)
		m.BusyRejected("find_node")
		m.Rejected(reason)
		m.QueueDropped("work")
		m.TLSHandshakeFailed("timeout")
		m.ProviderRecords(RecordStored, 1)
		m.SetReadyBucketFillPct(0.5)
	})
	if allocs != 0 {
		t.Errorf("hot path: %v allocs per run, want 0", allocs)
	}
}

// Updates from many goroutines while scraping: every increment is counted
// (and -race checks the synchronisation).
func TestConcurrentUpdates(t *testing.T) {
	m := New()
	const workers, n = 4, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	scraped := make(chan int)
	go func() {
		count := 0
		for {
			select {
			case <-stop:
				scraped <- count
				return
			default:
			}
			if err := m.WritePrometheus(&bytes.Buffer{}); err != nil {
				t.Error(err)
			}
			count++
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				m.RPCStarted()
				m.RPCFinished(wire.Opcode(i%6), wire.Code(1000+w))
				m.Rejected(fmt.Sprint("r", i%40))
				m.Lookup(wire.OpFindNode, time.Millisecond, i%9)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if <-scraped == 0 {
		t.Error("no scrape ran")
	}
	fams, _ := parse(t, m)
	sum := func(name string) (s float64) {
		for _, x := range fams[name].GetMetric() {
			s += x.GetCounter().GetValue()
		}
		return s
	}
	if got := sum("dht_rpcs_total"); got != workers*n {
		t.Errorf("dht_rpcs_total sums to %v, want %d", got, workers*n)
	}
	if got := sum("rejected_total"); got != workers*n {
		t.Errorf("rejected_total sums to %v, want %d", got, workers*n)
	}
	if v := value(t, fams, "dht_rpcs_inflight", nil); v != 0 {
		t.Errorf("inflight %v after all finished", v)
	}
	h := sample(t, fams, "dht_lookup_hops_histogram", map[string]string{"op": "find_node"}).GetHistogram()
	if h.GetSampleCount() != workers*n {
		t.Errorf("hops count %d", h.GetSampleCount())
	}
}
