package main

import (
	"sync"
	"testing"

	"github.com/svc-dht/svc-dht/node/config"
)

// procsRecorder stands in for runtime.GOMAXPROCS: it records what the
// daemon sets without changing the test process.
type procsRecorder struct {
	mu   sync.Mutex
	cur  int
	sets []int
}

func (r *procsRecorder) set(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.cur
	if n > 0 {
		r.cur = n
		r.sets = append(r.sets, n)
	}
	return prev
}

func (r *procsRecorder) applied() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.sets...)
}

func TestApplyMaxProcs(t *testing.T) {
	for _, c := range []struct {
		name     string
		want     int
		environ  []string
		got      int
		from     string
		appliedN int
	}{
		{"micronode", 1, []string{"HOME=/"}, 1, "runtime.max_procs", 1},
		{"explicit", 3, nil, 3, "runtime.max_procs", 3},
		{"go default", 0, nil, 2, "default", 0},
		{"environment wins", 1, []string{"GOMAXPROCS=4"}, 2, "GOMAXPROCS", 0},
		{"empty environment value", 1, []string{"GOMAXPROCS="}, 1, "runtime.max_procs", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &procsRecorder{cur: 2}
			got, from := applyMaxProcs(c.want, c.environ, r.set)
			if got != c.got || from != c.from {
				t.Errorf("applyMaxProcs(%d, %q) = %d, %q; want %d, %q", c.want, c.environ, got, from, c.got, c.from)
			}
			sets := r.applied()
			if (c.appliedN == 0) != (len(sets) == 0) || (c.appliedN > 0 && sets[0] != c.appliedN) {
				t.Errorf("GOMAXPROCS set to %v, want %d (0: left alone)", sets, c.appliedN)
			}
		})
	}
	if n, from := applyMaxProcs(1, nil, nil); n != 0 || from != "" {
		t.Errorf("without a setter: %d, %q; want nothing applied", n, from)
	}
}

// TestDaemonAppliesMaxProcs runs the daemon with the micronode defaults and
// with the macronode profile, and checks what reaches GOMAXPROCS and the
// log.
func TestDaemonAppliesMaxProcs(t *testing.T) {
	r := &procsRecorder{cur: 8}
	p := start(t, invocation{maxProcs: r.set}, localArgs...)
	line := p.stderr.wait(t, "the gomaxprocs event", event("gomaxprocs"))
	f := fields(t, line)
	if f["gomaxprocs"] != 1.0 || f["source"] != "runtime.max_procs" {
		t.Errorf("gomaxprocs event %s: want 1 from runtime.max_procs", line)
	}
	// event_loops = 0 follows the GOMAXPROCS the daemon runs with, not the
	// one of the start-up.
	if started := fields(t, p.stderr.wait(t, "node_started", event("node_started"))); started["event_loops"] != 1.0 {
		t.Errorf("node_started event_loops = %v, want 1", started["event_loops"])
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("exit %d, want 0", code)
	}
	if sets := r.applied(); len(sets) != 1 || sets[0] != 1 {
		t.Errorf("GOMAXPROCS set to %v, want [1]", sets)
	}

	r = &procsRecorder{cur: 8}
	p = start(t, invocation{maxProcs: r.set}, append([]string{"--profile=macronode", "--amnesia.enabled=true"}, localArgs...)...)
	line = p.stderr.wait(t, "the gomaxprocs event", event("gomaxprocs"))
	if f := fields(t, line); f["gomaxprocs"] != 8.0 || f["source"] != "default" {
		t.Errorf("macronode gomaxprocs event %s: want 8 (left alone) from default", line)
	}
	if code := p.stop(t); code != exitOK {
		t.Fatalf("macronode: exit %d, want 0", code)
	}
	if sets := r.applied(); len(sets) != 0 {
		t.Errorf("macronode: GOMAXPROCS set to %v, want it left alone", sets)
	}
}

func TestNodeConfig(t *testing.T) {
	cfg, err := config.Defaults(config.Micronode)
	if err != nil {
		t.Fatal(err)
	}
	set := (&procsRecorder{}).set
	if got := nodeConfig(cfg, invocation{maxProcs: set}); got == cfg || got.EventLoops != 1 || cfg.EventLoops != 0 {
		t.Errorf("micronode: event_loops %d (source config %d), want 1 on a copy", got.EventLoops, cfg.EventLoops)
	}
	for name, inv := range map[string]invocation{
		"no setter":         {},
		"GOMAXPROCS is set": {maxProcs: set, environ: []string{"GOMAXPROCS=3"}},
	} {
		if got := nodeConfig(cfg, inv); got != cfg {
			t.Errorf("%s: the configuration was changed (event_loops %d)", name, got.EventLoops)
		}
	}
	explicit := cfg.Clone()
	explicit.EventLoops = 4
	if got := nodeConfig(explicit, invocation{maxProcs: set}); got != explicit {
		t.Errorf("explicit event_loops 4 became %d", got.EventLoops)
	}
	unset := cfg.Clone()
	unset.Runtime.MaxProcs = 0
	if got := nodeConfig(unset, invocation{maxProcs: set}); got != unset {
		t.Errorf("runtime.max_procs 0: event_loops became %d", got.EventLoops)
	}
}
