package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/wire"
)

// Backend is what the API needs from the node runtime. Every method gets
// the request's context: it ends when the client goes away or the request's
// time budget is spent, and the method should then stop and return
// ctx.Err() (or an error wrapping it). Errors should be of the closed set
// (wire.Error); see the package documentation for how they are answered.
type Backend interface {
	// Provide signs a provider record for p (dual-signing per the node's
	// pq configuration) and runs PROVIDE.
	Provide(ctx context.Context, p ProvideParams) (ProvideResult, error)
	// FindProviders looks up the providers of key.
	FindProviders(ctx context.Context, key kbucket.ID) (ProvidersResult, error)
	// FindClosest looks up the nodes closest to target.
	FindClosest(ctx context.Context, target kbucket.ID) (ClosestResult, error)
	// Ping pings a peer; the zero PeerRef asks the local node to answer
	// for itself (Self: true).
	Ping(ctx context.Context, peer PeerRef) (PingResult, error)
	// Peers returns the routing table.
	Peers(ctx context.Context) (PeersResult, error)
	// Stats returns the node's counters and sizes.
	Stats(ctx context.Context) (StatsResult, error)
}

// Defaults of Options.
const (
	DefaultMaxBody    = 64 << 10
	DefaultMaxTimeout = time.Minute
)

// TimeoutHeader is the request header with which a client bounds the time
// the node spends on its request (a Go duration such as "10s").
const TimeoutHeader = "Svc-Dht-Timeout"

// Options configures Handler. The zero value uses the defaults.
type Options struct {
	// MaxBody caps a request body in bytes (DefaultMaxBody if <= 0); a
	// larger body is answered 413 with code 1413.
	MaxBody int64
	// MaxTimeout bounds the time spent on one request (DefaultMaxTimeout
	// if <= 0); TimeoutHeader may ask for less.
	MaxTimeout time.Duration
}

// handler serves the API over a Backend.
type handler struct {
	b          Backend
	maxBody    int64
	maxTimeout time.Duration
	mux        *http.ServeMux
}

// Handler returns the API's http.Handler. It serves the full paths /v1/...:
// mount it on the ops server with the pattern "/v1/", without stripping the
// prefix. Any other path under it is answered 404 with code 1404.
func Handler(b Backend, opts Options) http.Handler {
	h := &handler{b: b, maxBody: opts.MaxBody, maxTimeout: opts.MaxTimeout, mux: http.NewServeMux()}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.maxTimeout <= 0 {
		h.maxTimeout = DefaultMaxTimeout
	}
	// Patterns without methods: the method is checked by route, so that a
	// wrong one gets a JSON error rather than the mux's plain-text 405.
	h.mux.Handle("/v1/provide", h.route(http.MethodPost, h.provide))
	h.mux.Handle("/v1/providers/{key}", h.route(http.MethodGet, h.providers))
	h.mux.Handle("/v1/closest/{id}", h.route(http.MethodGet, h.closest))
	h.mux.Handle("/v1/ping", h.route(http.MethodPost, h.ping))
	h.mux.Handle("/v1/peers", h.route(http.MethodGet, h.peers))
	h.mux.Handle("/v1/stats", h.route(http.MethodGet, h.stats))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, errInfo(wire.CodeNotFound, "no such endpoint: "+r.URL.Path))
	})
	return h.mux
}

// endpoint serves one request and returns its result or error.
type endpoint func(ctx context.Context, r *http.Request) (any, error)

// route checks the method, sets up the time budget and writes the answer.
func (h *handler) route(method string, ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed,
				errInfo(wire.CodeMalformed, "method "+r.Method+" not allowed on "+r.URL.Path+"; use "+method))
			return
		}
		budget := h.maxTimeout
		if v := r.Header.Get(TimeoutHeader); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				writeError(w, http.StatusBadRequest,
					errInfo(wire.CodeMalformed, fmt.Sprintf("header %s: %q is not a positive duration", TimeoutHeader, v)))
				return
			}
			budget = min(budget, d)
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
		}
		ctx, cancel := context.WithTimeout(r.Context(), budget)
		defer cancel()
		res, err := ep(ctx, r)
		var mte *mediaTypeError
		switch {
		case errors.As(err, &mte):
			writeError(w, http.StatusUnsupportedMediaType, errInfo(wire.CodeMalformed, mte.Error()))
			return
		case err != nil:
			status, info := Classify(err)
			writeError(w, status, info)
			return
		}
		writeJSON(w, http.StatusOK, res)
	})
}

// badRequest is a 1422 error with the given reason.
func badRequest(format string, args ...any) error {
	return wire.NewError(wire.CodeMalformed, fmt.Sprintf(format, args...))
}

func (h *handler) provide(ctx context.Context, r *http.Request) (any, error) {
	var req ProvideRequest
	if err := h.decode(r, &req); err != nil {
		return nil, err
	}
	var p ProvideParams
	switch {
	case req.Key != "" && req.Data != "":
		return nil, badRequest("give key or data, not both")
	case req.Key != "":
		k, err := kbucket.ParseID(req.Key)
		if err != nil {
			return nil, badRequest("key: %v", err)
		}
		p.Key = k
	case req.Data != "":
		p.Key = identity.KeyFromBytes([]byte(req.Data))
	default:
		return nil, badRequest("key or data is required")
	}
	if len(req.Addrs) > MaxAddrs {
		return nil, badRequest("%d addrs: at most %d", len(req.Addrs), MaxAddrs)
	}
	if len(req.Addrs) > 0 {
		p.Addrs = make([]string, len(req.Addrs))
		for i, a := range req.Addrs {
			c, err := ParseAddr(a)
			if err != nil {
				return nil, badRequest("%v", err)
			}
			p.Addrs[i] = c
		}
	}
	if req.TTL != "" {
		d, err := ParseTTL(req.TTL)
		if err != nil {
			return nil, badRequest("%v", err)
		}
		p.TTL = d
	}
	res, err := h.b.Provide(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("provide %v: %w", ID(p.Key), err)
	}
	return res, nil
}

func (h *handler) providers(ctx context.Context, r *http.Request) (any, error) {
	key, err := kbucket.ParseID(r.PathValue("key"))
	if err != nil {
		return nil, badRequest("key: %v", err)
	}
	res, err := h.b.FindProviders(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("find providers of %v: %w", ID(key), err)
	}
	if res.Providers == nil {
		res.Providers = []Provider{}
	}
	for i := range res.Providers {
		p := &res.Providers[i]
		if p.Addrs == nil {
			p.Addrs = []string{}
		}
		if p.Algs == nil {
			p.Algs = []string{}
		}
	}
	return res, nil
}

func (h *handler) closest(ctx context.Context, r *http.Request) (any, error) {
	target, err := kbucket.ParseID(r.PathValue("id"))
	if err != nil {
		return nil, badRequest("id: %v", err)
	}
	res, err := h.b.FindClosest(ctx, target)
	if err != nil {
		return nil, fmt.Errorf("find closest to %v: %w", ID(target), err)
	}
	res.Peers = nonNilPeers(res.Peers)
	return res, nil
}

func (h *handler) ping(ctx context.Context, r *http.Request) (any, error) {
	var req PingRequest
	if err := h.decode(r, &req); err != nil {
		return nil, err
	}
	peer, err := ParsePeer(req.Peer)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	res, err := h.b.Ping(ctx, peer)
	if err != nil {
		if peer.IsZero() {
			return nil, fmt.Errorf("ping self: %w", err)
		}
		return nil, fmt.Errorf("ping %v: %w", peer, err)
	}
	return res, nil
}

func (h *handler) peers(ctx context.Context, _ *http.Request) (any, error) {
	res, err := h.b.Peers(ctx)
	if err != nil {
		return nil, fmt.Errorf("peers: %w", err)
	}
	if res.Buckets == nil {
		res.Buckets = []Bucket{}
	}
	for i := range res.Buckets {
		res.Buckets[i].Peers = nonNilPeers(res.Buckets[i].Peers)
	}
	return res, nil
}

func (h *handler) stats(ctx context.Context, _ *http.Request) (any, error) {
	res, err := h.b.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if res.Counters == nil {
		res.Counters = map[string]uint64{}
	}
	return res, nil
}

// nonNilPeers makes every list in ps encode as [] rather than null.
func nonNilPeers(ps []PeerInfo) []PeerInfo {
	if ps == nil {
		return []PeerInfo{}
	}
	for i := range ps {
		if ps[i].Addrs == nil {
			ps[i].Addrs = []string{}
		}
	}
	return ps
}

// decode reads r's body into v strictly: application/json, exactly one JSON
// value with no unknown fields (route caps the body at maxBody bytes).
func (h *handler) decode(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &mediaTypeError{ct: ct}
	}
	dec := json.NewDecoder(r.Body) // capped by route
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return bodyError(err)
		}
		return badRequest("body: more than one JSON value")
	}
	return nil
}

// bodyError turns a JSON decoding error into an error of the closed set.
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return wire.NewError(wire.CodeFrameTooLarge, fmt.Sprintf("body over the %d-byte limit", mbe.Limit))
	case errors.Is(err, io.EOF):
		return badRequest("body: empty, want a JSON object")
	}
	return badRequest("body: %v", err)
}

// mediaTypeError is a POST body that is not application/json (415, 1422).
type mediaTypeError struct{ ct string }

func (e *mediaTypeError) Error() string {
	return fmt.Sprintf("content type %q: want application/json", e.ct)
}

// errInfo describes an error raised by the API layer itself.
func errInfo(c wire.Code, reason string) ErrorInfo {
	return ErrorInfo{Code: c, Name: CodeName(c), Reason: reason}
}

// writeError writes the JSON error body.
func writeError(w http.ResponseWriter, status int, info ErrorInfo) {
	writeJSON(w, status, ErrorBody{Error: info})
}

// writeJSON writes v as the JSON answer with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		// Only a Backend result that cannot be encoded gets here (a NaN
		// float, say): report it instead of a truncated body.
		var info ErrorInfo
		status, info = Classify(fmt.Errorf("encode answer: %w", err))
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(ErrorBody{Error: info})
	}
	writeHeader(w, status)
	_, _ = w.Write(buf.Bytes())
}

func writeHeader(w http.ResponseWriter, status int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
}
