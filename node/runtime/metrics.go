package runtime

import (
	"fmt"
	"math"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/metrics"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// transportMetrics feeds the transport's events into the metrics plane.
type transportMetrics struct{ m *metrics.Metrics }

func (t transportMetrics) HandshakeFailed(r transport.HandshakeFailure) {
	t.m.TLSHandshakeFailed(r.String())
}

func (t transportMetrics) StreamFailed(r transport.StreamFailure) {
	switch r {
	case transport.StreamBusy:
		// Over the transport's cap of streams served at once.
		t.m.BusyRejected("stream")
	case transport.StreamOversize:
		t.m.Rejected("frame_too_large")
	case transport.StreamTruncated, transport.StreamTrailingData:
		t.m.Rejected("malformed")
	case transport.StreamReadTimeout:
		t.m.Rejected("stream_timeout")
	}
}

func (transportMetrics) ConnOpened(bool)                {}
func (transportMetrics) ConnClosed(transport.ConnClose) {}

// bucketSource gives the metrics the latest published table snapshot.
type bucketSource struct{ n *Node }

// Buckets implements metrics.BucketSource.
func (b bucketSource) Buckets() []kbucket.BucketStats {
	if s := b.n.snap.Load(); s != nil {
		return s.Buckets()
	}
	return nil
}

// bindMetrics registers the state the metrics read at scrape time.
func (n *Node) bindMetrics() {
	_ = n.m.QueueDepthFunc("work", n.queueDepth) // fails only if bound twice
	if n.verifyQ != nil {
		_ = n.m.QueueDepthFunc("verify", func() int { return len(n.verifyQ) })
	}
	n.m.SetBucketSource(bucketSource{n})
	n.m.SetSeedSource(n.runner)
}

// applyLimits sets the reloadable limits and thresholds from cfg.
func (n *Node) applyLimits(cfg *config.Config) {
	n.global.set(cfg.Limits.MaxRPS)
	n.peerLimit.set(cfg.Limits.PeerRPS)
	n.maxInflight.Store(int64(cfg.Limits.MaxInflight))
	n.required.Store(int64(cfg.Bootstrap.Required))
	n.fillWant.Store(math.Float64bits(cfg.Bootstrap.ReadyBucketFillPct))
	n.shutdownTO.Store(int64(cfg.ShutdownTimeout))
	n.rpcTimeout.Store(int64(cfg.RPCTimeout))
	n.providerTTL.Store(int64(cfg.Provider.TTL))
	n.dualSign.Store(cfg.PQ.DualSign)
	if n.level != nil {
		n.level.Set(cfg.Log.SlogLevel())
	}
}

// setVerifier builds the record verifier of cfg's pq.* and provider.*
// policy.
func (n *Node) setVerifier(cfg *config.Config) error {
	p := identity.DefaultPolicy()
	p.MaxRecordBytes = int(cfg.Provider.MaxRecordBytes)
	p.Enforce = cfg.PQ.Enforce
	if t, ok := cfg.PQ.RequireDate(); ok {
		p.RequirePQOn = t
	}
	for _, a := range cfg.PQ.Algorithms {
		switch a {
		case "ed25519":
			p.AllowedAlgs = append(p.AllowedAlgs, wire.AlgEd25519)
		case "ml-dsa-87":
			p.AllowedAlgs = append(p.AllowedAlgs, wire.AlgMLDSA87)
		default:
			return fmt.Errorf("runtime: pq.algorithms: unknown algorithm %q", a)
		}
	}
	v, err := identity.NewVerifier(p)
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	n.verifier.Store(&verifierBox{v})
	return nil
}

// uptime is how long the process has run.
func (n *Node) uptime() time.Duration { return n.now().Sub(n.opts.ProcessStart) }
