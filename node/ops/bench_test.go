package ops

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/svc-dht/svc-dht/node/metrics"
)

// BenchmarkScrape serves /metrics for a node with every family populated
// and a 40-peer table, through the handler (no network).
func BenchmarkScrape(b *testing.B) {
	m := metrics.New()
	feed(b, m)
	s, err := New(Options{Metrics: m})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}

func BenchmarkReadyz(b *testing.B) {
	s, err := New(Options{Readiness: &readiness{st: ReadyStatus{Ready: true}}})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/readyz", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
	}
}
