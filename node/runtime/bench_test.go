package runtime

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// benchNode starts a first node without rate limits whose routing table
// holds peers synthetic peers on loopback.
func benchNode(b *testing.B, peers int) *Node {
	cfg := testConfig(b)
	cfg.Limits.MaxRPS, cfg.Limits.PeerRPS, cfg.Limits.MaxInflight = 1_000_000, 100_000, 65536
	n := startNode(b, cfg, testOptions(50, nil))
	rng := rand.New(rand.NewPCG(1, 2))
	done := make(chan struct{})
	n.post(func(now time.Time) {
		for i := range peers {
			var id kbucket.ID
			for j := range id {
				id[j] = byte(rng.Uint32())
			}
			ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}), 4433)
			n.do(n.core.AddPeer(now, kbucket.Peer{ID: id, Addr: ap, Addrs: []string{transport.Scheme + ap.String()}}))
		}
		close(done)
	})
	<-done
	return n
}

func findNodeFrame(b *testing.B) []byte {
	frame, err := appendRequestFrame(nil, &core.Request{Op: wire.OpFindNode, Key: kbucket.ID{0x42}}, 7, time.Now().Unix())
	if err != nil {
		b.Fatal(err)
	}
	return frame
}

// BenchmarkFindNodeRPC is one FIND_NODE RPC end to end over loopback QUIC:
// a client transport's Call, the node's intake, event loop, owner (closest
// k of 200 peers) and encode, and back.
func BenchmarkFindNodeRPC(b *testing.B) {
	n := benchNode(b, 200)
	client := newClient(b, 50)
	frame := findNodeFrame(b)
	addr, id := n.Addrs()[0], n.ID()
	buf := make([]byte, 0, wire.FrameBufSize)
	ctx := context.Background()
	if _, _, err := client.Call(ctx, addr, &id, frame, buf); err != nil { // connect
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		resp, _, err := client.Call(ctx, addr, &id, frame, buf)
		if err != nil {
			b.Fatal(err)
		}
		buf = resp[:0]
	}
}

// BenchmarkServeFindNode is the node's side of a FIND_NODE without QUIC:
// the transport handler (intake checks, queue, decode, owner, encode) as
// the transport calls it for each stream.
func BenchmarkServeFindNode(b *testing.B) {
	n := benchNode(b, 200)
	env := findNodeFrame(b)[4:]
	peer := transport.PeerInfo{ID: kbucket.ID{0x99}, Addr: netip.MustParseAddrPort("127.0.0.1:5000")}
	dst := make([]byte, 0, wire.FrameBufSize)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		out, err := n.serveRPC(ctx, peer, env, dst)
		if err != nil {
			b.Fatal(err)
		}
		dst = out[:0]
	}
}
