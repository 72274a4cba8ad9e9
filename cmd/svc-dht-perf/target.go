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
		var ent [32]byte
		binary.LittleEndian.PutUint64(ent[:], o.seed)
		binary.LittleEndian.PutUint64(ent[8:], uint64(i)|1<<40)
		id, err := identity.Generate(rand.NewChaCha8(ent), false)
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
	now := time.Now().Unix()
	rng := rand.New(rand.NewPCG(o.seed, 0x7ec0))
	g.records = make([]wire.ProviderRecord, o.records)
	for i := range g.records {
		c := g.clients[i%len(g.clients)]
		var key kbucket.ID
		for j := 0; j < len(key); j += 8 {
			binary.BigEndian.PutUint64(key[j:], rng.Uint64())
		}
		rec := &g.records[i]
		*rec = wire.ProviderRecord{ProtoVer: wire.ProtoVersion, Key: key, TS: now, TTL: uint32(recordTTL / time.Second),
			Addrs: []string{fmt.Sprintf("quic://192.0.2.%d:4433", 1+i%len(g.clients)%250)}}
		if err := identity.Sign(rec, c.id, false); err != nil {
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
	var srvCPU0 time.Duration
	if o.srvPID != 0 {
		if srvCPU0, err = procCPU(o.srvPID); err != nil {
			return err
		}
	}
	var mallocs0 float64
	if o.srvMet != "" {
		if mallocs0, err = metricSum(ctx, httpc, o.srvMet, "go_memstats_mallocs_total", true); err != nil {
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
		if _, peak, err := procRSS(o.srvPID); err == nil {
			res.PeakRSSMiB = perfresult.Ptr(mib(peak))
		}
		res.Notes = append(res.Notes, fmt.Sprintf("cpu and peak_rss are the server's (pid %d, /proc/PID/stat at %d ticks/s, VmHWM)", o.srvPID, clockTicks))
	}
	if o.srvMet != "" {
		m1, err := metricSum(ctx, httpc, o.srvMet, "go_memstats_mallocs_total", true)
		if err != nil {
			return err
		}
		if answered > 0 {
			res.AllocsPerRPC = perfresult.Ptr((m1 - mallocs0) / float64(answered))
		}
		res.Notes = append(res.Notes, "allocs_per_rpc: the server's go_memstats_mallocs_total delta (macronode /metrics) per answered RPC")
		if dropsErr == nil {
			if d1, err := metricSum(ctx, httpc, o.srvMet, "queue_dropped_total", false); err == nil && answered > 0 {
				eb.QueueDropRatio = min((d1-drops0)/float64(answered), 1)
			}
		}
	}
	res.ErrorBudget = eb
	return nil
}
