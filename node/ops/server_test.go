package ops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// readiness is the runtime's side of /readyz in these tests.
type readiness struct {
	mu sync.Mutex
	st ReadyStatus
}

func (r *readiness) Ready() ReadyStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *readiness) set(st ReadyStatus) {
	r.mu.Lock()
	r.st = st
	r.mu.Unlock()
}

// client never keeps connections, so that no goroutine outlives a test.
var client = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// start runs a server on a free loopback port until the test ends.
func start(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	o.Addr = "127.0.0.1:0"
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s, "http://" + s.Addr().String()
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// contract is SPEC §9's metric list (plus dht_boot_first_dial_seconds).
var contract = map[string]struct {
	typ    dto.MetricType
	labels []string
}{
	"dht_lookup_latency_seconds":   {dto.MetricType_HISTOGRAM, []string{"op"}},
	"dht_lookup_hops_histogram":    {dto.MetricType_HISTOGRAM, []string{"op"}},
	"dht_rpcs_total":               {dto.MetricType_COUNTER, []string{"code", "op"}},
	"dht_rpcs_inflight":            {dto.MetricType_GAUGE, nil},
	"dht_hedge_spawned_total":      {dto.MetricType_COUNTER, nil},
	"dht_hedge_canceled_total":     {dto.MetricType_COUNTER, nil},
	"dht_bucket_occupancy":         {dto.MetricType_GAUGE, []string{"bucket"}},
	"dht_bucket_asn_entropy_bits":  {dto.MetricType_GAUGE, []string{"bucket"}},
	"dht_bucket_asn_max_pct":       {dto.MetricType_GAUGE, []string{"bucket"}},
	"dht_route_updates_total":      {dto.MetricType_COUNTER, []string{"action"}},
	"dht_bootstrap_seeds_up":       {dto.MetricType_GAUGE, []string{"seed"}},
	"dht_ready_bucket_fill_pct":    {dto.MetricType_GAUGE, nil},
	"provider_records_total":       {dto.MetricType_COUNTER, []string{"state"}},
	"provider_republish_total":     {dto.MetricType_COUNTER, []string{"result"}},
	"pq_dual_sign_ratio":           {dto.MetricType_GAUGE, nil},
	"pq_verify_fail_total":         {dto.MetricType_COUNTER, []string{"alg"}},
	"pq_classical_only_total":      {dto.MetricType_COUNTER, nil},
	"tls_handshake_failures_total": {dto.MetricType_COUNTER, []string{"reason"}},
	"queue_depth":                  {dto.MetricType_GAUGE, []string{"queue"}},
	"queue_dropped_total":          {dto.MetricType_COUNTER, []string{"queue"}},
	"busy_rejections_total":        {dto.MetricType_COUNTER, []string{"endpoint"}},
	"rejected_total":               {dto.MetricType_COUNTER, []string{"reason"}},
	"dht_boot_first_dial_seconds":  {dto.MetricType_GAUGE, nil},
}

// feed records real events of every kind through m and attaches a real
// routing table snapshot and seed dialer.
func feed(t testing.TB, m *metrics.Metrics) {
	t.Helper()
	m.Lookup(wire.OpFindValue, 80*time.Millisecond, 3)
	m.RPCStarted()
	m.RPCFinished(wire.OpFindNode, wire.CodeOK)
	m.RPCStarted()
	m.RPCFinished(wire.OpFindValue, wire.CodeTimeout)
	m.HedgesSpawned(1)
	m.HedgesCanceled(1)
	m.RouteUpdates(metrics.RouteAdded, 3)
	m.SetReadyBucketFillPct(0.6)
	m.SetFirstDial(90 * time.Millisecond)
	m.ProviderRecords(metrics.RecordStored, 1)
	m.Republish(metrics.RepublishOK)
	m.TLSHandshakeFailed("bad_cert")
	if err := m.QueueDepthFunc("work", func() int { return 3 }); err != nil {
		t.Fatal(err)
	}
	m.QueueDropped("work")
	m.BusyRejected("find_node")
	m.Rejected("max_rps")

	rnd := rand.New(rand.NewPCG(5, 6))
	var self kbucket.ID
	for i := range self {
		self[i] = byte(rnd.Uint32())
	}
	tab, err := kbucket.NewTable(self, kbucket.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		var id kbucket.ID
		for j := range id {
			id[j] = byte(rnd.Uint32())
		}
		ip := netip.AddrFrom4([4]byte{byte(30 + i), 1, 2, 3})
		tab.Seen(kbucket.Peer{ID: id, Addr: netip.AddrPortFrom(ip, 4433)}, int64(i+1))
	}
	m.SetBucketSource(tab.Snapshot())
	list, err := seeds.ParseStrings([]string{"quic://192.0.2.7:4433"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := seeds.NewDialer(list, 1, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	dial, _ := d.Next(now)
	if err := d.Result(dial[0], true, now); err != nil {
		t.Fatal(err)
	}
	m.SetSeedSource(d)
}

func TestMetricsEndpoint(t *testing.T) {
	m := metrics.New()
	feed(t, m)
	_, base := start(t, Options{Metrics: m})
	resp, body := get(t, base+"/metrics")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	for name, c := range contract {
		f := fams[name]
		if f == nil {
			t.Errorf("%s missing from /metrics", name)
			continue
		}
		if f.GetType() != c.typ {
			t.Errorf("%s: type %v, want %v", name, f.GetType(), c.typ)
		}
		for _, s := range f.GetMetric() {
			var names []string
			for _, l := range s.GetLabel() {
				names = append(names, l.GetName())
			}
			slices.Sort(names)
			if !slices.Equal(names, c.labels) {
				t.Errorf("%s: labels %v, want %v", name, names, c.labels)
			}
		}
	}
	// The recorded events show.
	timeouts := 0.0
	for _, s := range fams["dht_rpcs_total"].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "code" && l.GetValue() == "timeout" {
				timeouts += s.GetCounter().GetValue()
			}
		}
	}
	if timeouts != 1 {
		t.Errorf("dht_rpcs_total{code=timeout} = %v, want 1", timeouts)
	}
	if v := fams["dht_bootstrap_seeds_up"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("seed up = %v", v)
	}
}

func TestMetricsUnavailable(t *testing.T) {
	s, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/metrics without metrics: %d", rec.Code)
	}
}

type readyJSON struct {
	Service    string    `json:"service"`
	Ready      *bool     `json:"ready"`
	FirstNode  bool      `json:"first_node"`
	Degraded   *string   `json:"degraded"`
	Missing    *[]string `json:"missing"`
	RetryAfter *int64    `json:"retry_after"`
}

func readyz(t *testing.T, base string) (int, string, readyJSON) {
	t.Helper()
	resp, body := get(t, base+"/readyz")
	var r readyJSON
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	if r.Service != "svc-dht" {
		t.Errorf("service %q", r.Service)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), r
}

func TestReadyz(t *testing.T) {
	s, base := start(t, Options{DrainRetryAfter: 5 * time.Second})

	code, retry, r := readyz(t, base)
	if code != 503 || retry != "1" || r.Degraded == nil || *r.Degraded != "starting" {
		t.Errorf("before the runtime: %d, Retry-After %q, %+v", code, retry, r)
	}

	rd := &readiness{}
	rd.set(ReadyStatus{Degraded: "bootstrapping", RetryAfter: 2500 * time.Millisecond,
		Missing: []string{"seeds: 0 of 1 required answered", "buckets: 20% filled, 50% required"}})
	s.SetReadiness(rd)
	code, retry, r = readyz(t, base)
	if code != 503 || retry != "3" {
		t.Errorf("bootstrapping: %d, Retry-After %q", code, retry)
	}
	if r.Ready == nil || *r.Ready || *r.Degraded != "bootstrapping" || *r.RetryAfter != 3 ||
		!slices.Equal(*r.Missing, []string{"seeds: 0 of 1 required answered", "buckets: 20% filled, 50% required"}) {
		t.Errorf("bootstrapping body %+v", r)
	}

	// Not ready without details: the body keeps its shape.
	rd.set(ReadyStatus{})
	code, retry, r = readyz(t, base)
	if code != 503 || retry != "1" || r.Missing == nil || len(*r.Missing) != 0 || *r.Degraded != "not_ready" {
		t.Errorf("bare not-ready: %d %q %+v", code, retry, r)
	}

	rd.set(ReadyStatus{Ready: true})
	code, retry, r = readyz(t, base)
	if code != 200 || retry != "" || r.Ready == nil || !*r.Ready || r.Degraded != nil || r.Missing != nil {
		t.Errorf("ready: %d %q %+v", code, retry, r)
	}

	rd.set(ReadyStatus{Ready: true, FirstNode: true})
	if code, _, r = readyz(t, base); code != 200 || !r.FirstNode {
		t.Errorf("first node: %d %+v", code, r)
	}

	// Shutdown starts: 503 at once although the runtime is still ready.
	s.SetDraining()
	code, retry, r = readyz(t, base)
	if code != 503 || retry != "5" || *r.Degraded != "draining" || len(*r.Missing) == 0 {
		t.Errorf("draining: %d %q %+v", code, retry, r)
	}
	// Liveness is unaffected.
	if resp, body := get(t, base+"/healthz"); resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Errorf("/healthz while draining: %d %s", resp.StatusCode, body)
	}
}

func TestVersion(t *testing.T) {
	v := NewVersionInfo(Build{Version: "v0.3.0", Git: "0123abcd", BuildTS: "2025-06-01T12:00:00Z"},
		"store", "pq-dual-sign", "store", "", flavor)
	_, base := start(t, Options{Version: v})
	resp, body := get(t, base+"/version")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/version: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"service": "svc-dht", "version": "v0.3.0", "git": "0123abcd",
		"build_ts": "2025-06-01T12:00:00Z", "features": []any{flavor, "pq-dual-sign", "store"}}
	for k, w := range want {
		if g, _ := json.Marshal(got[k]); string(g) != string(mustJSON(t, w)) {
			t.Errorf("%s = %s, want %s", k, g, mustJSON(t, w))
		}
	}
	if g, _ := got["go"].(string); !strings.HasPrefix(g, "go") {
		t.Errorf("go = %q", got["go"])
	}
	if len(got) != 6 {
		t.Errorf("%d fields, want 6: %s", len(got), body)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVersionFallbacks(t *testing.T) {
	v := VersionInfo{}
	fillFromBuildInfo(&v, &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "deadbeef"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2025-05-05T05:05:05Z"}}})
	if v.Version != "v1.2.3" || v.Git != "deadbeef-dirty" || v.BuildTS != "2025-05-05T05:05:05Z" {
		t.Errorf("from build info: %+v", v)
	}
	// -ldflags values win over build information.
	v = VersionInfo{Version: "v9", Git: "cafe", BuildTS: "now"}
	fillFromBuildInfo(&v, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "x"}}})
	if v.Version != "v9" || v.Git != "cafe" || v.BuildTS != "now" {
		t.Errorf("ldflags overridden: %+v", v)
	}
	// Nothing known: "unknown", never empty.
	v = NewVersionInfo(Build{})
	if v.Version == "" || v.Git == "" || v.BuildTS == "" || v.Features[0] != flavor || len(v.Features) != 1 {
		t.Errorf("empty build: %+v", v)
	}
}

func TestMountAndBodyCap(t *testing.T) {
	s, base := start(t, Options{MaxBodyBytes: 1024})
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "too big", http.StatusRequestEntityTooLarge)
			return
		}
		w.Write(b)
	})
	if err := s.Mount("POST /v1/echo", echo); err != nil {
		t.Fatal(err)
	}
	post := func(body io.Reader, size int64) (int, string) {
		req, err := http.NewRequest("POST", base+"/v1/echo", body)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(strings.NewReader("hello"), 5); code != 200 || body != "hello" {
		t.Errorf("small body: %d %q", code, body)
	}
	if code, body := post(bytes.NewReader(make([]byte, 2000)), 2000); code != 413 || !strings.Contains(body, "1024-byte limit") {
		t.Errorf("declared oversize body: %d %q", code, body)
	}
	// A chunked body (no declared length) is cut at the cap.
	if code, _ := post(io.MultiReader(bytes.NewReader(make([]byte, 2000))), -1); code != 413 {
		t.Errorf("chunked oversize body: %d", code)
	}

	for _, c := range []struct {
		pattern string
		h       http.Handler
	}{
		{"GET /metrics", echo},  // conflicts with a built-in route
		{"POST /v1/echo", echo}, // registered twice
		{"GET /v1/{key", echo},  // unclosed wildcard
		{"/v1/other", nil},
	} {
		if err := s.Mount(c.pattern, c.h); err == nil {
			t.Errorf("Mount(%q) accepted", c.pattern)
		}
	}
	// Routes are method-specific.
	resp, err := client.Post(base+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: %d", resp.StatusCode)
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := New(Options{Addr: "no-port"}); err == nil {
		t.Error("address without port accepted")
	}
	if _, err := New(Options{MaxBodyBytes: -1}); err == nil {
		t.Error("negative body cap accepted")
	}
	s, _ := start(t, Options{})
	if err := s.Start(); err == nil {
		t.Error("second Start accepted")
	}
	// The port is taken: a bind error the daemon can tell apart.
	other, err := New(Options{Addr: s.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); !errors.Is(err, ErrBind) {
		t.Errorf("bind to a used port: %v, want ErrBind", err)
	}
	if err := other.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown of an unstarted server: %v", err)
	}
}

func TestShutdown(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != nil {
		t.Error("address before Start")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	if resp, _ := get(t, "http://"+addr+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz: %d", resp.StatusCode)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
	if err := s.Start(); err == nil {
		t.Error("Start after Shutdown accepted")
	}
}

func TestNonLoopbackWarning(t *testing.T) {
	for _, c := range []struct {
		addr string
		warn bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}} {
		var logs bytes.Buffer
		s, err := New(Options{Addr: c.addr, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "ops_not_loopback"); got != c.warn {
			t.Errorf("%s: warning logged %v, want %v: %s", c.addr, got, c.warn, logs.String())
		}
	}
}

// blockingMetrics renders only when released, counting its renderings.
type blockingMetrics struct {
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	renders int
}

func (b *blockingMetrics) WritePrometheus(w io.Writer) error {
	b.mu.Lock()
	b.renders++
	n := b.renders
	b.mu.Unlock()
	b.started <- struct{}{}
	<-b.release
	_, err := io.WriteString(w, "# TYPE x counter\nx "+string(rune('0'+n))+"\n")
	return err
}

// Scrapes that arrive during a rendering share it.
func TestScrapesCoalesce(t *testing.T) {
	bm := &blockingMetrics{started: make(chan struct{}), release: make(chan struct{})}
	s, err := New(Options{Metrics: bm})
	if err != nil {
		t.Fatal(err)
	}
	joined := make(chan struct{})
	s.scrapes.onJoin = func() { joined <- struct{}{} }

	const n = 4
	bodies := make(chan string, n)
	scrape := func() {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		bodies <- rec.Body.String()
	}
	go scrape()
	<-bm.started // the first scrape is rendering
	for range n - 1 {
		go scrape()
		<-joined
	}
	close(bm.release)
	for range n {
		if b := <-bodies; b != "# TYPE x counter\nx 1\n" {
			t.Errorf("scrape got %q", b)
		}
	}
	// A later scrape renders afresh.
	go func() { <-bm.started }()
	scrape()
	if b := <-bodies; b != "# TYPE x counter\nx 2\n" {
		t.Errorf("later scrape got %q", b)
	}
	if bm.renders != 2 {
		t.Errorf("%d renderings, want 2", bm.renders)
	}
}

// A scrape waiting for a rendering gives up with its request.
func TestScrapeWaitCanceled(t *testing.T) {
	bm := &blockingMetrics{started: make(chan struct{}), release: make(chan struct{})}
	s, err := New(Options{Metrics: bm})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/metrics", nil))
		close(done)
	}()
	<-bm.started
	ctx, cancel := context.WithCancel(context.Background())
	s.scrapes.onJoin = cancel
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil).WithContext(ctx))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("canceled wait: %d", rec.Code)
	}
	close(bm.release)
	<-done
}
