package metrics

import (
	"io"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

func BenchmarkRPC(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.RPCStarted()
		m.RPCFinished(wire.OpFindNode, wire.CodeOK)
	}
}

func BenchmarkLookup(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Lookup(wire.OpFindValue, 42*time.Millisecond, 3)
	}
}

func BenchmarkRejected(b *testing.B) {
	m := New()
	reason := string([]byte("peer_rps"))
	b.ReportAllocs()
	for b.Loop() {
		m.Rejected(reason)
	}
}

// BenchmarkHotPathParallel runs the per-RPC updates of a busy node from
// every P.
func BenchmarkHotPathParallel(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.RPCStarted()
			m.RPCFinished(wire.OpFindNode, wire.CodeOK)
			m.RPCServed(wire.OpFindValue, wire.CodeOK, 100*time.Microsecond)
		}
	})
}

// BenchmarkWritePrometheus renders a node with a 200-peer table, three
// seeds and every family populated.
func BenchmarkWritePrometheus(b *testing.B) {
	m := New()
	record(b, m)
	m.SetBucketSource(testTable(b, 200).Snapshot())
	b.ReportAllocs()
	for b.Loop() {
		if err := m.WritePrometheus(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
