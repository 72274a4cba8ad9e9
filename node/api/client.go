package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/svc-dht/svc-dht/kbucket"
)

// DefaultOpsAddr is the ops listener's default address (SPEC §9).
const DefaultOpsAddr = "127.0.0.1:9108"

// clientGrace is how much longer than its time budget the client waits for
// the node's answer, so that a slow operation ends with the node's 1508
// rather than a client-side timeout.
const clientGrace = 2 * time.Second

// maxAnswer caps the size of an answer the client reads.
const maxAnswer = 16 << 20

// Client is a Go client of the local API. Its methods return the typed
// results of the API; a failure the node answered is an *APIError, and a
// node that cannot be reached gives an error matching ErrUnreachable.
// A Client is safe for concurrent use.
type Client struct {
	base    string // scheme://host:port, no trailing slash
	timeout time.Duration
	hc      *http.Client
}

// NewClient returns a client of the API at addr: "host:port" (http is
// assumed) or an http:// or https:// URL. timeout bounds each call (and is
// sent to the node as its time budget); 0 means no bound beyond the
// caller's context.
func NewClient(addr string, timeout time.Duration) (*Client, error) {
	if timeout < 0 {
		return nil, fmt.Errorf("api client: negative timeout %v", timeout)
	}
	raw := addr
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("api client: address %q: %w", addr, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("api client: address %q: scheme %q, want http or https", addr, u.Scheme)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("api client: address %q: want host:port or scheme://host:port", addr)
	}
	c := &Client{base: u.Scheme + "://" + u.Host, timeout: timeout, hc: &http.Client{}}
	if timeout > 0 {
		c.hc.Timeout = timeout + clientGrace
	}
	return c, nil
}

// BaseURL returns the URL the client talks to.
func (c *Client) BaseURL() string { return c.base }

// Provide asks the node to sign and announce a provider record.
func (c *Client) Provide(ctx context.Context, req ProvideRequest) (ProvideResult, error) {
	var res ProvideResult
	err := c.call(ctx, http.MethodPost, "/v1/provide", req, &res)
	return res, err
}

// FindProviders looks up the providers of key.
func (c *Client) FindProviders(ctx context.Context, key kbucket.ID) (ProvidersResult, error) {
	var res ProvidersResult
	err := c.call(ctx, http.MethodGet, "/v1/providers/"+ID(key).String(), nil, &res)
	return res, err
}

// FindClosest looks up the nodes closest to target.
func (c *Client) FindClosest(ctx context.Context, target kbucket.ID) (ClosestResult, error) {
	var res ClosestResult
	err := c.call(ctx, http.MethodGet, "/v1/closest/"+ID(target).String(), nil, &res)
	return res, err
}

// Ping pings peer (see ParsePeer); the empty string pings the local node.
func (c *Client) Ping(ctx context.Context, peer string) (PingResult, error) {
	var res PingResult
	err := c.call(ctx, http.MethodPost, "/v1/ping", PingRequest{Peer: peer}, &res)
	return res, err
}

// Peers returns the node's routing table.
func (c *Client) Peers(ctx context.Context) (PeersResult, error) {
	var res PeersResult
	err := c.call(ctx, http.MethodGet, "/v1/peers", nil, &res)
	return res, err
}

// Stats returns the node's counters and sizes.
func (c *Client) Stats(ctx context.Context) (StatsResult, error) {
	var res StatsResult
	err := c.call(ctx, http.MethodGet, "/v1/stats", nil, &res)
	return res, err
}

// call sends one request (in, if not nil, as the JSON body) and decodes the
// answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	what := method + " " + path
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("api %s: encode request: %w", what, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("api %s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.timeout > 0 {
		req.Header.Set(TimeoutHeader, c.timeout.String())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("api %s: %w", what, ctxErr)
		}
		return fmt.Errorf("api %s: %w: %w", what, ErrUnreachable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("api %s: read answer: %w", what, ctxErr)
		}
		return fmt.Errorf("api %s: read answer: %w: %w", what, ErrUnreachable, err)
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("api %s: answer over %d bytes", what, maxAnswer)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("api %s: %w", what, decodeError(resp.StatusCode, data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("api %s: decode answer: %w", what, err)
	}
	return nil
}

// decodeError turns a failed answer into an *APIError; an answer without
// the JSON error body (not from the node, say) keeps its status and text.
func decodeError(status int, data []byte) *APIError {
	var eb ErrorBody
	if err := json.Unmarshal(data, &eb); err != nil || eb.Error.Code == 0 {
		text := strings.TrimSpace(string(data))
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		if text == "" {
			text = http.StatusText(status)
		}
		return newAPIError(status, ErrorInfo{Reason: text})
	}
	return newAPIError(status, eb.Error)
}
