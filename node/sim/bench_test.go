package sim

import (
	"testing"
	"time"
)

// BenchmarkLookups10k measures simulator throughput: FIND_NODE lookups
// (random origins and targets, one started every virtual millisecond) on a
// 10,000-node network, in lookups per wall-clock second. The network is
// built once, outside the timer, with Build.Oracle.
func BenchmarkLookups10k(b *testing.B) {
	s, err := New(Config{Seed: 42})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Build(Build{Nodes: 10000, Oracle: true}); err != nil {
		b.Fatal(err)
	}
	ops := make([]*Op, 0, b.N)
	e0 := s.Events()
	b.ResetTimer()
	for range b.N {
		ops = append(ops, s.FindNode(randomLive(s), s.RandomID()))
		s.Run(time.Millisecond)
	}
	if !s.Wait(time.Minute) {
		b.Fatal("lookups did not finish")
	}
	b.StopTimer()
	rep := Summarize(ops)
	if rep.Success < 0.99 {
		b.Fatalf("success %.4f", rep.Success)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(float64(s.Events()-e0)/float64(b.N), "events/lookup")
	b.ReportMetric(rep.Hops.P99, "hops-p99")
}

// BenchmarkBuild10kOracle measures setting up a 10,000-node network with
// oracle-filled routing tables.
func BenchmarkBuild10kOracle(b *testing.B) {
	for range b.N {
		s, err := New(Config{Seed: 42})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Build(Build{Nodes: 10000, Oracle: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuild1kJoin measures bootstrapping 1,000 nodes through the
// protocol (3 seeds, one join every 10 ms, each a self-lookup plus bucket
// refreshes), as TestProtocol1000 does.
func BenchmarkBuild1kJoin(b *testing.B) {
	for range b.N {
		s, err := New(Config{Seed: 1000})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Build(Build{Nodes: 1000, WarmUp: 5 * time.Second}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(s.Events()), "events")
	}
}
