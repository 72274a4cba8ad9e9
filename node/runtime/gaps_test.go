package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/api"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/persist"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// rawCall sends one request from client to n over QUIC and decodes the
// answer.
func rawCall(t *testing.T, client *transport.Transport, n *Node, req *core.Request) *core.Response {
	t.Helper()
	frame, err := appendRequestFrame(nil, req, 77, time.Now().Unix())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	raw, _, err := client.Call(ctx, n.Addrs()[0], nil, frame, nil)
	if err != nil {
		t.Fatalf("%v: %v", req.Op, err)
	}
	var env wire.Envelope
	if err := wire.DecodeEnvelope(raw, &env); err != nil {
		t.Fatal(err)
	}
	resp := new(core.Response)
	if err := core.DecodeResponse(&env, resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRestartKeepsProviderStore(t *testing.T) {
	publisher := startNode(t, testConfig(t), testOptions(70, nil))
	dir := t.TempDir()
	cfg := diskConfig(t, dir, seedOf(publisher))
	n, err := New(cfg, testOptions(71, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitReady(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	key := kbucket.ID(blake3.Sum256([]byte("kept across restarts")))
	r, err := publisher.Provide(ctx, api.ProvideParams{Key: key, TTL: 2 * time.Hour})
	if err != nil || r.Replicas != 1 {
		t.Fatalf("provide: %+v, %v; want the one replica on the disk node", r, err)
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, persist.ProvidersFile)); err != nil {
		t.Fatalf("provider snapshot not saved: %v", err)
	}
	// The publisher goes away: the record can only come from the snapshot.
	if err := publisher.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	log := new(syncBuffer)
	again := startNode(t, cfg, testOptions(72, log))
	if !strings.Contains(log.String(), `"records":1,`) {
		t.Fatalf("restarted node did not restore its record:\n%s", log)
	}
	resp := rawCall(t, newClient(t, 73), again, &core.Request{Op: wire.OpFindValue, Key: key})
	if resp.Code != wire.CodeOK || len(resp.Providers) != 1 {
		t.Fatalf("FIND_VALUE after restart: code %v, %d providers; want the stored record", resp.Code, len(resp.Providers))
	}
	if p := resp.Providers[0]; kbucket.ID(p.Publisher) != publisher.ID() || p.TTL != 7200 {
		t.Fatalf("served record: publisher %s ttl %d; want %s, 7200", kbucket.ID(p.Publisher).Short(), p.TTL, publisher.ID().Short())
	}
	st, err := again.Stats(ctx)
	if err != nil || st.Store.Records != 1 || st.Store.Keys != 1 || st.Store.Own != 0 {
		t.Fatalf("stats after restart: %+v, %v", st.Store, err)
	}
}

func TestAdvertiseAddrs(t *testing.T) {
	a := startNode(t, testConfig(t), testOptions(74, nil))
	cfg := testConfig(t, seedOf(a))
	cfg.AdvertiseAddrs = []string{"quic://203.0.113.7:4433", "quic://[2001:db8::7]:4433"}
	b := startNode(t, cfg, testOptions(75, nil))
	waitReady(t, b)

	resp := rawCall(t, newClient(t, 76), b, &core.Request{Op: wire.OpPing})
	if !slices.Equal(resp.Self.Addrs, cfg.AdvertiseAddrs) {
		t.Fatalf("PING answer advertises %q, want %q", resp.Self.Addrs, cfg.AdvertiseAddrs)
	}
	// A provide without addrs publishes the advertised ones.
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	key := kbucket.ID(blake3.Sum256([]byte("advertised")))
	if _, err := b.Provide(ctx, api.ProvideParams{Key: key, TTL: 30 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	found, err := a.FindProviders(ctx, key)
	if err != nil || len(found.Providers) != 1 {
		t.Fatalf("find providers: %+v, %v", found, err)
	}
	if p := found.Providers[0]; !slices.Equal(p.Addrs, cfg.AdvertiseAddrs) || p.TTL != 1800 {
		t.Fatalf("record addrs %q ttl %d; want %q, the API's ttl 1800", p.Addrs, p.TTL, cfg.AdvertiseAddrs)
	}
	st, err := b.Stats(ctx)
	if err != nil || st.Store.Own != 1 {
		t.Fatalf("stats of the provider: own %d, %v; want 1", st.Store.Own, err)
	}

	// A wildcard listener without advertise_addrs advertises nothing: a
	// provide must name its addrs.
	wild := testConfig(t, seedOf(a))
	wild.ListenAddr = "0.0.0.0:0"
	w := startNode(t, wild, testOptions(77, nil))
	if len(w.addrs) != 0 {
		t.Fatalf("wildcard node advertises %q", w.addrs)
	}
	if _, err := w.Provide(ctx, api.ProvideParams{Key: key}); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("provide without addrs on a wildcard node: %v, want Malformed", err)
	}
}
