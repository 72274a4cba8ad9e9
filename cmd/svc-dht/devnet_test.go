package main

import (
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

func TestDevnetFindsTheKeyFromEveryNodeAndStopsOnSIGINT(t *testing.T) {
	p := start(t, invocation{}, "devnet", "--nodes=4", "--ops=127.0.0.1:0", "--seed=7")
	last := p.stdout.wait(t, "the devnet summary", contains("Ctrl-C to stop"))
	out := p.stdout.String()
	for _, want := range []string{
		"starting 4 nodes",
		"ready: 4/4 nodes",
		`(BLAKE3 of "svc-dht devnet") from node 3: 3 replicas`,
		"find: 3/3 nodes found the provider; hops p50",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("devnet output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n  node "); n != 4 {
		t.Errorf("devnet lists %d nodes, want 4:\n%s", n, out)
	}
	if strings.Count(out, "ops http://") != 1 {
		t.Errorf("want exactly one node (node 0) with an ops plane:\n%s", out)
	}
	m := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+) `).FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("no ops address in %q", last)
	}
	if status, body := httpGet(t, "http://"+m[1]+"/readyz"); status != http.StatusOK {
		t.Errorf("node 0 /readyz: %d %s", status, body)
	}
	if status, body := httpGet(t, "http://"+m[1]+"/v1/stats"); status != http.StatusOK || !strings.Contains(string(body), `"ready":true`) {
		t.Errorf("node 0 /v1/stats: %d %s", status, body)
	}

	// SIGHUP is ignored; SIGINT stops every node and exits 0.
	p.sigs <- syscall.SIGHUP
	p.sigs <- syscall.SIGINT
	if code := p.exit(t); code != exitOK {
		t.Fatalf("devnet exit %d after SIGINT, want 0; stderr:\n%s", code, p.stderr)
	}
	if !strings.Contains(p.stdout.String(), "interrupt: stopping 4 nodes") {
		t.Errorf("devnet did not say it stops:\n%s", p.stdout)
	}
}
