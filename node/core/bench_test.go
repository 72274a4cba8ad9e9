package core

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// BenchmarkHandleFindNode measures the inbound hot path without I/O: quota
// check, routing-table update of the requester, closest-K selection and
// filling the reply body, on a table of a node in a ~10,000-node network.
func BenchmarkHandleFindNode(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	c := newTestCore(b, randID(r), nil)
	fillTable(b, c, r, 10000)
	peers := c.Table().Snapshot().Peers(nil)
	targets := make([]kbucket.ID, 1024)
	for i := range targets {
		targets[i] = randID(r)
	}
	var resp Response
	req := Request{Op: wire.OpFindNode}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req.Key = targets[i%len(targets)]
		c.HandleRequest(epoch.Add(time.Duration(i)*time.Millisecond), peers[i%len(peers)], &req, &resp)
	}
	if len(resp.Closest) != c.cfg.K {
		b.Fatalf("reply holds %d nodes", len(resp.Closest))
	}
	b.ReportMetric(float64(c.Table().Len()), "table-peers")
}
