package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestBinary builds the real binary with version information set by the
// linker and checks what only a process shows: the -X variables, exit
// codes, and real signals (SIGHUP reloads, SIGINT stops with exit 0).
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: building the binary takes a while")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool in PATH to build the binary with: " + err.Error())
	}
	bin := filepath.Join(t.TempDir(), "svc-dht")
	build := exec.Command(goTool, "build", "-o", bin,
		"-ldflags=-X main.version=v9.9.9-exec -X main.git=feedface -X main.buildTS=2026-11-28T00:00:00Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	command := func(args ...string) *exec.Cmd {
		c := exec.Command(bin, args...)
		c.Env = env
		return c
	}
	exitCode := func(c *exec.Cmd) (int, string) {
		out, err := c.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatalf("%v: %v", c.Args, err)
		}
		return 0, string(out)
	}

	code, version := exitCode(command(append([]string{"--version"}, localArgs...)...))
	if code != 0 || !strings.Contains(version, `"version":"v9.9.9-exec","git":"feedface","build_ts":"2026-11-28T00:00:00Z"`) {
		t.Fatalf("--version: exit %d, %s", code, version)
	}
	if code, out := exitCode(command("--k=7")); code != exitBadConfig || !strings.Contains(out, "config: k = 7") {
		t.Errorf("--k=7: exit %d, want 2:\n%s", code, out)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if code, out := exitCode(command(append(localArgs, "--ops_addr="+busy.Addr().String())...)); code != exitBind {
		t.Errorf("ops_addr in use: exit %d, want 3:\n%s", code, out)
	}

	// A running node: /version is --version; SIGHUP reloads; SIGINT stops.
	c := command(localArgs...)
	stderr, err := c.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Process.Kill() }() // after a failure only
	log := newLines()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(log, bufio.NewReader(stderr))
	}()
	addr, _ := fields(t, log.wait(t, "ops_listening", event("ops_listening")))["addr"].(string)
	if status, body := httpGet(t, "http://"+addr+"/version"); status != http.StatusOK || string(body) != version {
		t.Errorf("GET /version %d %q, want --version's %q", status, body, version)
	}
	if err := c.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if m := fields(t, log.wait(t, "reload", event("reload"))); len(strs(m["changed"])) != 0 {
		t.Errorf("reload without changes reports %v", m["changed"])
	}
	if err := c.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-copied
	if err := c.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v\n%s", err, log)
	}
	log.wait(t, "shutdown_done", event("shutdown_done"))
}
