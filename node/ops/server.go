package ops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options.
const (
	DefaultAddr            = "127.0.0.1:9108"
	DefaultMaxBodyBytes    = 64 << 10
	DefaultDrainRetryAfter = 5 * time.Second
)

// ErrBind is wrapped by Start's error when the listener cannot be bound
// (package main exits with code 3 on it).
var ErrBind = errors.New("ops: bind failed")

// ReadyStatus is the runtime's readiness (SPEC §8).
type ReadyStatus struct {
	// Ready is true when bootstrap.required seeds answered and the bucket
	// fill threshold holds.
	Ready bool
	// FirstNode is true for a node without seeds: the first node of its
	// network, ready on its own.
	FirstNode bool
	// Degraded names the state when not ready, for example "bootstrapping".
	Degraded string
	// Missing lists, when not ready, what is still missing, for example
	// "seeds: 0 of 1 required answered" or "buckets: 20% filled, 50% required".
	Missing []string
	// RetryAfter is when to ask again, when not ready; rounded up to whole
	// seconds, at least 1.
	RetryAfter time.Duration
}

// Readiness is implemented by the runtime. Ready is called for every
// /readyz request, from HTTP goroutines: it must be cheap and safe for
// concurrent use.
type Readiness interface {
	Ready() ReadyStatus
}

// MetricsWriter renders the metrics page; *metrics.Metrics implements it.
type MetricsWriter interface {
	WritePrometheus(w io.Writer) error
}

// Options configures a Server.
type Options struct {
	// Addr is the listen address (ops_addr); empty means DefaultAddr.
	Addr string
	// Metrics renders /metrics; nil answers 503 there.
	Metrics MetricsWriter
	// Readiness answers /readyz; it can also be set later with
	// SetReadiness. Until then /readyz answers 503 "starting".
	Readiness Readiness
	// Version is the body of /version (see NewVersionInfo).
	Version VersionInfo
	// Logger receives the server's warnings and errors; nil discards them.
	Logger *slog.Logger
	// MaxBodyBytes caps every request body (413 beyond it); 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// DrainRetryAfter is the retry_after of /readyz while draining; 0 means
	// DefaultDrainRetryAfter (the drain deadline).
	DrainRetryAfter time.Duration
}

// Server is the ops HTTP server. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	handler  http.Handler
	version  []byte
	scrapes  coalescer
	ready    atomic.Pointer[readinessBox]
	draining atomic.Bool

	mu    sync.Mutex
	srv   *http.Server
	ln    net.Listener
	done  chan struct{} // closed when Serve returned
	serr  error         // Serve's error
	state int           // 0 new, 1 started, 2 shut down
}

type readinessBox struct{ r Readiness }

// New returns a server for o; Start binds it. It fails on an invalid
// address or option.
func New(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("ops: address %q: %w", o.Addr, err)
	}
	if o.MaxBodyBytes < 0 || o.DrainRetryAfter < 0 {
		return nil, fmt.Errorf("ops: negative MaxBodyBytes (%d) or DrainRetryAfter (%v)", o.MaxBodyBytes, o.DrainRetryAfter)
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.DrainRetryAfter == 0 {
		o.DrainRetryAfter = DefaultDrainRetryAfter
	}
	if o.Version.Service == "" {
		o.Version = NewVersionInfo(Build{})
	}
	version, err := json.Marshal(o.Version)
	if err != nil {
		return nil, fmt.Errorf("ops: version: %w", err)
	}
	s := &Server{opts: o, log: o.Logger, mux: http.NewServeMux(), version: append(version, '\n')}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.scrapes.w = o.Metrics
	if o.Readiness != nil {
		s.SetReadiness(o.Readiness)
	}
	s.mux.HandleFunc("GET /metrics", s.serveMetrics)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.HandleFunc("GET /version", s.serveVersion)
	mountPprof(s.mux)
	s.handler = LimitBody(s.mux, o.MaxBodyBytes)
	return s, nil
}

// Handler returns the server's handler (every endpoint and mount, behind
// the body cap), for tests and embedding.
func (s *Server) Handler() http.Handler { return s.handler }

// Mount serves h under pattern (a Go 1.22 ServeMux pattern such as
// "POST /v1/provide" or "/v1/"), behind the same body cap. It fails on an
// invalid pattern or one that conflicts with an existing route. It may be
// called before or after Start.
func (s *Server) Mount(pattern string, h http.Handler) (err error) {
	if h == nil {
		return fmt.Errorf("ops: mount %q: nil handler", pattern)
	}
	defer func() {
		// ServeMux reports bad and conflicting patterns by panicking.
		if p := recover(); p != nil {
			err = fmt.Errorf("ops: mount %q: %v", pattern, p)
		}
	}()
	s.mux.Handle(pattern, h)
	return nil
}

// SetReadiness sets the source of /readyz.
func (s *Server) SetReadiness(r Readiness) {
	if r == nil {
		s.ready.Store(nil)
		return
	}
	s.ready.Store(&readinessBox{r})
}

// SetDraining makes /readyz answer 503 "draining" from now on, whatever
// the runtime's readiness: call it first when shutdown starts.
func (s *Server) SetDraining() { s.draining.Store(true) }

// Start binds the listener and serves in the background. A bind failure
// wraps ErrBind. Binding to an address that is not loopback logs a
// warning.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != 0 {
		return errors.New("ops: Start called twice or after Shutdown")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrBind, s.opts.Addr, err)
	}
	if a, ok := ln.Addr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		s.log.Warn("ops_not_loopback", slog.String("addr", ln.Addr().String()),
			slog.String("reason", "the ops plane and local API have no authentication and are reachable from other hosts"))
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      65 * time.Second, // above pprof's default 30 s profile
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	s.state = 1
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.mu.Lock()
		s.serr = err
		s.mu.Unlock()
		close(s.done)
	}()
	return nil
}

// Addr returns the bound address, or nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops accepting connections and waits, up to ctx's end, for the
// requests in progress; then it closes what is left. It returns ctx's
// error if requests were cut off, or the serve loop's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.state != 1 {
		s.state = 2
		s.mu.Unlock()
		return nil
	}
	s.state = 2
	srv, done := s.srv, s.done
	s.mu.Unlock()
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-done
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("ops: shutdown: %w", err)
	}
	if s.serr != nil {
		return fmt.Errorf("ops: serve: %w", s.serr)
	}
	return nil
}

// LimitBody caps the request body of h at n bytes: a request that declares
// a longer body is answered 413 at once, and reading past n from one that
// does not fails (http.MaxBytesReader).
func LimitBody(h http.Handler, n int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{Service: Service,
				Error: "request body of " + strconv.FormatInt(r.ContentLength, 10) + " bytes exceeds the " + strconv.FormatInt(n, 10) + "-byte limit"})
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, n)
		}
		h.ServeHTTP(w, r)
	})
}

type errorBody struct {
	Service string `json:"service"`
	Error   string `json:"error"`
}

type healthBody struct {
	Service string `json:"service"`
	Status  string `json:"status"`
}

type readyBody struct {
	Service   string `json:"service"`
	Ready     bool   `json:"ready"`
	FirstNode bool   `json:"first_node,omitempty"`
}

type notReadyBody struct {
	Service    string   `json:"service"`
	Ready      bool     `json:"ready"`
	FirstNode  bool     `json:"first_node,omitempty"`
	Degraded   string   `json:"degraded"`
	Missing    []string `json:"missing"`
	RetryAfter int64    `json:"retry_after"`
}

// writeJSON writes v as the JSON body with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"service":"svc-dht","error":"encoding response"}`, http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, healthBody{Service: Service, Status: "ok"})
}

func (s *Server) serveVersion(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.Write(s.version)
}

// readiness returns the current status, draining and "starting" included.
func (s *Server) readiness() ReadyStatus {
	if s.draining.Load() {
		return ReadyStatus{Degraded: "draining", Missing: []string{"shutting down: not accepting new work"}, RetryAfter: s.opts.DrainRetryAfter}
	}
	box := s.ready.Load()
	if box == nil {
		return ReadyStatus{Degraded: "starting", Missing: []string{"runtime not started"}, RetryAfter: time.Second}
	}
	st := box.r.Ready()
	if !st.Ready && st.Degraded == "" {
		st.Degraded = "not_ready"
	}
	return st
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	st := s.readiness()
	if st.Ready {
		writeJSON(w, http.StatusOK, readyBody{Service: Service, Ready: true, FirstNode: st.FirstNode})
		return
	}
	secs := max(int64((st.RetryAfter+time.Second-1)/time.Second), 1)
	missing := st.Missing
	if missing == nil {
		missing = []string{}
	}
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeJSON(w, http.StatusServiceUnavailable, notReadyBody{Service: Service, FirstNode: st.FirstNode,
		Degraded: st.Degraded, Missing: missing, RetryAfter: secs})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.scrapes.w == nil {
		writeJSON(w, http.StatusServiceUnavailable, errorBody{Service: Service, Error: "metrics not available"})
		return
	}
	page, err := s.scrapes.render(r.Context())
	if err != nil {
		s.log.Warn("metrics_render_failed", slog.String("reason", err.Error()))
		writeJSON(w, http.StatusInternalServerError, errorBody{Service: Service, Error: "rendering metrics failed"})
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(page)))
	w.Write(page)
}

// coalescer shares one metrics rendering among the scrapes that arrive
// while it is in progress, so that a burst of concurrent scrapes costs one
// rendering, not one each.
type coalescer struct {
	w      MetricsWriter
	mu     sync.Mutex
	cur    *rendering
	onJoin func() // test hook: a request joined a rendering in progress
}

type rendering struct {
	done chan struct{}
	page []byte
	err  error
}

func (c *coalescer) render(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	if r := c.cur; r != nil {
		c.mu.Unlock()
		if c.onJoin != nil {
			c.onJoin()
		}
		select {
		case <-r.done:
			return r.page, r.err
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for metrics: %w", ctx.Err())
		}
	}
	r := &rendering{done: make(chan struct{}), err: errAborted}
	c.cur = r
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.cur = nil
		c.mu.Unlock()
		close(r.done)
	}()
	var buf pageBuffer
	if err := c.w.WritePrometheus(&buf); err != nil {
		r.err = fmt.Errorf("render metrics: %w", err)
		return nil, r.err
	}
	r.page, r.err = buf, nil
	return r.page, nil
}

// errAborted is what waiters get when the rendering they joined panicked.
var errAborted = errors.New("metrics rendering aborted")

// pageBuffer collects a rendering.
type pageBuffer []byte

func (p *pageBuffer) Write(b []byte) (int, error) { *p = append(*p, b...); return len(b), nil }
