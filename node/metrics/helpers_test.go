package metrics

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

// contract lists the SPEC §9 families (plus dht_boot_first_dial_seconds of
// issue 4) with their types and label names.
var contract = []struct {
	name   string
	typ    dto.MetricType
	labels []string
}{
	{"dht_lookup_latency_seconds", dto.MetricType_HISTOGRAM, []string{"op"}},
	{"dht_lookup_hops_histogram", dto.MetricType_HISTOGRAM, []string{"op"}},
	{"dht_rpcs_total", dto.MetricType_COUNTER, []string{"code", "op"}},
	{"dht_rpcs_inflight", dto.MetricType_GAUGE, nil},
	{"dht_hedge_spawned_total", dto.MetricType_COUNTER, nil},
	{"dht_hedge_canceled_total", dto.MetricType_COUNTER, nil},
	{"dht_bucket_occupancy", dto.MetricType_GAUGE, []string{"bucket"}},
	{"dht_bucket_asn_entropy_bits", dto.MetricType_GAUGE, []string{"bucket"}},
	{"dht_bucket_asn_max_pct", dto.MetricType_GAUGE, []string{"bucket"}},
	{"dht_route_updates_total", dto.MetricType_COUNTER, []string{"action"}},
	{"dht_bootstrap_seeds_up", dto.MetricType_GAUGE, []string{"seed"}},
	{"dht_ready_bucket_fill_pct", dto.MetricType_GAUGE, nil},
	{"provider_records_total", dto.MetricType_COUNTER, []string{"state"}},
	{"provider_republish_total", dto.MetricType_COUNTER, []string{"result"}},
	{"pq_dual_sign_ratio", dto.MetricType_GAUGE, nil},
	{"pq_verify_fail_total", dto.MetricType_COUNTER, []string{"alg"}},
	{"pq_classical_only_total", dto.MetricType_COUNTER, nil},
	{"tls_handshake_failures_total", dto.MetricType_COUNTER, []string{"reason"}},
	{"queue_depth", dto.MetricType_GAUGE, []string{"queue"}},
	{"queue_dropped_total", dto.MetricType_COUNTER, []string{"queue"}},
	{"busy_rejections_total", dto.MetricType_COUNTER, []string{"endpoint"}},
	{"rejected_total", dto.MetricType_COUNTER, []string{"reason"}},
	{"dht_boot_first_dial_seconds", dto.MetricType_GAUGE, nil},
}

// parse renders m and parses it with the Prometheus text parser.
func parse(t testing.TB, m *Metrics) (map[string]*dto.MetricFamily, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := m.WritePrometheus(&buf); err != nil {
		t.Fatalf("WritePrometheus: %v", err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, buf.Bytes())
	}
	return fams, buf.Bytes()
}

// sample returns the metric of family name whose labels equal want.
func sample(t testing.TB, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("family %s missing", name)
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		ok := true
		for _, l := range m.GetLabel() {
			if want[l.GetName()] != l.GetValue() {
				ok = false
			}
		}
		if ok {
			return m
		}
	}
	t.Fatalf("%s%v not found", name, want)
	return nil
}

func value(t testing.TB, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := sample(t, fams, name, labels)
	switch fams[name].GetType() {
	case dto.MetricType_COUNTER:
		return m.GetCounter().GetValue()
	case dto.MetricType_GAUGE:
		return m.GetGauge().GetValue()
	case dto.MetricType_UNTYPED:
		return m.GetUntyped().GetValue()
	}
	t.Fatalf("%s is a %v", name, fams[name].GetType())
	return 0
}

// testTable returns a routing table holding n peers of random IDs, each
// observed from its own public /16, so that groups differ.
func testTable(t testing.TB, n int) *kbucket.Table {
	t.Helper()
	rnd := rand.New(rand.NewPCG(1, 2))
	var self kbucket.ID
	fill(rnd, self[:])
	tab, err := kbucket.NewTable(self, kbucket.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var id kbucket.ID
		fill(rnd, id[:])
		ip := netip.AddrFrom4([4]byte{byte(20 + i%60), byte(i / 60), 7, 9})
		tab.Seen(kbucket.Peer{ID: id, Addr: netip.AddrPortFrom(ip, 4433)}, int64(i+1))
	}
	return tab
}

func fill(rnd *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rnd.Uint32())
	}
}

// testSeeds returns a dialer over three seeds of which the first one dialed
// answered and the second failed.
func testSeeds(t testing.TB) (*seeds.Dialer, seeds.Seed) {
	t.Helper()
	list, err := seeds.ParseStrings([]string{"quic://192.0.2.1:4433", "quic://[2001:db8::1]:4433", "quic://seed.example.org:4433"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := seeds.NewDialer(list, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	dial, _ := d.Next(now)
	if len(dial) != 2 {
		t.Fatalf("dialer started %d dials, want 2", len(dial))
	}
	if err := d.Result(dial[0], true, now); err != nil {
		t.Fatal(err)
	}
	if err := d.Result(dial[1], false, now); err != nil {
		t.Fatal(err)
	}
	return d, dial[0]
}

// verifications returns the VerifyInfo and error of verifying a dual-signed
// record, a classical-only one after the PQ deadline, and a forged one.
func verifications(t testing.TB) (dual, classical, forged struct {
	info identity.VerifyInfo
	err  error
}) {
	t.Helper()
	id, err := identity.Generate(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), true)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	pol := identity.DefaultPolicy()
	pol.RequirePQOn = now.Add(-time.Hour)
	v, err := identity.NewVerifier(pol)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(dualSign bool) *wire.ProviderRecord {
		r := &wire.ProviderRecord{Key: identity.KeyFromBytes([]byte("k")), Addrs: []string{"quic://192.0.2.1:4433"}, TTL: 3600, TS: now.Unix()}
		if err := identity.Sign(r, id, dualSign); err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := rec(true)
	dual.info, dual.err = v.Verify(r, now)
	r = rec(false)
	classical.info, classical.err = v.Verify(r, now)
	r = rec(true)
	r.Sigs[1].Sig[0] ^= 1 // break the ML-DSA-87 signature
	forged.info, forged.err = v.Verify(r, now)
	if dual.err != nil || classical.err != nil || forged.err == nil {
		t.Fatalf("verifications: dual %v, classical %v, forged %v", dual.err, classical.err, forged.err)
	}
	return dual, classical, forged
}
