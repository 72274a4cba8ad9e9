package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/svc-dht/svc-dht/cmd/internal/perfresult"
)

// coldStartLogCap bounds how much of a started daemon's output is read
// back: the first_dial log event comes within the first few lines, and the
// tail is only shown when a start fails.
const coldStartLogCap = 64 << 10

// coldStart is one measured start of the daemon.
type coldStart struct {
	dial      time.Duration // exec → first datagram at the seed
	firstDial time.Duration // the daemon's own first_dial_ms (from its package init); <0: not logged
	cpu       time.Duration // the daemon's CPU time (user + system) until it was killed
	faults    int64         // its page faults (minor + major) until then
}

// daemonArgs are the command-line arguments of one daemon start: a node in
// amnesia mode on loopback (QUIC and ops plane on ephemeral ports) whose
// only seed is seed, followed by the user's extra arguments (later flags
// win, so these may override any of them).
func daemonArgs(profile string, seed *net.UDPAddr, extra []string) []string {
	args := []string{
		"--profile", profile,
		"--amnesia.enabled=true",
		"--listen_addr", "127.0.0.1:0",
		"--ops_addr", "127.0.0.1:0",
		"--bootstrap.use_default_seeds=false",
		"--bootstrap.seeds", "quic://" + seed.String(),
	}
	return append(args, extra...)
}

// daemonEnv is the environment of a started daemon: this process's without
// the SVC_DHT_* variables, so that only the command line configures it.
func daemonEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "SVC_DHT_") })
}

// isQUICInitial reports whether b is the start of a QUIC version 1 Initial
// packet (RFC 9000 §17.2.2): long header, fixed bit, type 0, version 1.
func isQUICInitial(b []byte) bool {
	return len(b) >= 5 && b[0]&0xf0 == 0xc0 && binary.BigEndian.Uint32(b[1:5]) == 1
}

// startOnce runs the daemon at path once with a fresh UDP socket playing its
// seed, and returns the time from just before exec to the first datagram
// the seed received (which must be a QUIC Initial). The daemon is killed
// (SIGKILL) and reaped before it returns.
func startOnce(ctx context.Context, path, profile string, extra []string, timeout time.Duration) (coldStart, error) {
	seed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return coldStart{}, fmt.Errorf("cold start: seed socket: %w", err)
	}
	defer seed.Close()
	// The daemon writes its output to a file, not a pipe: no harness
	// goroutine wakes to copy it while the daemon starts.
	logf, err := os.CreateTemp("", "svc-dht-cold-*.log")
	if err != nil {
		return coldStart{}, fmt.Errorf("cold start: %w", err)
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	cmd := exec.Command(path, daemonArgs(profile, seed.LocalAddr().(*net.UDPAddr), extra)...)
	cmd.Env = daemonEnv()
	cmd.Stdout, cmd.Stderr = logf, logf

	buf := make([]byte, 2048)
	// The deadline is set first: the exit watcher and ctx shorten it.
	_ = seed.SetReadDeadline(time.Now().Add(timeout))
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return coldStart{}, fmt.Errorf("cold start: %w", err)
	}
	exited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		_ = seed.SetReadDeadline(time.Now()) // an exited daemon will not dial: stop waiting
		exited <- err
	}()
	stop := context.AfterFunc(ctx, func() { _ = seed.SetReadDeadline(time.Now()) })
	n, _, rerr := seed.ReadFromUDP(buf)
	t1 := time.Now()
	stop()

	_ = cmd.Process.Kill() // fails only when it already exited
	werr := <-exited
	logs := readCapped(logf, coldStartLogCap)
	cs := coldStart{dial: t1.Sub(t0), firstDial: firstDialLogged(logs)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cs.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		cs.faults = int64(ru.Minflt) + int64(ru.Majflt) // int32 on 32-bit targets
	}
	switch {
	case rerr == nil && !isQUICInitial(buf[:n]):
		return cs, fmt.Errorf("cold start: the first datagram (%d bytes, % x...) is not a QUIC v1 Initial", n, buf[:min(n, 8)])
	case rerr == nil:
		return cs, nil
	case ctx.Err() != nil:
		return cs, fmt.Errorf("cold start: %w", ctx.Err())
	case werr != nil && !isKilled(werr):
		return cs, fmt.Errorf("cold start: %s exited before dialing its seed: %w\n%s", path, werr, tail(logs, 2048))
	}
	return cs, fmt.Errorf("cold start: no datagram at the seed within %v of exec: %w\n%s", timeout, rerr, tail(logs, 2048))
}

// isKilled reports whether a Wait error is the SIGKILL startOnce sent.
func isKilled(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.ExitCode() == -1
}

// firstDialLogged returns first_dial_ms of the daemon's first_dial log
// event (JSON lines), or -1 when there is none.
func firstDialLogged(log []byte) time.Duration {
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 0, 4096), coldStartLogCap)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(`"first_dial_ms"`)) {
			continue
		}
		var ev struct {
			MS *float64 `json:"first_dial_ms"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.MS != nil && *ev.MS >= 0 {
			return time.Duration(*ev.MS * float64(time.Millisecond))
		}
	}
	return -1
}

// runColdStart runs the cold-start mode: o.coldStart measured starts of the
// daemon o.exec (after o.warmup unmeasured ones), each timed from exec to
// the first datagram at its seed.
func runColdStart(ctx context.Context, o *options, res *perfresult.Result, stderr io.Writer) error {
	res.Mode = perfresult.ModeColdStart
	res.Params = perfresult.Params{Seed: o.seed, Profile: o.profile}
	version := daemonVersion(ctx, o.exec)
	begin := time.Now()
	for i := range o.warmup {
		if _, err := startOnce(ctx, o.exec, o.profile, o.execArgs, o.opTO); err != nil {
			return fmt.Errorf("warm-up start %d: %w", i+1, err)
		}
	}
	dials := make([]time.Duration, 0, o.coldStart)
	cpus := make([]time.Duration, 0, o.coldStart)
	faults := make([]time.Duration, 0, o.coldStart) // counts, sorted with the same helper
	var logged []time.Duration
	for i := range o.coldStart {
		cs, err := startOnce(ctx, o.exec, o.profile, o.execArgs, o.opTO)
		if err != nil {
			return fmt.Errorf("start %d: %w", i+1, err)
		}
		dials = append(dials, cs.dial)
		cpus = append(cpus, cs.cpu)
		faults = append(faults, time.Duration(cs.faults))
		if cs.firstDial >= 0 {
			logged = append(logged, cs.firstDial)
		}
		if o.progress {
			fmt.Fprintf(stderr, "start %d/%d: exec → first seed datagram %.2f ms (daemon CPU %.2f ms, %d page faults)\n",
				i+1, o.coldStart, ms(cs.dial), ms(cs.cpu), cs.faults)
		}
	}
	res.DurationS = time.Since(begin).Seconds()
	s := percentiles(dials)
	res.ColdStartMS = &perfresult.ColdStart{Starts: len(dials), Min: ms(s.min), P50: ms(s.p50), P95: ms(s.p95), Max: ms(s.max)}
	res.Notes = append(res.Notes,
		fmt.Sprintf("cold_start_ms: from just before exec of %s to the first datagram (a QUIC Initial) at its only seed, a UDP socket on 127.0.0.1; "+
			"%d measured starts after %d warm-up start(s), one at a time, each daemon killed and reaped before the next", o.exec, len(dials), o.warmup),
		"daemon arguments: "+strings.Join(quoteArgs(daemonArgs(o.profile, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0}, o.execArgs)), " ")+
			" (the seed's port differs per start)",
	)
	if version != "" {
		res.Notes = append(res.Notes, "daemon --version: "+version)
	}
	c, f := percentiles(cpus), percentiles(faults)
	res.Notes = append(res.Notes, fmt.Sprintf(
		"the daemon's CPU time (user + system, getrusage of the reaped child) from exec until it was killed just after its first datagram: "+
			"min %.2f p50 %.2f max %.2f ms; page faults p50 %d", ms(c.min), ms(c.p50), ms(c.max), int64(f.p50)))
	if len(logged) > 0 {
		l := percentiles(logged)
		res.Notes = append(res.Notes, fmt.Sprintf(
			"the daemon's own first_dial_ms (from its package initialisation to the dial, so without exec, loading and Go runtime start): "+
				"min %.2f p50 %.2f p95 %.2f max %.2f ms over %d starts", ms(l.min), ms(l.p50), ms(l.p95), ms(l.max), len(logged)))
	}
	return nil
}

// daemonVersion returns the one-line --version output of the daemon at
// path, or "" if it has none.
func daemonVersion(ctx context.Context, path string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = daemonEnv()
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// span is the minimum, nearest-rank p50 and p95, and maximum of a sample.
type span struct{ min, p50, p95, max time.Duration }

// percentiles returns the span of xs (sorted in place); zero when empty.
func percentiles(xs []time.Duration) span {
	if len(xs) == 0 {
		return span{}
	}
	slices.Sort(xs)
	rank := func(p int) time.Duration { return xs[max((p*len(xs)+99)/100, 1)-1] }
	return span{min: xs[0], p50: rank(50), p95: rank(95), max: xs[len(xs)-1]}
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// readCapped reads at most limit bytes from the start of f.
func readCapped(f *os.File, limit int64) []byte {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, limit))
	return b
}

// tail returns the last n bytes of b, as text.
func tail(b []byte, n int) string {
	return string(b[max(len(b)-n, 0):])
}
