package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/svc-dht/svc-dht/node/ops"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitBound is the failure bound of every wait: a test that reaches it has
// failed; it never paces a test.
const waitBound = 60 * time.Second

// testBuild is the version information the in-process runs are given.
var testBuild = ops.Build{Version: "v0.0.0-test", Git: "0123abcd", BuildTS: "2026-01-02T03:04:05Z"}

// localArgs are the flags of a node on loopback with ephemeral ports and
// no seeds (the first node of its network).
var localArgs = []string{
	"--listen_addr=127.0.0.1:0", "--ops_addr=127.0.0.1:0",
	"--bootstrap.use_default_seeds=false", "--bootstrap.required=0",
}

// lines is an io.Writer that keeps the lines written to it and lets a test
// wait for one.
type lines struct {
	mu      sync.Mutex
	part    []byte
	all     []string
	changed chan struct{} // closed and replaced at every write
}

func newLines() *lines { return &lines{changed: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return len(p), nil
}

// String returns everything written.
func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n") + "\n" + string(l.part)
}

// wait returns the first line that matches, waiting for it to be written.
func (l *lines) wait(t *testing.T, what string, match func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(waitBound)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, s := range l.all {
			if match(s) {
				l.mu.Unlock()
				return s
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, l.String())
		}
	}
}

// event matches a JSON log line of the given event.
func event(name string) func(string) bool {
	return func(s string) bool {
		var m struct {
			Event string `json:"event"`
		}
		return json.Unmarshal([]byte(s), &m) == nil && m.Event == name
	}
}

// contains matches a line containing sub.
func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

// fields decodes a JSON log line.
func fields(t *testing.T, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	return m
}

// strs converts a decoded JSON array of strings.
func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// proc is one in-process run of the command.
type proc struct {
	inv    invocation
	stdout *lines
	stderr *lines
	sigs   chan os.Signal
	code   chan int
}

// runSync runs the command to its end and returns the exit code, stdout
// and stderr.
func runSync(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	stdout, stderr := new(bytes.Buffer), new(bytes.Buffer)
	code := run(context.Background(), invocation{
		args: args, environ: env, stdout: stdout, stderr: stderr, build: testBuild,
	})
	return code, stdout.String(), stderr.String()
}

// start runs the command in the background; inv may preset fields (args
// are appended to inv.args).
func start(t *testing.T, inv invocation, args ...string) *proc {
	t.Helper()
	p := &proc{stdout: newLines(), stderr: newLines(), sigs: make(chan os.Signal, 4), code: make(chan int, 1)}
	inv.args = append(inv.args, args...)
	inv.stdout, inv.stderr, inv.signals = p.stdout, p.stderr, p.sigs
	if inv.build == (ops.Build{}) {
		inv.build = testBuild
	}
	p.inv = inv
	go func() { p.code <- run(context.Background(), inv) }()
	return p
}

// exit waits for the run's exit code.
func (p *proc) exit(t *testing.T) int {
	t.Helper()
	select {
	case c := <-p.code:
		return c
	case <-time.After(waitBound):
		t.Fatalf("run did not return; stderr:\n%s\nstdout:\n%s", p.stderr, p.stdout)
		return -1
	}
}

// stop sends SIGTERM and waits for the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	p.sigs <- syscall.SIGTERM
	return p.exit(t)
}

// opsAddr waits for the ops_listening log line and returns its address.
func (p *proc) opsAddr(t *testing.T) string {
	t.Helper()
	line := p.stderr.wait(t, "ops_listening", event("ops_listening"))
	addr, _ := fields(t, line)["addr"].(string)
	if addr == "" {
		t.Fatalf("ops_listening without addr: %s", line)
	}
	return addr
}

// httpGet fetches url with a client whose connections are closed after.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: waitBound}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}
