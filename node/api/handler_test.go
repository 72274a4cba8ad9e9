package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

// serve runs one request through h and returns the recorder.
func serve(t *testing.T, h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			r.Header.Del(hdr[i])
		} else {
			r.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// errorOf decodes an error answer, failing the test if it is not one.
func errorOf(t *testing.T, w *httptest.ResponseRecorder) ErrorInfo {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error answer Content-Type %q, want application/json", ct)
	}
	var eb ErrorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error answer does not decode: %v", err)
	}
	if eb.Error.Code == 0 || eb.Error.Name == "" || eb.Error.Reason == "" {
		t.Fatalf("error answer incomplete: %+v", eb.Error)
	}
	return eb.Error
}

var (
	keyHex    = ID(testID("key")).String()
	targetHex = ID(testID("target")).String()
)

func TestEndpoints(t *testing.T) {
	f := newFake()
	h := Handler(f, Options{})
	cases := []struct {
		name, method, path, body string
		want                     any
		fields                   []string // JSON member names the answer must have
	}{
		{"provide", "POST", "/v1/provide", `{"key":"` + keyHex + `"}`, f.provide,
			[]string{"key", "replicas", "hops", "latency_ms", "dual_signed"}},
		{"providers", "GET", "/v1/providers/" + keyHex, "", f.providers,
			[]string{"key", "providers", "hops", "latency_ms"}},
		{"closest", "GET", "/v1/closest/" + targetHex, "", f.closest,
			[]string{"target", "peers", "hops", "latency_ms"}},
		{"ping", "POST", "/v1/ping", `{"peer":"quic://192.0.2.1:4433"}`, f.ping,
			[]string{"peer", "addr", "rtt_ms"}},
		{"peers", "GET", "/v1/peers", "", f.peers,
			[]string{"self", "k", "size", "buckets"}},
		{"stats", "GET", "/v1/stats", "", f.stats,
			[]string{"self", "ready", "missing", "uptime_s", "table_size", "store", "counters"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(t, h, tc.method, tc.path, tc.body)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, body %s", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var members map[string]json.RawMessage
			if err := json.Unmarshal(w.Body.Bytes(), &members); err != nil {
				t.Fatalf("answer is not a JSON object: %v", err)
			}
			for _, name := range tc.fields {
				if _, ok := members[name]; !ok {
					t.Errorf("answer lacks %q: %s", name, w.Body)
				}
			}
			got := reflect.New(reflect.TypeOf(tc.want))
			dec := json.NewDecoder(w.Body)
			dec.DisallowUnknownFields()
			if err := dec.Decode(got.Interface()); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got.Elem().Interface(), tc.want) {
				t.Errorf("answer\n%+v\nwant\n%+v", got.Elem().Interface(), tc.want)
			}
		})
	}
	if f.gotKey != testID("key") || f.gotTarget != testID("target") {
		t.Errorf("backend got key %v target %v", ID(f.gotKey), ID(f.gotTarget))
	}
	if f.gotPeer != (PeerRef{Addr: "quic://192.0.2.1:4433"}) {
		t.Errorf("backend got peer %+v", f.gotPeer)
	}
}

func TestJSONShape(t *testing.T) {
	h := Handler(newFake(), Options{})
	w := serve(t, h, "GET", "/v1/providers/"+keyHex, "")
	body := w.Body.String()
	for _, want := range []string{
		`"key":"` + keyHex + `"`,
		`"publisher":"` + ID(testID("pub1")).String() + `"`,
		`"ttl":86400`, `"ts":1700000000`, `"algs":["ed25519","ml-dsa-87"]`,
		`"latency_ms":33`, `"addrs":[]`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %s: %s", want, body)
		}
	}
	w = serve(t, h, "GET", "/v1/closest/"+targetHex, "")
	if !strings.Contains(w.Body.String(), `"latency_ms":1.5`) || !strings.Contains(w.Body.String(), `"asn":64500`) {
		t.Errorf("closest answer: %s", w.Body)
	}
	if strings.Count(w.Body.String(), `"asn"`) != 1 {
		t.Errorf("asn 0 should be omitted: %s", w.Body)
	}
}

func TestProvideParams(t *testing.T) {
	cases := []struct {
		body string
		want ProvideParams
	}{
		{`{"key":"` + keyHex + `"}`, ProvideParams{Key: testID("key")}},
		{`{"key":"` + keyHex[3:] + `"}`, ProvideParams{Key: testID("key")}},
		{`{"data":"hello world"}`, ProvideParams{Key: identity.KeyFromBytes([]byte("hello world"))}},
		{`{"data":"x","ttl":"90m"}`, ProvideParams{Key: identity.KeyFromBytes([]byte("x")), TTL: 90 * time.Minute}},
		{`{"data":"x","ttl":"3600"}`, ProvideParams{Key: identity.KeyFromBytes([]byte("x")), TTL: time.Hour}},
		{`{"key":"` + keyHex + `","addrs":["QUIC://Example.ORG:4433","quic://[2001:DB8::1]:9"]}`,
			ProvideParams{Key: testID("key"), Addrs: []string{"quic://example.org:4433", "quic://[2001:db8::1]:9"}}},
	}
	for _, tc := range cases {
		f := newFake()
		w := serve(t, Handler(f, Options{}), "POST", "/v1/provide", tc.body)
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d %s", tc.body, w.Code, w.Body)
			continue
		}
		if !reflect.DeepEqual(f.gotProvide, tc.want) {
			t.Errorf("%s: backend got %+v, want %+v", tc.body, f.gotProvide, tc.want)
		}
	}
}

func TestPingParams(t *testing.T) {
	id := testID("a")
	cases := []struct {
		body string
		want PeerRef
	}{
		{`{}`, PeerRef{}},
		{`{"peer":""}`, PeerRef{}},
		{`{"peer":"` + ID(id).String() + `"}`, PeerRef{ID: id, HasID: true}},
		{`{"peer":"` + id.String() + `@quic://127.0.0.1:4433"}`, PeerRef{ID: id, HasID: true, Addr: "quic://127.0.0.1:4433"}},
	}
	for _, tc := range cases {
		f := newFake()
		w := serve(t, Handler(f, Options{}), "POST", "/v1/ping", tc.body)
		if w.Code != http.StatusOK {
			t.Errorf("%s: status %d %s", tc.body, w.Code, w.Body)
			continue
		}
		if f.gotPeer != tc.want {
			t.Errorf("%s: backend got %+v, want %+v", tc.body, f.gotPeer, tc.want)
		}
	}
}

func TestBadRequests(t *testing.T) {
	long := `{"key":"` + keyHex + `","addrs":[` + strings.TrimSuffix(strings.Repeat(`"quic://192.0.2.1:1",`, MaxAddrs+1), ",") + `]}`
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     wire.Code
		reason                   string
	}{
		{"both key and data", "POST", "/v1/provide", `{"key":"` + keyHex + `","data":"x"}`, nil, 400, 1422, "not both"},
		{"neither key nor data", "POST", "/v1/provide", `{"ttl":"1h"}`, nil, 400, 1422, "key or data is required"},
		{"bad key hex", "POST", "/v1/provide", `{"key":"b3:` + strings.Repeat("zz", 32) + `"}`, nil, 400, 1422, "key"},
		{"short key", "POST", "/v1/provide", `{"key":"b3:abcd"}`, nil, 400, 1422, "want 64 hex digits"},
		{"bad addr", "POST", "/v1/provide", `{"data":"x","addrs":["tcp://1.2.3.4:5"]}`, nil, 400, 1422, "addr"},
		{"pinned addr", "POST", "/v1/provide", `{"data":"x","addrs":["` + testID("a").String() + `@quic://1.2.3.4:5"]}`, nil, 400, 1422, "no id@ prefix"},
		{"too many addrs", "POST", "/v1/provide", long, nil, 400, 1422, "at most 16"},
		{"ttl too long", "POST", "/v1/provide", `{"data":"x","ttl":"49h"}`, nil, 400, 1422, "above the maximum"},
		{"ttl too short", "POST", "/v1/provide", `{"data":"x","ttl":"30s"}`, nil, 400, 1422, "below the minimum"},
		{"ttl fraction", "POST", "/v1/provide", `{"data":"x","ttl":"90m0.5s"}`, nil, 400, 1422, "whole number of seconds"},
		{"ttl garbage", "POST", "/v1/provide", `{"data":"x","ttl":"soon"}`, nil, 400, 1422, "ttl"},
		{"unknown field", "POST", "/v1/provide", `{"data":"x","replicas":3}`, nil, 400, 1422, "unknown field"},
		{"two values", "POST", "/v1/provide", `{"data":"x"} {"data":"y"}`, nil, 400, 1422, "more than one JSON value"},
		{"trailing garbage", "POST", "/v1/ping", `{} ]`, nil, 400, 1422, "body"},
		{"not JSON", "POST", "/v1/provide", `key=abc`, nil, 400, 1422, "body"},
		{"wrong type", "POST", "/v1/provide", `{"key":5}`, nil, 400, 1422, "body"},
		{"array body", "POST", "/v1/ping", `[]`, nil, 400, 1422, "body"},
		{"empty body", "POST", "/v1/ping", ``, []string{"Content-Type", "application/json"}, 400, 1422, "empty"},
		{"bad peer id", "POST", "/v1/ping", `{"peer":"nothex"}`, nil, 400, 1422, "peer"},
		{"bad peer addr", "POST", "/v1/ping", `{"peer":"quic://:4433"}`, nil, 400, 1422, "peer"},
		{"bad providers key", "GET", "/v1/providers/b3:1234", "", nil, 400, 1422, "key"},
		{"bad closest id", "GET", "/v1/closest/" + strings.Repeat("g", 64), "", nil, 400, 1422, "id"},
		{"text content type", "POST", "/v1/provide", `{"data":"x"}`, []string{"Content-Type", "text/plain"}, 415, 1422, "application/json"},
		{"no content type", "POST", "/v1/ping", `{}`, []string{"Content-Type", ""}, 415, 1422, "application/json"},
		{"GET provide", "GET", "/v1/provide", "", nil, 405, 1422, "use POST"},
		{"POST peers", "POST", "/v1/peers", `{}`, nil, 405, 1422, "use GET"},
		{"DELETE stats", "DELETE", "/v1/stats", "", nil, 405, 1422, "use GET"},
		{"unknown endpoint", "GET", "/v1/nope", "", nil, 404, 1404, "no such endpoint"},
		{"empty key", "GET", "/v1/providers/", "", nil, 404, 1404, "no such endpoint"},
		{"bad timeout header", "GET", "/v1/stats", "", []string{TimeoutHeader, "soon"}, 400, 1422, TimeoutHeader},
		{"zero timeout header", "GET", "/v1/stats", "", []string{TimeoutHeader, "0s"}, 400, 1422, "positive duration"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			w := serve(t, Handler(f, Options{}), tc.method, tc.path, tc.body, tc.hdr...)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
			}
			info := errorOf(t, w)
			if info.Code != tc.code || info.Name != CodeName(tc.code) {
				t.Errorf("code %d %q, want %d %q", info.Code, info.Name, tc.code, CodeName(tc.code))
			}
			if !strings.Contains(info.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", info.Reason, tc.reason)
			}
			if tc.status == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
			if n := f.callCount(); n != 0 {
				t.Errorf("backend called %d times for a bad request", n)
			}
		})
	}
}

func TestBodyCap(t *testing.T) {
	cases := []struct {
		name string
		cap  int64
		body string
	}{
		{"default cap, big string", 0, `{"data":"` + strings.Repeat("a", DefaultMaxBody) + `"}`},
		{"small cap, big string", 1024, `{"data":"` + strings.Repeat("a", 1024) + `"}`},
		{"small cap, trailing spaces", 1024, `{"data":"x"}` + strings.Repeat(" ", 2048)},
		{"small cap, ping", 100, `{"peer":"` + strings.Repeat("a", 200) + `"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			path := "/v1/provide"
			if strings.Contains(tc.name, "ping") {
				path = "/v1/ping"
			}
			w := serve(t, Handler(f, Options{MaxBody: tc.cap}), "POST", path, tc.body)
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413; body %.200s", w.Code, w.Body)
			}
			info := errorOf(t, w)
			if info.Code != wire.CodeFrameTooLarge || info.Name != "FrameTooLarge" {
				t.Errorf("error %+v, want 1413 FrameTooLarge", info)
			}
			if f.callCount() != 0 {
				t.Error("backend called for an oversize body")
			}
		})
	}
	// Just under the cap is accepted.
	f := newFake()
	body := `{"data":"` + strings.Repeat("a", 1000) + `"}`
	if w := serve(t, Handler(f, Options{MaxBody: int64(len(body))}), "POST", "/v1/provide", body); w.Code != http.StatusOK {
		t.Errorf("body of exactly the cap: status %d %s", w.Code, w.Body)
	}
}

// backendErrors are the errors the mapping test feeds through every
// endpoint, with the expected status, code and kind.
var backendErrors = []struct {
	err    error
	status int
	code   wire.Code
	kind   string
	is     error // sentinel the client error must match (nil: none)
}{
	{wire.ErrBadVersion, 400, 1400, "", wire.ErrBadVersion},
	{wire.NewError(wire.CodeNotFound, "no providers"), 404, 1404, "", wire.ErrNotFound},
	{wire.ErrFrameTooLarge, 413, 1413, "", wire.ErrFrameTooLarge},
	{wire.NewError(wire.CodeMalformed, "bad record"), 400, 1422, "", wire.ErrMalformed},
	{wire.QuotaHit("peer_rps"), 429, 1429, "peer_rps", wire.ErrQuotaExceeded},
	{wire.ErrBadSignature, 500, 1440, "", wire.ErrBadSignature},
	{wire.ErrStaleRecord, 500, 1441, "", wire.ErrStaleRecord},
	{wire.ErrNotReady, 503, 1450, "", wire.ErrNotReady},
	{fmt.Errorf("queue: %w", wire.ErrBusy), 503, 1501, "", wire.ErrBusy},
	{wire.ErrTimeout, 504, 1508, "", wire.ErrTimeout},
	{fmt.Errorf("dial quic://192.0.2.1:4433: %w", wire.ErrTransportDown), 502, 1508, "transport_down", wire.ErrTransportDown},
	{wire.ErrHopExceeded, 504, 1508, "hop_exceeded", wire.ErrHopExceeded},
	{wire.ErrNoBootstrap, 503, 1450, "no_bootstrap", wire.ErrNoBootstrap},
	{fmt.Errorf("lookup: %w", context.DeadlineExceeded), 504, 1508, "", wire.ErrTimeout},
	{errors.New("disk on fire"), 500, 1501, KindInternal, nil},
}

// requests lists one valid request per endpoint.
var requests = []struct{ method, path, body string }{
	{"POST", "/v1/provide", `{"data":"x"}`},
	{"GET", "/v1/providers/" + keyHex, ""},
	{"GET", "/v1/closest/" + targetHex, ""},
	{"POST", "/v1/ping", `{"peer":"quic://192.0.2.1:4433"}`},
	{"POST", "/v1/ping", `{}`},
	{"GET", "/v1/peers", ""},
	{"GET", "/v1/stats", ""},
}

func TestErrorMapping(t *testing.T) {
	for _, be := range backendErrors {
		for _, rq := range requests {
			f := newFake()
			f.err = be.err
			w := serve(t, Handler(f, Options{}), rq.method, rq.path, rq.body)
			if w.Code != be.status {
				t.Errorf("%v on %s %s: status %d, want %d", be.err, rq.method, rq.path, w.Code, be.status)
				continue
			}
			info := errorOf(t, w)
			if info.Code != be.code || info.Name != CodeName(be.code) || info.Kind != be.kind {
				t.Errorf("%v on %s %s: %+v, want code %d kind %q", be.err, rq.method, rq.path, info, be.code, be.kind)
			}
			if !strings.Contains(info.Reason, be.err.Error()) {
				t.Errorf("reason %q lacks the backend's %q", info.Reason, be.err)
			}
		}
	}
}

func TestTimeoutBudget(t *testing.T) {
	f := newFake()
	h := Handler(f, Options{MaxTimeout: time.Hour})
	// The deadline is set while serving, so it is at most budget after the
	// request returned.
	if w := serve(t, h, "GET", "/v1/stats", "", TimeoutHeader, "5s"); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if after := time.Now(); !f.hasDeadline || f.deadline.Sub(after) > 5*time.Second {
		t.Errorf("backend deadline %v after the request, want at most 5s", f.deadline.Sub(after))
	}
	// A header over MaxTimeout gets MaxTimeout.
	serve(t, Handler(f, Options{MaxTimeout: 3 * time.Second}), "GET", "/v1/stats", "", TimeoutHeader, "1h")
	if after := time.Now(); !f.hasDeadline || f.deadline.Sub(after) > 3*time.Second {
		t.Errorf("backend deadline %v after the request, want at most 3s", f.deadline.Sub(after))
	}

	// A backend that runs out of budget is answered 504 / 1508.
	f = newFake()
	f.block = true
	w := serve(t, Handler(f, Options{}), "GET", "/v1/closest/"+targetHex, "", TimeoutHeader, "1ms")
	if w.Code != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", w.Code)
	}
	if info := errorOf(t, w); info.Code != wire.CodeTimeout {
		t.Errorf("error %+v, want 1508", info)
	}
}

func TestNilListsEncodeEmpty(t *testing.T) {
	f := &fakeBackend{
		providers: ProvidersResult{Providers: []Provider{{}}},
		closest:   ClosestResult{Peers: []PeerInfo{{}}},
		peers:     PeersResult{Buckets: []Bucket{{}}},
	}
	h := Handler(f, Options{})
	for path, want := range map[string][]string{
		"/v1/providers/" + keyHex:  {`"addrs":[]`, `"algs":[]`},
		"/v1/closest/" + targetHex: {`"addrs":[]`},
		"/v1/peers":                {`"peers":[]`},
		"/v1/stats":                {`"counters":{}`},
	} {
		w := serve(t, h, "GET", path, "")
		for _, s := range want {
			if !strings.Contains(w.Body.String(), s) {
				t.Errorf("%s: answer lacks %s: %s", path, s, w.Body)
			}
		}
		if strings.Contains(w.Body.String(), "null") {
			t.Errorf("%s: answer has null: %s", path, w.Body)
		}
	}
	f = &fakeBackend{}
	h = Handler(f, Options{})
	for path, want := range map[string]string{
		"/v1/providers/" + keyHex:  `"providers":[]`,
		"/v1/closest/" + targetHex: `"peers":[]`,
		"/v1/peers":                `"buckets":[]`,
	} {
		if w := serve(t, h, "GET", path, ""); !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: answer lacks %s: %s", path, want, w.Body)
		}
	}
}

func TestUnencodableResult(t *testing.T) {
	f := newFake()
	f.peers.Buckets[0].ASNEntropyBits = math.NaN()
	w := serve(t, Handler(f, Options{}), "GET", "/v1/peers", "")
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", w.Code)
	}
	if info := errorOf(t, w); info.Code != wire.CodeBusy || info.Kind != KindInternal || !strings.Contains(info.Reason, "encode answer") {
		t.Errorf("error %+v", info)
	}
}

func TestClassifyUnknownLocalKind(t *testing.T) {
	status, info := Classify(&wire.Error{Kind: "mystery"})
	if status != 500 || info.Code != wire.CodeBusy || info.Kind != KindInternal {
		t.Errorf("unknown local kind: %d %+v", status, info)
	}
}

func TestCodeTables(t *testing.T) {
	for c := wire.Code(0); c < 2000; c++ {
		name, status := CodeName(c), StatusOf(c)
		if c.Valid() != (name != "") {
			t.Errorf("code %d: name %q, valid %v", c, name, c.Valid())
		}
		if !c.Valid() && status != 500 {
			t.Errorf("code %d outside the set: status %d", c, status)
		}
	}
	if StatusOf(wire.CodeOK) != 200 {
		t.Error("1000 is not 200")
	}
}

// A path key with or without the b3: prefix, in either case, reaches the
// same lookup.
func TestPathKeyForms(t *testing.T) {
	for _, k := range []string{keyHex, keyHex[3:], strings.ToUpper(keyHex[3:])} {
		f := newFake()
		if w := serve(t, Handler(f, Options{}), "GET", "/v1/providers/"+k, ""); w.Code != 200 {
			t.Errorf("%s: status %d %s", k, w.Code, w.Body)
		}
		if f.gotKey != testID("key") {
			t.Errorf("%s: backend got %v", k, ID(f.gotKey))
		}
	}
}
