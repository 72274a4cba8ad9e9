package config

import (
	"errors"
	"flag"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestKeyTableShape(t *testing.T) {
	keys := Keys()
	if len(keys) == 0 {
		t.Fatal("empty key table")
	}
	nameRE := regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$`)
	envRE := regexp.MustCompile(`^SVC_DHT_[A-Z0-9_]+$`)
	envs := map[string]string{}
	for _, k := range keys {
		if !nameRE.MatchString(k.Name) {
			t.Errorf("key %q: not a lower-case dotted name with at most one dot", k.Name)
		}
		if !envRE.MatchString(k.EnvVar()) {
			t.Errorf("key %q: env var %q", k.Name, k.EnvVar())
		}
		if other, dup := envs[k.EnvVar()]; dup {
			t.Errorf("keys %q and %q share env var %s", k.Name, other, k.EnvVar())
		}
		envs[k.EnvVar()] = k.Name
		if k.EnvVar() == ConfigEnv {
			t.Errorf("key %q collides with %s", k.Name, ConfigEnv)
		}
		if k.Desc == "" || strings.Contains(k.Desc, "\n") {
			t.Errorf("key %q: description must be one non-empty line", k.Name)
		}
		if k.Flag() != "--"+k.Name {
			t.Errorf("key %q: flag %q", k.Name, k.Flag())
		}
		if got, ok := LookupKey(k.Name); !ok || got.Name != k.Name {
			t.Errorf("LookupKey(%q) = %v, %v", k.Name, got.Name, ok)
		}
	}
	if _, ok := LookupKey("nope"); ok {
		t.Error("LookupKey found an unknown key")
	}
	// Keys returns a copy.
	keys[0].Name = "changed"
	if Keys()[0].Name == "changed" {
		t.Error("Keys exposes the table itself")
	}
}

// Every knob the brief, SPEC §10 and PERFORMANCE §3 name is a key.
func TestKeyTableCoversSpec(t *testing.T) {
	want := []string{"profile", "listen_addr", "ops_addr", "data_dir", "alpha", "beta", "k", "hop_budget",
		"rpc_timeout", "hedge_after", "queue_cap.work", "bucket_refresh_interval", "frame_max", "chunk_size",
		"max_conns", "conn_idle_timeout", "limits.max_rps", "limits.peer_rps", "limits.max_inflight",
		"provider.ttl_secs", "provider.refresh_secs", "provider.max_record_bytes", "provider.max_per_key",
		"provider.max_per_publisher", "provider.max_total", "bootstrap.seeds", "bootstrap.use_default_seeds",
		"bootstrap.required", "bootstrap.ready_bucket_fill_pct", "bootstrap.timeout", "diversity.asn_max_pct",
		"diversity.asn_entropy_min", "diversity.exempt_private", "diversity.asn_db", "pq.dual_sign",
		"pq.algorithms", "pq.require_pq_on", "pq.enforce", "pq.hybrid_kex", "amnesia.enabled", "log.format",
		"log.level", "happy_eyeballs_delay"}
	for _, name := range want {
		if _, ok := LookupKey(name); !ok {
			t.Errorf("missing key %q", name)
		}
	}
}

// The defaults SPEC §10 and seed/PERFORMANCE.md §3 fix, in both profiles.
func TestSpecDefaults(t *testing.T) {
	for _, p := range []Profile{Micronode, Macronode} {
		c, err := Defaults(p)
		if err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			name      string
			got, want any
		}{
			{"profile", c.Profile, p},
			{"listen_addr", c.ListenAddr, "0.0.0.0:4433"},
			{"ops_addr", c.OpsAddr, "127.0.0.1:9108"},
			{"alpha", c.Alpha, 3},
			{"beta", c.Beta, 1},
			{"k", c.K, 20},
			{"hop_budget", c.HopBudget, 5},
			{"rpc_timeout", c.RPCTimeout, 1500 * time.Millisecond},
			{"hedge_after", c.HedgeAfter, 250 * time.Millisecond},
			{"bucket_refresh_interval", c.BucketRefreshInterval, 30 * time.Second},
			{"frame_max", c.FrameMax, MiB},
			{"chunk_size", c.ChunkSize, 64 * KiB},
			{"happy_eyeballs_delay", c.HappyEyeballsDelay, 75 * time.Millisecond},
			{"provider.ttl_secs", c.Provider.TTL, 24 * time.Hour},
			{"provider.refresh_secs", c.Provider.Refresh, 12 * time.Hour},
			{"diversity.asn_max_pct", c.Diversity.ASNMaxPct, 0.40},
			{"diversity.asn_entropy_min", c.Diversity.ASNEntropyMin, 1.5},
			{"diversity.exempt_private", c.Diversity.ExemptPrivate, true},
			{"pq.algorithms", strings.Join(c.PQ.Algorithms, ","), "ed25519,ml-dsa-87"},
			{"pq.hybrid_kex", c.PQ.HybridKEX, true},
			{"log.format", c.Log.Format, "json"},
			{"log.level", c.Log.Level, "info"},
			{"shutdown_timeout", c.ShutdownTimeout, 5 * time.Second},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s: %s = %v, want %v", p, ch.name, ch.got, ch.want)
			}
		}
	}
	if c, _ := Defaults(Micronode); c.QueueCap.Work != 512 {
		t.Errorf("micronode queue_cap.work = %d, want 512", c.QueueCap.Work)
	}
}

func TestProfileDefaults(t *testing.T) {
	micro, err := Defaults(Micronode)
	if err != nil {
		t.Fatal(err)
	}
	macro, err := Defaults(Macronode)
	if err != nil {
		t.Fatal(err)
	}
	if !micro.Amnesia.Enabled || macro.Amnesia.Enabled {
		t.Errorf("amnesia: micronode %t, macronode %t; want on, off", micro.Amnesia.Enabled, macro.Amnesia.Enabled)
	}
	if micro.MaxConns != 256 || macro.MaxConns != 1024 {
		t.Errorf("max_conns: micronode %d, macronode %d; want 256, 1024", micro.MaxConns, macro.MaxConns)
	}
	// runtime.max_procs: micronode runs on one thread, macronode on Go's
	// default (0, no cap).
	if micro.Runtime.MaxProcs != 1 || macro.Runtime.MaxProcs != 0 {
		t.Errorf("runtime.max_procs: micronode %d, macronode %d; want 1, 0", micro.Runtime.MaxProcs, macro.Runtime.MaxProcs)
	}
	// Every other key a profile changes is a cap that macronode raises.
	changed := 0
	for i := range table {
		k := &table[i]
		if k.Macro == "" || k.Name == "profile" || k.Name == "amnesia.enabled" || k.Name == "runtime.max_procs" {
			continue
		}
		changed++
		if k.kind != kindInt || k.number(macro) <= k.number(micro) {
			t.Errorf("%s: macronode %s is not a larger cap than micronode %s", k.Name, k.text(macro), k.text(micro))
		}
	}
	if changed < 5 {
		t.Errorf("only %d caps differ between the profiles", changed)
	}
	// Micronode defaults are valid as they are; macronode needs a data_dir.
	if err := micro.Validate(); err != nil {
		t.Errorf("micronode defaults: %v", err)
	}
	ps := problemsOf(t, macro.Validate())
	if len(ps) != 1 || ps[0].Key != "data_dir" {
		t.Errorf("macronode defaults: %v; want only data_dir required", ps)
	}
	macro.DataDir = "/var/lib/svc-dht"
	if err := macro.Validate(); err != nil {
		t.Errorf("macronode defaults with data_dir: %v", err)
	}
	if _, err := Defaults("nanonode"); err == nil {
		t.Error("Defaults accepted an unknown profile")
	}
}

func TestCloneIsDeep(t *testing.T) {
	c, _ := Defaults(Micronode)
	c.Bootstrap.Seeds = []string{"quic://a:1"}
	d := c.Clone()
	d.Bootstrap.Seeds[0] = "quic://b:2"
	d.PQ.Algorithms[0] = "x"
	d.Alpha = 7
	if c.Bootstrap.Seeds[0] != "quic://a:1" || c.PQ.Algorithms[0] != algEd25519 || c.Alpha != 3 {
		t.Errorf("Clone shares state: %v %v %d", c.Bootstrap.Seeds, c.PQ.Algorithms, c.Alpha)
	}
}

func TestHelpers(t *testing.T) {
	c, _ := Defaults(Micronode)
	if c.KeyFilePath() != "" {
		t.Errorf("amnesia KeyFilePath = %q", c.KeyFilePath())
	}
	c.Amnesia.Enabled, c.DataDir = false, "/d"
	if got := c.KeyFilePath(); got != "/d/node.key" {
		t.Errorf("KeyFilePath = %q", got)
	}
	c.KeyFile = "/k/id.key"
	if got := c.KeyFilePath(); got != "/k/id.key" {
		t.Errorf("KeyFilePath = %q", got)
	}
	if _, ok := c.PQ.RequireDate(); ok {
		t.Error("RequireDate ok with no date")
	}
	c.PQ.RequirePQOn = "2027-03-04"
	if d, ok := c.PQ.RequireDate(); !ok || !d.Equal(time.Date(2027, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("RequireDate = %v, %v", d, ok)
	}
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		if got := (Log{Level: level}).SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%s) = %s", level, got)
		}
	}
}

// A broken table is a programming error caught when the package starts.
func TestBuildTableRefusesMistakes(t *testing.T) {
	at := func(ks []Key, name string) int {
		return slices.IndexFunc(ks, func(k Key) bool { return k.Name == name })
	}
	cases := []struct {
		name, panic string
		mutate      func([]Key) []Key
	}{
		{"duplicate name", "duplicate key", func(ks []Key) []Key { return append(ks, ks[at(ks, "alpha")]) }},
		{"no field", "no Config field", func(ks []Key) []Key { ks[at(ks, "listen_addr")].Name = "listen_address"; return ks }},
		{"uncovered field", "has no key", func(ks []Key) []Key { return slices.Delete(ks, at(ks, "ops_addr"), at(ks, "ops_addr")+1) }},
		{"bad default", "bad default", func(ks []Key) []Key { ks[at(ks, "alpha")].Default = "three"; return ks }},
		{"non-canonical default", "canonical", func(ks []Key) []Key { ks[at(ks, "rpc_timeout")].Default = "1.5s"; return ks }},
		{"bad bound", "bad bound", func(ks []Key) []Key { ks[at(ks, "rpc_timeout")].Min = "soon"; return ks }},
		{"split group", "not contiguous", func(ks []Key) []Key {
			i := at(ks, "limits.max_rps")
			k := ks[i]
			return append(slices.Delete(ks, i, i+1), k)
		}},
		{"bounds on a string", "bounds on non-numeric", func(ks []Key) []Key { ks[at(ks, "log.level")].Min = "1"; return ks }},
		{"bool without default", "bad default", func(ks []Key) []Key { ks[at(ks, "pq.enforce")].Default = ""; return ks }},
		{"unsupported field", "unsupported field type", func(ks []Key) []Key { ks[at(ks, "profile")].Name = "store"; return ks }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatal("buildTable accepted the table")
				}
				if msg, _ := r.(string); !strings.Contains(msg, c.panic) {
					t.Errorf("panic %v; want one containing %q", r, c.panic)
				}
			}()
			buildTable(c.mutate(keyDefs()))
		})
	}
	// The real table builds (it did at init; build it again to be sure it
	// is not order-dependent on package state).
	if got := buildTable(keyDefs()); len(got) != len(table) {
		t.Errorf("rebuilt table has %d keys, want %d", len(got), len(table))
	}
}

func TestAddFlagsRegistersEveryKey(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	AddFlags(fs)
	if fs.Lookup(ConfigFlag) == nil {
		t.Error("no --config flag")
	}
	for _, k := range Keys() {
		f := fs.Lookup(k.Name)
		if f == nil {
			t.Errorf("no flag for %s", k.Name)
			continue
		}
		if f.Usage != k.Desc {
			t.Errorf("flag %s usage %q", k.Name, f.Usage)
		}
	}
}

// problemsOf returns the problems of a *ValidationError (nil for nil).
func problemsOf(t *testing.T, err error) []Problem {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	if ve.ExitCode() != 2 {
		t.Fatalf("exit code %d, want 2", ve.ExitCode())
	}
	return ve.Problems
}
