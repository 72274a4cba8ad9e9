package main

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/node/config"
	"github.com/svc-dht/svc-dht/node/ops"
)

func TestVersionEqualsOpsPlaneVersion(t *testing.T) {
	args := append([]string{"--pq.dual_sign=false"}, localArgs...)
	code, out, errOut := runSync(t, nil, append([]string{"--version"}, args...)...)
	if code != exitOK {
		t.Fatalf("--version: exit %d, stderr %s", code, errOut)
	}
	var v ops.VersionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("--version output %q: %v", out, err)
	}
	want := ops.VersionInfo{Service: "svc-dht", Version: testBuild.Version, Git: testBuild.Git, BuildTS: testBuild.BuildTS}
	if v.Service != want.Service || v.Version != want.Version || v.Git != want.Git || v.BuildTS != want.BuildTS ||
		!strings.HasPrefix(v.Go, "go") {
		t.Errorf("--version %+v, want the build information %+v", v, want)
	}
	if !slices.Contains(v.Features, "amnesia") || slices.Contains(v.Features, "pq-dual-sign") {
		t.Errorf("--version features %v: want amnesia (micronode default) and no pq-dual-sign (turned off)", v.Features)
	}
	if code, alias, _ := runSync(t, nil, append([]string{"version"}, args...)...); code != exitOK || alias != out {
		t.Errorf("svc-dht version: exit %d, %q; want --version's %q", code, alias, out)
	}

	p := start(t, invocation{}, args...)
	addr := p.opsAddr(t)
	status, body := httpGet(t, "http://"+addr+"/version")
	if status != http.StatusOK || string(body) != out {
		t.Errorf("GET /version: %d %q, want --version's %q", status, body, out)
	}
	if status, body := httpGet(t, "http://"+addr+"/readyz"); status != http.StatusOK || !strings.Contains(string(body), `"first_node":true`) {
		t.Errorf("GET /readyz of a node without seeds: %d %s", status, body)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d after SIGTERM, want 0; stderr:\n%s", code, p.stderr)
	}
	p.stderr.wait(t, "shutdown_done", event("shutdown_done"))
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		code, out, _ := runSync(t, nil, arg)
		if code != exitOK {
			t.Fatalf("%s: exit %d", arg, code)
		}
		for _, k := range config.Keys() {
			if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(k.Flag()) + `([ =\[]|$)`).MatchString(out) {
				t.Errorf("%s does not document %s", arg, k.Flag())
			}
			if !strings.Contains(out, k.EnvVar()) {
				t.Errorf("%s does not name %s", arg, k.EnvVar())
			}
		}
		for _, want := range []string{"--config FILE", "--strict-ready", "--version", "config check FILE", "devnet", "Exit codes"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q", arg, want)
			}
		}
	}
	code, out, _ := runSync(t, nil, "devnet", "--help")
	if code != exitOK || !strings.Contains(out, "-nodes") || !strings.Contains(out, "-base-port") || !strings.Contains(out, "-ops") {
		t.Errorf("devnet --help: exit %d\n%s", code, out)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, good, "ops_addr = \"127.0.0.1:9200\"\n[limits]\npeer_rps = 50\n")
	writeFile(t, bad, "k = 99\nqueue_cap = { work = 1 }\nbogus = 1\n[limits]\npeer_rps = 0\n")

	if code, out, errOut := runSync(t, nil, "config", "check", good); code != exitOK || out != "ok\n" {
		t.Errorf("config check of a good file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := runSync(t, nil, "config", "check", bad)
	if code != exitBadConfig || out != "" {
		t.Errorf("config check of a bad file: exit %d, stdout %q; want 2 and nothing", code, out)
	}
	for _, key := range []string{"config: k = 99", "config: queue_cap.work = 1", "config: bogus", "config: limits.peer_rps = 0", "4 configuration problem(s)"} {
		if !strings.Contains(errOut, key) {
			t.Errorf("config check of a bad file does not report %q:\n%s", key, errOut)
		}
	}
	for _, args := range [][]string{
		{"config"}, {"config", "check"}, {"config", "lint", good}, {"config", "check", good, good},
		{"config", "check", filepath.Join(dir, "missing.toml")},
	} {
		if code, _, errOut := runSync(t, nil, args...); code != exitBadConfig || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestBadFlagOrEnvironmentExits2(t *testing.T) {
	for _, c := range []struct {
		env  []string
		args []string
		want []string
	}{
		{args: []string{"--no-such-flag"}, want: []string{"no-such-flag"}},
		{args: []string{"--k=99"}, want: []string{"config: k = 99", "from flag --k"}},
		{args: []string{"--rpc_timeout=fast", "--limits.max_inflight=0"}, want: []string{"rpc_timeout", "limits.max_inflight", "2 configuration problem(s)"}},
		{env: []string{"SVC_DHT_K=abc"}, want: []string{`config: k = "abc"`, "SVC_DHT_K"}},
		{env: []string{"SVC_DHT_BOGUS=1"}, want: []string{"SVC_DHT_BOGUS", "unknown environment variable"}},
		{args: []string{"--amnesia.enabled=true", "--data_dir=/var/lib/svc-dht"}, want: []string{"data_dir"}},
		{args: []string{"frobnicate"}, want: []string{`unknown command "frobnicate"`}},
		{args: []string{"devnet", "--nodes=1"}, want: []string{"--nodes 1"}},
		{args: []string{"devnet", "--base-port=65530"}, want: []string{"--base-port 65530"}},
		{args: []string{"devnet", "extra"}, want: []string{`unexpected argument "extra"`}},
		{args: []string{"devnet", "--ops=nowhere"}, want: []string{"--ops"}},
	} {
		code, out, errOut := runSync(t, c.env, c.args...)
		if code != exitBadConfig {
			t.Errorf("%v %v: exit %d, want 2; stderr %s", c.env, c.args, code, errOut)
		}
		if out != "" {
			t.Errorf("%v %v: stdout %q, want nothing", c.env, c.args, out)
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v %v: stderr lacks %q:\n%s", c.env, c.args, w, errOut)
			}
		}
	}
}

func TestBindErrorExits3(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	udpPort := udp.LocalAddr().(*net.UDPAddr).Port

	for name, args := range map[string][]string{
		"ops_addr in use":    append(slices.Clone(localArgs), "--ops_addr="+tcp.Addr().String()),
		"listen_addr in use": append(slices.Clone(localArgs), "--listen_addr="+udp.LocalAddr().String()),
		"devnet base port":   {"devnet", "--nodes=2", "--ops=127.0.0.1:0", "--base-port=" + strconv.Itoa(udpPort)},
		"devnet ops in use":  {"devnet", "--nodes=2", "--ops=" + tcp.Addr().String()},
	} {
		code, _, errOut := runSync(t, nil, args...)
		if code != exitBind {
			t.Errorf("%s: exit %d, want 3; stderr:\n%s", name, code, errOut)
		}
		if !strings.Contains(errOut, "address already in use") {
			t.Errorf("%s: stderr does not say the address is in use:\n%s", name, errOut)
		}
	}
}

func TestStrictReadyTimeoutExits4(t *testing.T) {
	// A seed that never answers: a UDP socket nobody reads.
	dead, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	fire := make(chan time.Time, 1)
	var asked []time.Duration
	inv := invocation{after: func(d time.Duration) <-chan time.Time {
		asked = append(asked, d) // only run's goroutine calls it
		return fire
	}}
	p := start(t, inv, "--strict-ready", "--bootstrap.timeout=42s",
		"--listen_addr=127.0.0.1:0", "--ops_addr=127.0.0.1:0", "--bootstrap.use_default_seeds=false",
		"--bootstrap.seeds=quic://"+dead.LocalAddr().String())
	addr := p.opsAddr(t)
	if status, body := httpGet(t, "http://"+addr+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(string(body), "seeds: 0/1") {
		t.Fatalf("readyz with a dead seed: %d %s", status, body)
	}
	fire <- time.Time{}
	if code := p.exit(t); code != exitNotReady {
		t.Fatalf("exit %d, want 4; stderr:\n%s", code, p.stderr)
	}
	if len(asked) != 1 || asked[0] != 42*time.Second {
		t.Errorf("timer armed for %v, want [42s] (bootstrap.timeout)", asked)
	}
	line := p.stderr.wait(t, "bootstrap_timeout", event("bootstrap_timeout"))
	if m := fields(t, line); m["level"] != "error" || !slices.ContainsFunc(strs(m["missing"]), func(s string) bool { return strings.HasPrefix(s, "seeds: 0/1") }) {
		t.Errorf("bootstrap_timeout line %s: want level error and the missing seed", line)
	}
	p.stderr.wait(t, "shutdown_done", event("shutdown_done"))
}

func TestSeededNodeMeasuresFirstDialFromProcessStart(t *testing.T) {
	seed := start(t, invocation{}, localArgs...)
	seedOps := seed.opsAddr(t)
	started := fields(t, seed.stderr.wait(t, "node_started", event("node_started")))
	seedAddrs := strs(started["addrs"])
	if len(seedAddrs) != 1 {
		t.Fatalf("seed addrs %v", started["addrs"])
	}
	pinned := started["peer_id"].(string) + "@" + seedAddrs[0]

	// The process "started" an hour ago: the first dial is measured from
	// the start given, not from the runtime's creation.
	inv := invocation{start: time.Now().Add(-time.Hour)}
	p := start(t, inv, "--strict-ready", "--listen_addr=127.0.0.1:0", "--ops_addr=127.0.0.1:0",
		"--bootstrap.use_default_seeds=false", "--bootstrap.seeds="+pinned)
	addr := p.opsAddr(t)
	dial := fields(t, p.stderr.wait(t, "first_dial", event("first_dial")))
	if ms, _ := dial["first_dial_ms"].(float64); ms < 3600e3 || ms > 3600e3+waitBound.Seconds()*1e3 {
		t.Errorf("first_dial_ms %v, want an hour and the time to dial", dial["first_dial_ms"])
	}
	p.stderr.wait(t, "ready", event("ready"))
	if status, body := httpGet(t, "http://"+addr+"/metrics"); status != http.StatusOK || !strings.Contains(string(body), "dht_boot_first_dial_seconds 36") {
		t.Errorf("metrics: %d, want dht_boot_first_dial_seconds 36xx:\n%s", status, body)
	}
	if status, _ := httpGet(t, "http://"+addr+"/readyz"); status != http.StatusOK {
		t.Errorf("readyz of the seeded node: %d", status)
	}
	if status, _ := httpGet(t, "http://"+seedOps+"/readyz"); status != http.StatusOK {
		t.Errorf("readyz of the seed: %d", status)
	}
	if code := p.stop(t); code != exitOK {
		t.Errorf("seeded node: exit %d after SIGTERM (--strict-ready, ready)", code)
	}
	if code := seed.stop(t); code != exitOK {
		t.Errorf("seed: exit %d after SIGTERM", code)
	}
}

func TestReloadOnSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.toml")
	writeFile(t, path, "k = 20\n[limits]\npeer_rps = 100\n[log]\nlevel = \"info\"\n")
	p := start(t, invocation{}, append([]string{"--config=" + path}, localArgs...)...)
	p.opsAddr(t)

	// A valid change: one key applied at once, one needing a restart.
	writeFile(t, path, "k = 24\n[limits]\npeer_rps = 50\n[log]\nlevel = \"warn\"\n")
	p.sigs <- syscall.SIGHUP
	m := fields(t, p.stderr.wait(t, "reload", event("reload")))
	if got := strs(m["changed"]); !slices.Equal(got, []string{"k", "limits.peer_rps", "log.level"}) {
		t.Errorf("changed %v, want [k limits.peer_rps log.level]", got)
	}
	if got := strs(m["applied"]); !slices.Equal(got, []string{"limits.peer_rps", "log.level"}) {
		t.Errorf("applied %v, want [limits.peer_rps log.level]", got)
	}
	if got := strs(m["needs_restart"]); !slices.Equal(got, []string{"k"}) {
		t.Errorf("needs_restart %v, want [k]", got)
	}

	// An invalid one is refused and the running configuration kept. The
	// level is warn now, so the refusal (a warning) is logged.
	writeFile(t, path, "k = 24\n[limits]\npeer_rps = 0\n")
	p.sigs <- syscall.SIGHUP
	m = fields(t, p.stderr.wait(t, "reload_refused", event("reload_refused")))
	if problems := strs(m["problems"]); len(problems) != 1 || !strings.Contains(problems[0], "limits.peer_rps = 0") {
		t.Errorf("reload_refused problems %v, want limits.peer_rps", problems)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d after SIGTERM", code)
	}
	// log.level warn was applied: the info lines of the shutdown are gone.
	if strings.Contains(p.stderr.String(), `"event":"shutdown_done"`) {
		t.Errorf("info line logged after log.level was reloaded to warn:\n%s", p.stderr)
	}
}

func TestAwaitShutdown(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	done := make(chan error, 1)
	sigs := make(chan os.Signal, 2)
	done <- nil
	if awaitShutdown(done, sigs, log) {
		t.Error("clean shutdown reported as forced")
	}
	// Unbuffered: the SIGHUP is received before the result is sent.
	hup, result, forced := make(chan os.Signal), make(chan error), make(chan bool)
	go func() { forced <- awaitShutdown(result, hup, log) }()
	hup <- syscall.SIGHUP
	result <- nil
	if <-forced {
		t.Error("SIGHUP during shutdown forced the exit")
	}
	sigs <- syscall.SIGINT
	if !awaitShutdown(make(chan error), sigs, log) {
		t.Error("second SIGINT did not force the exit")
	}
	done <- errors.New("boom")
	if !awaitShutdown(done, nil, log) {
		t.Error("failed shutdown not reported")
	}
}

func TestExitCodeOf(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&config.ValidationError{Problems: []config.Problem{{Key: "k"}}}, exitBadConfig},
		{errors.Join(errors.New("runtime"), ops.ErrBind), exitBind},
		{&net.OpError{Op: "listen", Err: syscall.EADDRINUSE}, exitBind},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, exitFailure},
		{errors.New("other"), exitFailure},
	} {
		if got := exitCodeOf(c.err); got != c.want {
			t.Errorf("exitCodeOf(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i
	}
	for _, c := range []struct {
		in   []int
		want spread[int]
	}{
		{nil, spread[int]{}},
		{[]int{5}, spread[int]{5, 5, 5}},
		{[]int{3, 1, 2}, spread[int]{2, 3, 3}},
		{[]int{4, 1, 3, 2}, spread[int]{2, 4, 4}},
		{hundred, spread[int]{50, 95, 100}},
	} {
		if got := percentiles(c.in); got != c.want {
			t.Errorf("percentiles(%v) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
