package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/svc-dht/svc-dht/scripts/perf/peers/internal/procstat"
)

// Stats is the server's answer to GET /stats.
type Stats struct {
	Impl      string `json:"impl"`
	Version   string `json:"version"`
	Addr      string `json:"addr"`   // full dial address (libp2p multiaddr with /p2p/ID, or ip:port)
	CPUNanos  int64  `json:"cpu_ns"` // process user+system CPU time
	Mallocs   uint64 `json:"mallocs"`
	HeapInuse uint64 `json:"heap_inuse"`
	PeakRSS   uint64 `json:"peak_rss"`
	Served    uint64 `json:"served"` // FIND_NODE requests handled so far
	RTSize    int    `json:"rt_size"`
}

// Source supplies the server-specific part of Stats.
type Source interface {
	Info() (impl, version, addr string)
	Served() uint64
	RTSize() int
}

// Serve answers GET /stats on ln until ctx ends. It returns when the server stops.
func Serve(ctx context.Context, ln net.Listener, src Source) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		st, err := Snapshot(src)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control server: %w", err)
	}
	return nil
}

// Snapshot reads the process counters and src into a Stats.
func Snapshot(src Source) (Stats, error) {
	served := src.Served()
	p, err := procstat.Read()
	if err != nil {
		return Stats{}, err
	}
	impl, ver, addr := src.Info()
	return Stats{Impl: impl, Version: ver, Addr: addr, CPUNanos: int64(p.CPU), Mallocs: p.Mallocs,
		HeapInuse: p.HeapInuse, PeakRSS: p.PeakRSS, Served: served, RTSize: src.RTSize()}, nil
}

// Fetch asks the control server at ap for its Stats.
func Fetch(ctx context.Context, ap netip.AddrPort) (Stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ap.String()+"/stats", nil)
	if err != nil {
		return Stats{}, fmt.Errorf("control request: %w", err)
	}
	// A private client: no proxy from the environment, loopback only.
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return Stats{}, fmt.Errorf("control fetch %s: %w", ap, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Stats{}, fmt.Errorf("control fetch %s: status %s", ap, resp.Status)
	}
	var st Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return Stats{}, fmt.Errorf("control decode: %w", err)
	}
	return st, nil
}
