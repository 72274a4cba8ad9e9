package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

// newTestClient serves h on a loopback httptest server and returns a
// client of it.
func newTestClient(t *testing.T, h http.Handler, timeout time.Duration) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(srv.URL, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientRoundTrip(t *testing.T) {
	f := newFake()
	c := newTestClient(t, Handler(f, Options{}), 10*time.Second)
	ctx := context.Background()

	pr, err := c.Provide(ctx, ProvideRequest{Data: "hello", Addrs: []string{"quic://192.0.2.9:4433"}, TTL: "2h"})
	if err != nil || !reflect.DeepEqual(pr, f.provide) {
		t.Errorf("Provide = %+v, %v; want %+v", pr, err, f.provide)
	}
	if f.gotProvide.TTL != 2*time.Hour || len(f.gotProvide.Addrs) != 1 {
		t.Errorf("backend got %+v", f.gotProvide)
	}
	fp, err := c.FindProviders(ctx, testID("key"))
	if err != nil || !reflect.DeepEqual(fp, f.providers) {
		t.Errorf("FindProviders = %+v, %v; want %+v", fp, err, f.providers)
	}
	if f.gotKey != testID("key") {
		t.Errorf("backend got key %v", ID(f.gotKey))
	}
	fc, err := c.FindClosest(ctx, testID("target"))
	if err != nil || !reflect.DeepEqual(fc, f.closest) {
		t.Errorf("FindClosest = %+v, %v; want %+v", fc, err, f.closest)
	}
	if f.gotTarget != testID("target") {
		t.Errorf("backend got target %v", ID(f.gotTarget))
	}
	pg, err := c.Ping(ctx, ID(testID("a")).String())
	if err != nil || !reflect.DeepEqual(pg, f.ping) {
		t.Errorf("Ping = %+v, %v; want %+v", pg, err, f.ping)
	}
	if f.gotPeer != (PeerRef{ID: testID("a"), HasID: true}) {
		t.Errorf("backend got peer %+v", f.gotPeer)
	}
	if _, err := c.Ping(ctx, ""); err != nil || !f.gotPeer.IsZero() {
		t.Errorf("Ping self: %v, backend got %+v", err, f.gotPeer)
	}
	pe, err := c.Peers(ctx)
	if err != nil || !reflect.DeepEqual(pe, f.peers) {
		t.Errorf("Peers = %+v, %v; want %+v", pe, err, f.peers)
	}
	st, err := c.Stats(ctx)
	if err != nil || !reflect.DeepEqual(st, f.stats) {
		t.Errorf("Stats = %+v, %v; want %+v", st, err, f.stats)
	}
}

func TestClientErrors(t *testing.T) {
	f := newFake()
	c := newTestClient(t, Handler(f, Options{}), 0)
	sentinels := []error{wire.ErrBadVersion, wire.ErrNotFound, wire.ErrFrameTooLarge, wire.ErrMalformed,
		wire.ErrQuotaExceeded, wire.ErrBadSignature, wire.ErrStaleRecord, wire.ErrNotReady, wire.ErrBusy,
		wire.ErrTimeout, wire.ErrTransportDown, wire.ErrHopExceeded, wire.ErrNoBootstrap}
	for _, be := range backendErrors {
		f.mu.Lock()
		f.err = be.err
		f.mu.Unlock()
		_, err := c.FindProviders(context.Background(), testID("key"))
		var ae *APIError
		if !errors.As(err, &ae) {
			t.Errorf("%v: client error %v is not an *APIError", be.err, err)
			continue
		}
		if ae.Status != be.status || ae.Code != be.code || ae.Name != CodeName(be.code) || ae.Kind != be.kind {
			t.Errorf("%v: %+v, want status %d code %d kind %q", be.err, ae, be.status, be.code, be.kind)
		}
		if !strings.Contains(ae.Reason, be.err.Error()) {
			t.Errorf("%v: reason %q", be.err, ae.Reason)
		}
		for _, s := range sentinels {
			if got, want := errors.Is(err, s), s == be.is; got != want {
				t.Errorf("%v: errors.Is(err, %v) = %v, want %v", be.err, s, got, want)
			}
		}
		if errors.Is(err, ErrUnreachable) {
			t.Errorf("%v: an answer from the node matches ErrUnreachable", be.err)
		}
		if be.is != nil && be.kind != wire.KindTransportDown && be.kind != wire.KindHopExceeded && be.kind != wire.KindNoBootstrap {
			if got := wire.CodeOf(err); got != be.code {
				t.Errorf("%v: wire.CodeOf = %d, want %d", be.err, got, be.code)
			}
		}
	}
	// The quota kind survives the trip.
	f.mu.Lock()
	f.err = wire.QuotaHit("max_inflight")
	f.mu.Unlock()
	_, err := c.Stats(context.Background())
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != "max_inflight" || !errors.Is(err, wire.QuotaHit("max_inflight")) || errors.Is(err, wire.QuotaHit("peer_rps")) {
		t.Errorf("quota error %v lost its kind", err)
	}
	if !strings.Contains(err.Error(), "1429 QuotaExceeded (max_inflight)") {
		t.Errorf("error text %q", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := NewClient(url, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Stats(context.Background())
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("closed server: %v, want ErrUnreachable", err)
	}
	var ae *APIError
	if errors.As(err, &ae) {
		t.Errorf("unreachable node gave an APIError: %v", err)
	}
}

func TestClientCanceled(t *testing.T) {
	f := newFake()
	f.block = true
	c := newTestClient(t, Handler(f, Options{}), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.FindClosest(ctx, testID("x"))
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Errorf("canceled call: %v", err)
	}
}

func TestClientForeignAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, err error)
	}{
		{"proxy error", 502, "bad gateway\n", func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != 502 || ae.Code != 0 || ae.Reason != "bad gateway" {
				t.Errorf("got %#v", err)
			}
			if errors.Unwrap(ae) != nil || wire.CodeOf(err) != 0 || errors.Is(err, ErrUnreachable) {
				t.Errorf("foreign error %v matches a wire error", err)
			}
			if !strings.Contains(err.Error(), "HTTP 502: bad gateway") {
				t.Errorf("text %q", err)
			}
		}},
		{"error body with unknown code", 500, `{"error":{"code":1999,"name":"X","reason":"r"}}`, func(t *testing.T, err error) {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Code != 1999 || errors.Unwrap(ae) != nil {
				t.Errorf("got %#v", err)
			}
		}},
		{"empty error", 503, "", func(t *testing.T, err error) {
			if !strings.Contains(err.Error(), "Service Unavailable") {
				t.Errorf("text %q", err)
			}
		}},
		{"garbage success", 200, "<html>", func(t *testing.T, err error) {
			var ae *APIError
			if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "decode answer") {
				t.Errorf("got %v", err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}), 0)
			_, err := c.Peers(context.Background())
			tc.check(t, err)
		})
	}
}

func TestClientSendsTimeout(t *testing.T) {
	var got, ct string
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ct = r.Header.Get(TimeoutHeader), r.Header.Get("Content-Type")
		_, _ = w.Write([]byte(`{}`))
	}), 7*time.Second)
	if _, err := c.Ping(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if got != "7s" || ct != "application/json" {
		t.Errorf("timeout header %q, content type %q", got, ct)
	}
	c2 := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(TimeoutHeader)
		_, _ = w.Write([]byte(`{}`))
	}), 0)
	if _, err := c2.Stats(context.Background()); err != nil || got != "" {
		t.Errorf("no timeout: header %q, err %v", got, err)
	}
}

func TestNewClient(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:9108":         "http://127.0.0.1:9108",
		"[::1]:9108":             "http://[::1]:9108",
		"localhost:1":            "http://localhost:1",
		"http://127.0.0.1:9108/": "http://127.0.0.1:9108",
		"https://node.lan:9108":  "https://node.lan:9108",
	} {
		c, err := NewClient(in, time.Second)
		if err != nil || c.BaseURL() != want {
			t.Errorf("NewClient(%q) = %v, %v; want %s", in, c, err, want)
		}
	}
	for _, in := range []string{"", "ftp://h:1", "http://h:1/v1", "http://h:1?x=1", "http://", "::bad"} {
		if _, err := NewClient(in, time.Second); err == nil {
			t.Errorf("NewClient(%q) accepted", in)
		}
	}
	if _, err := NewClient("h:1", -time.Second); err == nil {
		t.Error("negative timeout accepted")
	}
}
