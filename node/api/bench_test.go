package api

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// benchServe runs the same request through h b.N times.
func benchServe(b *testing.B, h *fakeBackend, method, path, body string) {
	hd := Handler(h, Options{})
	b.ReportAllocs()
	for b.Loop() {
		var r = httptest.NewRequest(method, path, nil)
		if body != "" {
			r = httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		hd.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkClosest serves GET /v1/closest with k = 20 peers in the answer.
func BenchmarkClosest(b *testing.B) {
	f := newFake()
	f.closest.Peers = f.closest.Peers[:0]
	for i := range 20 {
		f.closest.Peers = append(f.closest.Peers, PeerInfo{ID: ID(testID(strconv.Itoa(i))),
			Addrs: []string{"quic://192.0.2.1:4433", "quic://[2001:db8::1]:4433"}, ASN: 64500, LastSeen: 1700000000})
	}
	benchServe(b, f, "GET", "/v1/closest/"+targetHex, "")
}

// BenchmarkProvide serves POST /v1/provide with a key, two addrs and a ttl.
func BenchmarkProvide(b *testing.B) {
	benchServe(b, newFake(), "POST", "/v1/provide",
		`{"key":"`+keyHex+`","addrs":["quic://192.0.2.1:4433","quic://[2001:db8::1]:4433"],"ttl":"24h"}`)
}
