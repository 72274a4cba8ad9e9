package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/seeds"
	"github.com/svc-dht/svc-dht/wire"
)

// seededIdentity is the Ed25519-only identity drawn from seed and n: the
// generator's client and publisher identities are the same from run to run.
func seededIdentity(seed, n uint64) (*identity.Identity, error) {
	var ent [32]byte
	binary.LittleEndian.PutUint64(ent[:], seed)
	binary.LittleEndian.PutUint64(ent[8:], n)
	return identity.Generate(rand.NewChaCha8(ent), false)
}

// recordsPerPublisher is the most pre-signed records one publisher signs.
const recordsPerPublisher = 64

// recordTTL is the lifetime of the pre-signed records: long enough for any
// run (they are signed before the measurement starts).
const recordTTL = 6 * time.Hour

// client is one identity of the load generator: a dial-only QUIC
// transport holding one pooled connection to the target.
type client struct {
	id *identity.Identity
	tr *transport.Transport
}

// loadgen is the target mode's state.
type loadgen struct {
	o       *options
	target  seeds.Seed
	expect  *kbucket.ID
	clients []client
	records []wire.ProviderRecord
	pools   wire.Pools
	corr    [64]struct {
		sync.Mutex
		n uint64
	}
}

// appendRequestFrame appends the frame of req (length prefix and envelope).
func appendRequestFrame(dst []byte, req *core.Request, corr uint64, ts int64) ([]byte, error) {
	start := len(dst)
	out, err := core.AppendRequest(append(dst, 0, 0, 0, 0), req, corr, ts)
	if err != nil {
		return dst[:start], err
	}
	binary.BigEndian.PutUint32(out[start:], uint32(len(out)-start-4))
	return out, nil
}

// newLoadgen parses the target, makes the client identities and transports
// and pre-signs the record pool.
func newLoadgen(o *options) (*loadgen, error) {
	sd, err := seeds.Parse(o.target)
	if err != nil {
		return nil, fmt.Errorf("--target: %w", err)
	}
	g := &loadgen{o: o, target: sd}
	if sd.Pinned {
		g.expect = &sd.ID
	}
	listen := "0.0.0.0:0"
	if ip, err := netip.ParseAddr(sd.Host); err == nil && ip.Is6() && !ip.Is4In6() {
		listen = "[::]:0"
	}
	for i := range o.clients {
		id, err := seededIdentity(o.seed, uint64(i)|1<<40)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("target: client %d: %w", i, err)
		}
		tr, err := transport.New(id, transport.Config{ListenAddrs: []string{listen}, RPCTimeout: o.opTO, Pools: &g.pools}, nil)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("target: client %d: %w", i, err)
		}
		g.clients = append(g.clients, client{id: id, tr: tr})
	}
	// Sign records, not RPCs: the pool is signed once, before measuring,
	// and cycled through; a repeat replaces the stored record (PROVIDE is
	// idempotent per key and publisher), so the server's store stays bounded.
	// The records come from several publishers, at most recordsPerPublisher
	// each: one publisher owning the whole pool would run into the server's
	// per-publisher store cap (provider.max_per_publisher, 256 on a
	// micronode) and measure that cap's 1429s instead of PROVIDE.
	pubs := make([]*identity.Identity, 0, max(len(g.clients), (o.records+recordsPerPublisher-1)/recordsPerPublisher))
	for _, c := range g.clients {
		pubs = append(pubs, c.id)
	}
	for p := len(pubs); p < cap(pubs); p++ {
		id, err := seededIdentity(o.seed, uint64(p)|2<<40)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("target: publisher %d: %w", p, err)
		}
		pubs = append(pubs, id)
	}
	now := time.Now().Unix()
	rng := rand.New(rand.NewPCG(o.seed, 0x7ec0))
	g.records = make([]wire.ProviderRecord, o.records)
	for i := range g.records {
		pub := i % len(pubs)
		var key kbucket.ID
		for j := 0; j < len(key); j += 8 {
			binary.BigEndian.PutUint64(key[j:], rng.Uint64())
		}
		rec := &g.records[i]
		*rec = wire.ProviderRecord{ProtoVer: wire.ProtoVersion, Key: key, TS: now, TTL: uint32(recordTTL / time.Second),
			Addrs: []string{fmt.Sprintf("quic://192.0.2.%d:4433", 1+pub%250)}}
		if err := identity.Sign(rec, pubs[pub], false); err != nil {
			g.close()
			return nil, fmt.Errorf("target: sign record %d: %w", i, err)
		}
	}
	return g, nil
}

func (g *loadgen) close() {
	for _, c := range g.clients {
		_ = c.tr.Close()
	}
}

// call sends one request of kind (random choices from r) and returns the
// answer's code name.
func (g *loadgen) call(ctx context.Context, kind int, r uint64, ci int) string {
	c := g.clients[ci]
	req := core.Request{Op: wire.OpFindNode, Key: randomID(r)}
	switch kind {
	case kFindValue:
		req.Op = wire.OpFindValue
		if r&1 == 0 { // half the keys were provided: some answers carry records
			req.Key = g.records[splitmix(r)%uint64(len(g.records))].Key
		}
	case kProvide:
		req.Op = wire.OpProvide
		req.Record = &g.records[splitmix(r)%uint64(len(g.records))]
		req.Key = req.Record.Key
	}
	slot := &g.corr[ci%len(g.corr)]
	slot.Lock()
	slot.n++
	corr := slot.n<<8 | uint64(ci%len(g.corr))
	slot.Unlock()
	out := g.pools.Get(wire.FrameBufSize)
	defer g.pools.Put(out)
	frame, err := appendRequestFrame(out.B[:0], &req, corr, time.Now().Unix())
	if err != nil {
		return codeName(err)
	}
	out.B = frame
	in := g.pools.Get(wire.FrameBufSize)
	defer g.pools.Put(in)
	resp, _, err := c.tr.Call(ctx, g.target.Addr, g.expect, frame, in.B[:0])
	in.B = resp
	if err != nil {
		return codeName(err)
	}
	var env wire.Envelope
	if err := wire.DecodeEnvelope(resp, &env); err != nil || !env.IsResponse() || env.CorrID != corr {
		return wire.CodeMalformed.String()
	}
	if !env.Code.Valid() {
		return "other"
	}
	return env.Code.String()
}

// runTarget runs the target mode: open-loop RPCs of the mix against one
// daemon over QUIC.
func runTarget(ctx context.Context, o *options, res *perfresult.Result, stderr io.Writer) error {
	g, err := newLoadgen(o)
	if err != nil {
		return err
	}
	defer g.close()
	// Connect every client (the handshakes stay out of the measurement).
	for i := range g.clients {
		pctx, cancel := context.WithTimeout(ctx, o.opTO)
		code := g.call(pctx, kFindNode, uint64(i), i)
		cancel()
		if code != "ok" && code != "quota_exceeded" && code != "busy" {
			return fmt.Errorf("target %s: client %d: first request answered %s", o.target, i, code)
		}
	}
	httpc := &http.Client{Timeout: 10 * time.Second}
	var fs *fillSet
	if o.fill > 0 {
		if fs, err = g.fillTable(ctx, httpc, res); err != nil {
			return err
		}
		defer fs.close()
	}
	var srvCPU0 time.Duration
	if o.srvPID != 0 {
		if srvCPU0, err = procCPU(o.srvPID); err != nil {
			return err
		}
	}
	var mallocs0 float64
	haveAllocs := false
	if o.srvMet != "" {
		if mallocs0, haveAllocs, err = metricSample(ctx, httpc, o.srvMet, "go_memstats_mallocs_total"); err != nil {
			return err
		}
	}
	drops0, dropsErr := 0.0, error(nil)
	if o.srvMet != "" {
		drops0, dropsErr = metricSum(ctx, httpc, o.srvMet, "queue_dropped_total", false)
	}
	selfCPU0, _ := selfUsage()

	rec := newRecorder()
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	start := time.Now()
	if o.progress {
		pwg.Add(1)
		go progress(stderr, rec, start, stop, &pwg)
	}
	elapsed := generate(ctx, o.rps, o.duration, o.inflight, o.mix, o.seed, rec, func(ctx context.Context, j job) {
		r := splitmix(o.seed ^ 0x7a7a ^ j.seq*0x9e3779b97f4a7c15)
		octx, cancel := context.WithTimeout(ctx, o.opTO)
		code := g.call(octx, j.kind, r, int(j.seq%uint64(len(g.clients))))
		cancel()
		rec.record(j.kind, time.Since(j.at), code, -1)
	})
	wall := time.Since(start)
	close(stop)
	pwg.Wait()
	selfCPU1, selfRSS := selfUsage()

	rec.fill(res)
	res.DurationS = elapsed.Seconds()
	answered, total := rec.codeCount("ok", "busy", "quota_exceeded", "not_ready", "not_found", "bad_signature", "stale_record", "malformed", "frame_too_large", "bad_version")
	res.AchievedRPS = perfresult.Ptr(float64(answered) / wall.Seconds())
	refused, _ := rec.codeCount("busy", "quota_exceeded", "not_ready")
	eb := &perfresult.ErrorBudget{}
	if total > 0 {
		eb.R429503Ratio = float64(refused) / float64(total)
	}
	res.Notes = append(res.Notes,
		fmt.Sprintf("an operation is one RPC; %d client identities over QUIC, %d workers (--inflight), %d pre-signed records; latency counts from when the RPC was due; %d skipped with every worker busy",
			len(g.clients), o.inflight, len(g.records), rec.skipped.Load()),
		fmt.Sprintf("achieved_rps counts RPCs answered with any wire code (%d of %d); busy and quota_exceeded are counted separately in codes", answered, total),
		fmt.Sprintf("generator process: %.1f µs CPU per RPC, peak RSS %.1f MiB (not the server's)", float64((selfCPU1-selfCPU0).Microseconds())/float64(max(total, 1)), mib(selfRSS)),
	)
	if o.srvPID != 0 {
		cpu1, err := procCPU(o.srvPID)
		if err != nil {
			return err
		}
		cpu := cpu1 - srvCPU0
		res.CPU = &perfresult.CPU{AvgPct: 100 * cpu.Seconds() / wall.Seconds()}
		if answered > 0 {
			res.CPU.USPerRPC = float64(cpu.Microseconds()) / float64(answered)
		}
		if rss, peak, err := procRSS(o.srvPID); err == nil {
			res.PeakRSSMiB = perfresult.Ptr(mib(peak))
			res.Notes = append(res.Notes, fmt.Sprintf("the server's RSS at the end: %.1f MiB (VmRSS)", mib(rss)))
		}
		res.Notes = append(res.Notes, fmt.Sprintf("cpu and peak_rss are the server's (pid %d, /proc/PID/stat at %d ticks/s, VmHWM)", o.srvPID, clockTicks))
	}
	switch {
	case haveAllocs:
		m1, err := metricSum(ctx, httpc, o.srvMet, "go_memstats_mallocs_total", true)
		if err != nil {
			return err
		}
		if answered > 0 {
			res.AllocsPerRPC = perfresult.Ptr((m1 - mallocs0) / float64(answered))
		}
		res.Notes = append(res.Notes, "allocs_per_rpc: the server's go_memstats_mallocs_total delta (macronode /metrics) per answered RPC")
	case o.srvMet != "":
		res.Notes = append(res.Notes, "allocs_per_rpc not measured: the server's /metrics has no go_memstats_mallocs_total (the micronode build exports no Go runtime metrics; build the daemon with -tags macronode)")
	}
	if o.srvMet != "" {
		if dropsErr == nil {
			if d1, err := metricSum(ctx, httpc, o.srvMet, "queue_dropped_total", false); err == nil && answered > 0 {
				eb.QueueDropRatio = min((d1-drops0)/float64(answered), 1)
			}
		}
	}
	res.ErrorBudget = eb
	if fs != nil {
		note := fmt.Sprintf("the fill peers answered %d probes of the target during the run (its refresh lookups and eviction pings)", fs.answered())
		if o.srvMet != "" {
			if n, err := metricSum(ctx, httpc, o.srvMet, "dht_bucket_occupancy", true); err == nil {
				note += fmt.Sprintf("; its routing table held %.0f peers at the end", n)
			}
		}
		res.Notes = append(res.Notes, note)
	}
	return nil
}

// fillTable runs --fill: the target's NodeID (pinned, or from a PING), the
// fill peers' contacts, and a note of the buckets they went to and, with
// --server-metrics, how many peers the target's table then held.
func (g *loadgen) fillTable(ctx context.Context, httpc *http.Client, res *perfresult.Result) (*fillSet, error) {
	var target kbucket.ID
	if g.expect != nil {
		target = *g.expect
	} else {
		id, err := g.pingID(ctx, g.clients[0].tr)
		if err != nil {
			return nil, fmt.Errorf("fill: the target's NodeID: %w", err)
		}
		target = id
	}
	start := time.Now()
	fs, err := g.fill(ctx, target)
	if err != nil {
		return nil, err
	}
	deepest := 0
	for b := range fs.buckets {
		deepest = max(deepest, b)
	}
	conns := "each then closed its connection and listened again on the same address"
	if g.o.fillConns {
		conns = "each kept its connection open (--fill-conns)"
	}
	note := fmt.Sprintf("--fill: %d identities (of %d generated) over the target's buckets 0-%d, at most %d each, contacted it in %.1fs before the measurement (%s) and answered its probes throughout",
		len(fs.peers), fs.tries, deepest, g.o.k, time.Since(start).Seconds(), conns)
	if g.o.srvMet != "" {
		// The target publishes its table's metrics periodically (every
		// second): wait for them to show the fill, within bounds.
		// An empty table has no dht_bucket_occupancy samples yet: 0.
		var n float64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 50; i++ {
			if n, _, err = metricSample(ctx, httpc, g.o.srvMet, "dht_bucket_occupancy"); err != nil || n >= float64(len(fs.peers)) {
				break
			}
			select {
			case <-ctx.Done():
				fs.close()
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
		if err == nil {
			note += fmt.Sprintf("; the target's routing table then held %.0f peers (dht_bucket_occupancy)", n)
		} else {
			note += fmt.Sprintf("; table size unknown: %v", err)
		}
	}
	res.Notes = append(res.Notes, note)
	return fs, nil
}
