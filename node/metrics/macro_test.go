//go:build macronode

package metrics

import (
	"fmt"
	"slices"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
	dto "github.com/prometheus/client_model/go"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// groupedSnapshot is how a runtime serves per-group detail: the snapshot
// plus the group counts computed by the table's owner.
type groupedSnapshot struct {
	*kbucket.Snapshot
	groups []GroupCount
}

func (g groupedSnapshot) BucketGroups(dst []GroupCount) []GroupCount {
	return append(dst, g.groups...)
}

func TestMacronodeFamilies(t *testing.T) {
	m := New()
	record(t, m)
	tab := testTable(t, 60)
	snap := tab.Snapshot()
	groups := CountGroups(nil, snap, tab.Group)
	m.SetBucketSource(groupedSnapshot{snap, groups})
	m.RPCServed(wire.OpFindNode, wire.CodeOK, 2*time.Millisecond)
	m.RPCServed(wire.OpFindNode, wire.CodeOK, 3*time.Millisecond)
	m.RPCServed(wire.OpProvide, wire.CodeBadSignature, time.Millisecond)

	fams, _ := parse(t, m)
	for _, c := range contract {
		if fams[c.name] == nil {
			t.Errorf("contract family %s missing in macronode", c.name)
		}
	}
	extras := []struct {
		name   string
		typ    dto.MetricType
		labels []string
	}{
		{"dht_rpcs_served_total", dto.MetricType_COUNTER, []string{"code", "op"}},
		{"dht_rpc_server_seconds", dto.MetricType_HISTOGRAM, []string{"op"}},
		{"dht_bucket_cached", dto.MetricType_GAUGE, []string{"bucket"}},
		{"dht_bucket_asn_peers", dto.MetricType_GAUGE, []string{"asn", "bucket"}},
		{"dht_bucket_low_diversity_buckets", dto.MetricType_GAUGE, nil},
	}
	for _, e := range extras {
		f := fams[e.name]
		if f == nil {
			t.Errorf("macronode family %s missing", e.name)
			continue
		}
		if f.GetType() != e.typ {
			t.Errorf("%s: type %v, want %v", e.name, f.GetType(), e.typ)
		}
		for _, s := range f.GetMetric() {
			var names []string
			for _, l := range s.GetLabel() {
				names = append(names, l.GetName())
			}
			slices.Sort(names)
			if !slices.Equal(names, e.labels) {
				t.Errorf("%s: labels %v, want %v", e.name, names, e.labels)
			}
		}
	}
	if v := value(t, fams, "dht_rpcs_served_total", map[string]string{"op": "find_node", "code": "ok"}); v != 2 {
		t.Errorf("served find_node ok = %v, want 2", v)
	}
	h := sample(t, fams, "dht_rpc_server_seconds", map[string]string{"op": "find_node"}).GetHistogram()
	if h.GetSampleCount() != 2 {
		t.Errorf("server seconds count %d, want 2", h.GetSampleCount())
	}
	if len(fams["dht_bucket_asn_peers"].GetMetric()) != len(groups) {
		t.Errorf("%d group series, want %d", len(fams["dht_bucket_asn_peers"].GetMetric()), len(groups))
	}
	for _, g := range groups {
		labels := map[string]string{"bucket": fmt.Sprint(g.Bucket), "asn": g.Group.String()}
		if v := value(t, fams, "dht_bucket_asn_peers", labels); v != float64(g.Peers) {
			t.Errorf("dht_bucket_asn_peers%v = %v, want %d", labels, v, g.Peers)
		}
	}
	for _, name := range []string{"go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes"} {
		if fams[name] == nil {
			t.Errorf("Go runtime metric %s missing", name)
		}
	}
}

// With the library's metadata switch on, the Go runtime metrics are typed
// and the whole page still parses.
func TestMacronodeRuntimeMetadata(t *testing.T) {
	EnableMetadata()
	t.Cleanup(func() { vm.ExposeMetadata(false) })
	m := New()
	record(t, m)
	fams, _ := parse(t, m)
	if got := fams["go_memstats_heap_alloc_bytes"].GetType(); got != dto.MetricType_GAUGE {
		t.Errorf("go_memstats_heap_alloc_bytes: %v, want gauge", got)
	}
	if got := fams["go_gc_pauses_seconds"].GetType(); got != dto.MetricType_HISTOGRAM {
		t.Errorf("go_gc_pauses_seconds: %v, want histogram", got)
	}
}
