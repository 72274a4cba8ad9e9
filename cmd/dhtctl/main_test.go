package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

func id(name string) kbucket.ID { return identity.KeyFromBytes([]byte(name)) }

// fake is an api.Backend with fixed answers that records its last request.
type fake struct {
	mu       sync.Mutex
	err      error
	provided api.ProvideParams
	key      kbucket.ID
	target   kbucket.ID
	peer     api.PeerRef
	budget   time.Duration // time left before the request's deadline
	deadline bool          // whether the request had a deadline
}

func (f *fake) enter(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := ctx.Deadline(); ok {
		f.budget, f.deadline = time.Until(d), true
	}
	return f.err
}

var (
	provideRes = api.ProvideResult{Key: api.ID(id("k")), Replicas: 17, Hops: 3, Latency: api.Millis(45678 * time.Microsecond), DualSigned: true}
	providers  = api.ProvidersResult{Key: api.ID(id("k")), Hops: 2, Latency: api.Millis(33 * time.Millisecond), Providers: []api.Provider{
		{Publisher: api.ID(id("pub")), Addrs: []string{"quic://198.51.100.7:4433"}, TTL: 86400, TS: 1700000000, Algs: []string{"ed25519", "ml-dsa-87"}},
	}}
	closest = api.ClosestResult{Target: api.ID(id("t")), Hops: 4, Latency: api.Millis(1500 * time.Microsecond), Peers: []api.PeerInfo{
		{ID: api.ID(id("a")), Addrs: []string{"quic://192.0.2.1:4433"}, ASN: 64500, LastSeen: 1700000000},
		{ID: api.ID(id("b")), Addrs: []string{"quic://192.0.2.2:4433"}},
	}}
	pingRes  = api.PingResult{Peer: api.ID(id("a")), Addr: "quic://192.0.2.1:4433", RTT: api.Millis(812 * time.Microsecond)}
	peersRes = api.PeersResult{Self: api.ID(id("self")), K: 20, Size: 1, Buckets: []api.Bucket{
		{Index: 5, Size: 1, Replacements: 2, ASNEntropyBits: 0.5, ASNMaxPct: 5, Peers: []api.PeerInfo{{ID: api.ID(id("c")), Addrs: []string{"quic://192.0.2.3:1"}, ASN: 64501}}},
	}}
	statsRes = api.StatsResult{Self: api.ID(id("self")), Ready: false, Missing: []string{"seeds"}, UptimeSecs: 3725, TableSize: 1,
		Store: api.StoreStats{Records: 12, Keys: 5, Own: 2}, Counters: map[string]uint64{"rpcs_in": 1234, "busy_rejections": 7}}
)

func (f *fake) Provide(ctx context.Context, p api.ProvideParams) (api.ProvideResult, error) {
	f.mu.Lock()
	f.provided = p
	f.mu.Unlock()
	return provideRes, f.enter(ctx)
}

func (f *fake) FindProviders(ctx context.Context, key kbucket.ID) (api.ProvidersResult, error) {
	f.mu.Lock()
	f.key = key
	f.mu.Unlock()
	return providers, f.enter(ctx)
}

func (f *fake) FindClosest(ctx context.Context, target kbucket.ID) (api.ClosestResult, error) {
	f.mu.Lock()
	f.target = target
	f.mu.Unlock()
	return closest, f.enter(ctx)
}

func (f *fake) Ping(ctx context.Context, peer api.PeerRef) (api.PingResult, error) {
	f.mu.Lock()
	f.peer = peer
	f.mu.Unlock()
	if peer.IsZero() {
		return api.PingResult{Peer: api.ID(id("self")), Self: true}, f.enter(ctx)
	}
	return pingRes, f.enter(ctx)
}

func (f *fake) Peers(ctx context.Context) (api.PeersResult, error) { return peersRes, f.enter(ctx) }
func (f *fake) Stats(ctx context.Context) (api.StatsResult, error) { return statsRes, f.enter(ctx) }

// node starts the real API handler over a fake backend and returns the
// fake and the server's host:port.
func node(t *testing.T) (*fake, string) {
	t.Helper()
	f := &fake{}
	srv := httptest.NewServer(api.Handler(f, api.Options{}))
	t.Cleanup(srv.Close)
	return f, strings.TrimPrefix(srv.URL, "http://")
}

// dhtctl runs run() with args and the given SVC_DHT_OPS.
func dhtctl(env string, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e, func(k string) string {
		if k == envOps {
			return env
		}
		return ""
	})
	return code, o.String(), e.String()
}

func TestCommandsHuman(t *testing.T) {
	_, addr := node(t)
	k, tg := api.ID(id("k")).String(), api.ID(id("t")).String()
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"ping"}, []string{"node " + api.ID(id("self")).String() + " is up"}},
		{[]string{"ping", "quic://192.0.2.1:4433"}, []string{"pong from " + api.ID(id("a")).String(), "at quic://192.0.2.1:4433", "rtt 0.812 ms"}},
		{[]string{"find-node", tg}, []string{"target", tg, "hops", "4", "latency", "1.5 ms", "peers: 2", api.ID(id("a")).String(), "AS64500", "2023-11-14T22:13:20Z", "quic://192.0.2.2:4433"}},
		{[]string{"provide", k}, []string{"key", k, "replicas", "17", "hops", "3", "45.678 ms", "dual-signed", "yes"}},
		{[]string{"find-providers", k}, []string{"key", k, "providers: 1", api.ID(id("pub")).String(), "ttl 24h0m0s", "signed 2023-11-14T22:13:20Z", "ed25519+ml-dsa-87", "quic://198.51.100.7:4433", "33 ms"}},
		{[]string{"peers"}, []string{"self", api.ID(id("self")).String(), "k", "20", "bucket 5", "1 peers, 2 replacements", "ASN entropy 0.50 bits", "top ASN 5.0%", api.ID(id("c")).String(), "AS64501"}},
		{[]string{"stats"}, []string{"ready", "no (missing: seeds)", "uptime", "1h2m5s", "table size", "12 records, 5 keys, 2 own", "busy_rejections", "rpcs_in", "1234"}},
	}
	for _, tc := range cases {
		code, out, errOut := dhtctl("", append([]string{"--ops", addr}, tc.args...)...)
		if code != exitOK {
			t.Errorf("%v: exit %d, stderr %s", tc.args, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestCommandsJSON(t *testing.T) {
	_, addr := node(t)
	k, tg := api.ID(id("k")).String(), api.ID(id("t")).String()
	cases := []struct {
		args []string
		want any
	}{
		{[]string{"ping", "quic://192.0.2.1:4433"}, pingRes},
		{[]string{"find-node", tg}, closest},
		{[]string{"provide", "--data", "x"}, provideRes},
		{[]string{"find-providers", k}, providers},
		{[]string{"peers"}, peersRes},
		{[]string{"stats"}, statsRes},
	}
	for _, tc := range cases {
		// --json after the command, --ops from the environment.
		code, out, errOut := dhtctl(addr, append(tc.args, "--json")...)
		if code != exitOK {
			t.Errorf("%v: exit %d, stderr %s", tc.args, code, errOut)
			continue
		}
		got := reflect.New(reflect.TypeOf(tc.want))
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(got.Interface()); err != nil {
			t.Errorf("%v: output does not parse: %v\n%s", tc.args, err, out)
			continue
		}
		if !reflect.DeepEqual(got.Elem().Interface(), tc.want) {
			t.Errorf("%v: output %+v, want %+v", tc.args, got.Elem().Interface(), tc.want)
		}
	}
}

func TestProvideArguments(t *testing.T) {
	f, addr := node(t)
	k := id("k")
	code, _, errOut := dhtctl(addr, "provide", "--ttl", "2h", api.ID(k).String()[3:], "--addr", "QUIC://192.0.2.9:4433", "--addr=quic://[2001:db8::9]:1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := api.ProvideParams{Key: k, TTL: 2 * time.Hour, Addrs: []string{"quic://192.0.2.9:4433", "quic://[2001:db8::9]:1"}}
	if !reflect.DeepEqual(f.provided, want) {
		t.Errorf("backend got %+v, want %+v", f.provided, want)
	}
	if code, _, errOut := dhtctl(addr, "provide", "--data", "hello world"); code != exitOK || f.provided.Key != identity.KeyFromBytes([]byte("hello world")) {
		t.Errorf("provide --data: exit %d (%s), key %v", code, errOut, api.ID(f.provided.Key))
	}
	if code, _, errOut := dhtctl(addr, "find-providers", "--", api.ID(k).String()); code != exitOK || f.key != k {
		t.Errorf("find-providers -- KEY: exit %d (%s), key %v", code, errOut, api.ID(f.key))
	}
	if code, _, _ := dhtctl(addr, "ping", id("a").String()+"@quic://127.0.0.1:4433"); code != exitOK ||
		f.peer != (api.PeerRef{ID: id("a"), HasID: true, Addr: "quic://127.0.0.1:4433"}) {
		t.Errorf("ping ID@addr: exit %d, backend got %+v", code, f.peer)
	}
}

func TestTimeoutFlag(t *testing.T) {
	f, addr := node(t)
	if code, _, errOut := dhtctl(addr, "--timeout", "3s", "stats"); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !f.deadline || f.budget > 3*time.Second {
		t.Errorf("node's budget %v, want at most 3s", f.budget)
	}
}

func TestRemoteErrors(t *testing.T) {
	f, addr := node(t)
	cases := []struct {
		err  error
		want string
		code wire.Code
	}{
		{wire.NewError(wire.CodeNotFound, "no providers for the key"), "1404 NotFound", 1404},
		{fmt.Errorf("dial: %w", wire.ErrTransportDown), "1508 Timeout (transport_down)", 1508},
		{wire.QuotaHit("max_rps"), "1429 QuotaExceeded (max_rps)", 1429},
		{wire.ErrNotReady, "1450 NotReady", 1450},
	}
	for _, tc := range cases {
		f.mu.Lock()
		f.err = tc.err
		f.mu.Unlock()
		code, out, errOut := dhtctl(addr, "find-providers", api.ID(id("k")).String())
		if code != exitFailed || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, tc.err.Error()) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.err, code, out, errOut, tc.want)
		}
		code, out, _ = dhtctl(addr, "--json", "stats")
		var eb api.ErrorBody
		if err := json.Unmarshal([]byte(out), &eb); code != exitFailed || err != nil || eb.Error.Code != tc.code || eb.Error.Name == "" {
			t.Errorf("%v --json: exit %d, stdout %q (%v)", tc.err, code, out, err)
		}
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	addr := strings.TrimPrefix(srv.URL, "http://")
	srv.Close()
	code, out, errOut := dhtctl("", "--ops", addr, "stats")
	if code != exitUnreachable || out != "" || !strings.Contains(errOut, "not reachable at http://"+addr) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	_, addr := node(t)
	k := api.ID(id("k")).String()
	cases := [][]string{
		{},
		{"frobnicate"},
		{"--bogus", "stats"},
		{"stats", "--bogus"},
		{"stats", "extra"},
		{"peers", "extra"},
		{"find-node"},
		{"find-node", "xyz"},
		{"find-node", k, k},
		{"find-providers"},
		{"find-providers", "b3:1234"},
		{"ping", "not-a-peer"},
		{"ping", "quic://h"},
		{"ping", "a", "b"},
		{"provide"},
		{"provide", k, "--data", "x"},
		{"provide", "--data", ""},
		{"provide", "nothex"},
		{"provide", k, "--ttl", "49h"},
		{"provide", k, "--ttl", "soon"},
		{"provide", k, "--addr", "tcp://1.2.3.4:5"},
		{"--timeout", "-1s", "stats"},
		{"--timeout", "soon", "stats"},
		{"--ops", "ftp://x:1", "stats"},
		{"help", "frobnicate"},
		{"help", "ping", "stats"},
	}
	for _, args := range cases {
		code, out, errOut := dhtctl(addr, args...)
		if code != exitUsage || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 with a message", args, code, out, errOut)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errOut := dhtctl("", args...)
		if code != exitOK || errOut != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
		for _, w := range []string{"Usage: dhtctl", "ping", "find-node", "provide", "find-providers", "peers", "stats", "-ops", "-json", "-timeout", "Exit status"} {
			if !strings.Contains(out, w) {
				t.Errorf("%q: help lacks %q", args, w)
			}
		}
	}
	for _, args := range [][]string{{"help", "provide"}, {"provide", "--help"}, {"provide", "-h"}} {
		code, out, _ := dhtctl("", args...)
		if code != exitOK || !strings.Contains(out, "Usage: dhtctl provide (KEY | --data TEXT)") || !strings.Contains(out, "-ttl") || !strings.Contains(out, "-addr") {
			t.Errorf("%q: exit %d, output %q", args, code, out)
		}
	}
	for _, cmd := range commands {
		code, out, _ := dhtctl("", "help", cmd.name)
		if code != exitOK || !strings.Contains(out, "Usage: dhtctl "+cmd.name) {
			t.Errorf("help %s: exit %d, output %q", cmd.name, code, out)
		}
	}
	// The environment sets the default shown in help.
	if _, out, _ := dhtctl("10.1.2.3:9", "--help"); !strings.Contains(out, `"10.1.2.3:9"`) {
		t.Errorf("help does not show the SVC_DHT_OPS default: %s", out)
	}
}
