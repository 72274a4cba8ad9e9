package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

// fakeDaemonEnv makes the test binary, started by the cold-start mode,
// play a daemon instead of running the tests. Its value is the behaviour:
// "dial" sends a QUIC v1 Initial-like datagram to its seed after logging a
// first_dial event, "garbage" sends a datagram that is not a QUIC Initial,
// "exit" exits with code 3 at once. (Not SVC_DHT_*: the harness keeps
// those from the daemon.)
const fakeDaemonEnv = "SVCDHTPERF_FAKE_DAEMON"

// fakeFirstDialMS is the first_dial_ms the fake daemon logs.
const fakeFirstDialMS = 1.5

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeDaemonEnv); mode != "" {
		os.Exit(fakeDaemon(mode, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeDaemon is the fake daemon's main. It checks the arguments the
// harness passes (exit 2 on a surprise), dials its seed as mode says and
// then waits to be killed.
func fakeDaemon(mode string, args []string) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Println(`{"service":"fake-daemon"}`)
		return 0
	}
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "fake daemon: exiting as told")
		return 3
	}
	seed := ""
	for i, a := range args {
		if a == "--bootstrap.seeds" && i+1 < len(args) {
			seed = strings.TrimPrefix(args[i+1], "quic://")
		}
	}
	for _, want := range []string{"--amnesia.enabled=true", "--bootstrap.use_default_seeds=false", "--extra=1"} {
		if !slices.Contains(args, want) {
			fmt.Fprintf(os.Stderr, "fake daemon: argument %s missing from %q\n", want, args)
			return 2
		}
	}
	if args[len(args)-1] != "--extra=1" || seed == "" {
		fmt.Fprintf(os.Stderr, "fake daemon: want the seed and the extra arguments last, got %q\n", args)
		return 2
	}
	c, err := net.Dial("udp", seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pkt := []byte{0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8}
	if mode == "garbage" {
		pkt = []byte("hello")
	}
	fmt.Fprintf(os.Stderr, `{"level":"info","event":"first_dial","first_dial_ms":%v}`+"\n", fakeFirstDialMS)
	if _, err := c.Write(pkt); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	select {} // until killed
}

// runColdStartHarness runs the harness in the cold-start mode against the
// test binary as the daemon, with extra daemon arguments after "--".
func runColdStartHarness(t *testing.T, mode string, starts int) (*perfresult.Result, string, error) {
	t.Helper()
	t.Setenv(fakeDaemonEnv, mode)
	self, err := os.Executable()
	if err != nil {
		t.Skip("cannot find the test binary to start as a fake daemon: " + err.Error())
	}
	path := filepath.Join(t.TempDir(), "out.json")
	var stdout, stderr bytes.Buffer
	args := []string{"--cold-start", fmt.Sprint(starts), "--warmup", "1", "--exec", self, "--op-timeout", "20s",
		"--json", path, "--", "--extra=1"}
	if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
		return nil, stderr.String(), fmt.Errorf("exit %d", code)
	}
	res, err := perfresult.Load(path)
	if err != nil {
		t.Fatalf("result: %v", err)
	}
	return res, stdout.String() + stderr.String(), nil
}

func TestColdStartRun(t *testing.T) {
	res, out, err := runColdStartHarness(t, "dial", 3)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := res.ColdStartMS
	if res.Mode != perfresult.ModeColdStart || c == nil || c.Starts != 3 {
		t.Fatalf("result %+v, cold start %+v: want mode cold_start over 3 starts", res, c)
	}
	if !(c.Min > 0 && c.Min <= c.P50 && c.P50 <= c.P95 && c.P95 <= c.Max) {
		t.Errorf("cold start %+v: want 0 < min <= p50 <= p95 <= max", c)
	}
	notes := strings.Join(res.Notes, "\n")
	for _, want := range []string{
		fmt.Sprintf("p50 %.2f", fakeFirstDialMS), // the daemon's own first_dial_ms, parsed from its log
		`daemon --version: {"service":"fake-daemon"}`,
		"--extra=1",
		"page faults",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if !strings.Contains(out, "cold start (exec → first seed dial) over 3 starts") {
		t.Errorf("summary lacks the cold-start line:\n%s", out)
	}
	if res.Params.Profile != "micronode" || res.Params.Peers != 0 {
		t.Errorf("params %+v", res.Params)
	}
}

func TestColdStartFailures(t *testing.T) {
	for _, c := range []struct{ mode, want string }{
		{"exit", "exited before dialing its seed"},
		{"garbage", "is not a QUIC v1 Initial"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			_, out, err := runColdStartHarness(t, c.mode, 1)
			if err == nil || !strings.Contains(out, c.want) {
				t.Errorf("error %v, output:\n%s\nwant a failure mentioning %q", err, out, c.want)
			}
		})
	}
}

func TestStartOnceEndsEarly(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skip("cannot find the test binary to start as a fake daemon: " + err.Error())
	}
	t.Setenv(fakeDaemonEnv, "dial")
	// Without --extra=1 the fake daemon exits with code 2 instead of
	// dialing: the exit is reported at once, not after the timeout.
	_, err = startOnce(context.Background(), self, "micronode", nil, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "exited before dialing") || !strings.Contains(err.Error(), "argument --extra=1 missing") {
		t.Errorf("error %v, want the early exit reported with the daemon's output", err)
	}
	// A cancelled context ends the wait for the dial.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	t.Setenv(fakeDaemonEnv, "exit") // and would never dial
	_, err = startOnce(ctx, self, "micronode", []string{"--extra=1"}, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error %v, want the cancellation", err)
	}
}

func TestIsQUICInitial(t *testing.T) {
	for _, c := range []struct {
		b    []byte
		want bool
	}{
		{[]byte{0xc0, 0, 0, 0, 1}, true},
		{[]byte{0xc3, 0, 0, 0, 1, 9}, true},
		{[]byte{0xd0, 0, 0, 0, 1}, false}, // 0-RTT
		{[]byte{0x40, 0, 0, 0, 1}, false}, // short header
		{[]byte{0xc0, 0, 0, 0, 2}, false}, // another version
		{[]byte{0xc0, 0, 0}, false},
	} {
		if got := isQUICInitial(c.b); got != c.want {
			t.Errorf("isQUICInitial(% x) = %v, want %v", c.b, got, c.want)
		}
	}
}

func TestFirstDialLogged(t *testing.T) {
	log := []byte("{\"event\":\"node_started\"}\nnot json\n{\"event\":\"first_dial\",\"first_dial_ms\":12.25}\n")
	if got := firstDialLogged(log); got != 12250*time.Microsecond {
		t.Errorf("firstDialLogged = %v, want 12.25ms", got)
	}
	if got := firstDialLogged([]byte("{\"event\":\"node_started\"}\n")); got != -1 {
		t.Errorf("no first_dial event: %v, want -1", got)
	}
}

func TestPercentilesSpan(t *testing.T) {
	xs := make([]time.Duration, 20)
	for i := range xs {
		xs[i] = time.Duration(20-i) * time.Millisecond // 20 ms down to 1 ms
	}
	s := percentiles(xs)
	if s.min != time.Millisecond || s.p50 != 10*time.Millisecond || s.p95 != 19*time.Millisecond || s.max != 20*time.Millisecond {
		t.Errorf("percentiles = %+v, want min 1ms p50 10ms p95 19ms max 20ms", s)
	}
	if s := percentiles(nil); s != (span{}) {
		t.Errorf("empty: %+v", s)
	}
}

func TestReadCappedAndTail(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("abcdefghijk"); err != nil {
		t.Fatal(err)
	}
	b := readCapped(f, 8)
	if string(b) != "abcdefgh" {
		t.Errorf("readCapped = %q, want the first 8 bytes", b)
	}
	if got := tail(b, 3); got != "fgh" {
		t.Errorf("tail = %q", got)
	}
	if got := tail(b, 100); got != "abcdefgh" {
		t.Errorf("tail beyond the start = %q", got)
	}
}
