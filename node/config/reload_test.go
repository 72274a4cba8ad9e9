package config

import (
	"reflect"
	"strings"
	"testing"
)

func reloadFrom(t *testing.T, old *Config, file string) (*Config, []Change, error) {
	t.Helper()
	return Reload(old, Sources{Args: []string{"--config=n.toml"}, ReadFile: files{"n.toml": file}.read})
}

func changeOf(changes []Change, key string) (Change, bool) {
	for _, c := range changes {
		if c.Key == key {
			return c, true
		}
	}
	return Change{}, false
}

func TestReloadAppliesReloadableKeys(t *testing.T) {
	old := mustLoad(t, Sources{})
	before := old.Clone()
	next, changes, err := reloadFrom(t, old, `
alpha = 5
rpc_timeout = "2s"
[log]
level = "debug"
[limits]
max_rps = 3000
[bootstrap]
seeds = ["quic://seed.example:4433"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if next.Alpha != 5 || next.RPCTimeout.Seconds() != 2 || next.Log.Level != "debug" || next.Limits.MaxRPS != 3000 ||
		len(next.Bootstrap.Seeds) != 1 {
		t.Errorf("not applied: %+v", next)
	}
	want := map[string][2]string{
		"alpha": {"3", "5"}, "rpc_timeout": {"1500ms", "2s"}, "limits.max_rps": {"1000", "3000"},
		"bootstrap.seeds": {"", "quic://seed.example:4433"}, "log.level": {"info", "debug"},
	}
	if len(changes) != len(want) {
		t.Errorf("changes %+v, want %d", changes, len(want))
	}
	for key, w := range want {
		c, ok := changeOf(changes, key)
		if !ok || c.Old != w[0] || c.New != w[1] || c.Restart {
			t.Errorf("change %s = %+v, want %s -> %s applied", key, c, w[0], w[1])
		}
	}
	// Changes come in table order.
	for i := 1; i < len(changes); i++ {
		if keyByName(changes[i-1].Key).idx > keyByName(changes[i].Key).idx {
			t.Errorf("changes out of order: %v", changes)
		}
	}
	if !reflect.DeepEqual(old, before) {
		t.Error("Reload modified the old config")
	}
}

func TestReloadKeepsDisruptiveKeys(t *testing.T) {
	old := mustLoad(t, Sources{})
	next, changes, err := reloadFrom(t, old, `
listen_addr = "0.0.0.0:5555"
k = 24
beta = 2
data_dir = "/var/lib/svc-dht"
[amnesia]
enabled = false
[queue_cap]
work = 1024
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"listen_addr", "k", "data_dir", "amnesia.enabled", "queue_cap.work"} {
		c, ok := changeOf(changes, key)
		if !ok || !c.Restart {
			t.Errorf("%s: change %+v, want one needing a restart", key, c)
		}
		k := keyByName(key)
		if k.text(next) != k.text(old) {
			t.Errorf("%s changed to %s without a restart", key, k.text(next))
		}
	}
	if c, ok := changeOf(changes, "beta"); !ok || c.Restart || next.Beta != 2 {
		t.Errorf("beta: %+v, %d", c, next.Beta)
	}
	if next.Amnesia.Enabled != true || next.DataDir != "" {
		t.Error("amnesia/data_dir mixed")
	}
}

// The reloaded sources are read under the running profile.
func TestReloadKeepsProfile(t *testing.T) {
	old := mustLoad(t, Sources{})
	next, changes, err := reloadFrom(t, old, "profile = \"macronode\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := changeOf(changes, "profile"); !ok || !c.Restart || c.New != "macronode" {
		t.Errorf("profile change %+v", c)
	}
	if len(changes) != 1 {
		t.Errorf("changes %+v: the macronode defaults leaked in", changes)
	}
	if next.Profile != Micronode || next.Limits.MaxRPS != 1000 {
		t.Errorf("running %s with max_rps %d", next.Profile, next.Limits.MaxRPS)
	}
}

func TestReloadInvalidKeepsOld(t *testing.T) {
	old := mustLoad(t, Sources{})
	before := old.Clone()
	for _, file := range []string{
		"alpha = 99\n",
		"[log]\nlevel = \"loud\"\n",
		"unknown = 1\n",
		"alpha = \n",
		"data_dir = \"/d\"\n", // amnesia still on: invalid even though data_dir needs a restart
	} {
		next, changes, err := reloadFrom(t, old, file)
		if err == nil || next != nil || changes != nil {
			t.Errorf("%q: reload accepted: %v %v", file, next, changes)
		}
		problemsOf(t, err)
	}
	if _, _, err := Reload(old, Sources{Args: []string{"--config=gone.toml"}, ReadFile: files{}.read}); err == nil {
		t.Error("reload of a missing file accepted")
	}
	if !reflect.DeepEqual(old, before) {
		t.Error("failed reloads modified the old config")
	}
}

// A reloadable key tied by a rule to a restart-only key is checked against
// the running value of that key.
func TestReloadChecksTheMix(t *testing.T) {
	old := mustLoad(t, Sources{Args: []string{"--pq.algorithms=ed25519", "--pq.dual_sign=false"}})
	_, _, err := reloadFrom(t, old, "[pq]\nalgorithms = [\"ed25519\", \"ml-dsa-87\"]\ndual_sign = true\n")
	ps := problemsOf(t, err)
	if !hasProblem(ps, "pq.dual_sign", "needs ml-dsa-87") || !strings.Contains(ps[0].Source, "after reload") {
		t.Errorf("mix accepted or unexplained: %v", err)
	}
}

func TestReloadNoChange(t *testing.T) {
	src := Sources{Args: []string{"--alpha=4"}, Env: []string{"SVC_DHT_LOG_LEVEL=warn"}}
	old := mustLoad(t, src)
	next, changes, err := Reload(old, src)
	if err != nil || len(changes) != 0 || !reflect.DeepEqual(next, old) {
		t.Errorf("no-op reload: %v %+v", err, changes)
	}
	if next == old {
		t.Error("Reload returned the old pointer; want a copy")
	}
}

// The reloadable keys the brief names, and the disruptive ones.
func TestReloadClassification(t *testing.T) {
	reloadable := []string{"log.level", "limits.max_rps", "limits.peer_rps", "limits.max_inflight", "alpha", "beta",
		"hedge_after", "rpc_timeout", "bucket_refresh_interval", "provider.max_per_key", "provider.max_per_publisher",
		"provider.max_total", "provider.max_record_bytes", "bootstrap.seeds"}
	restart := []string{"listen_addr", "ops_addr", "data_dir", "key_file", "amnesia.enabled", "k", "profile",
		"frame_max", "queue_cap.work", "pq.hybrid_kex", "pq.algorithms"}
	for _, name := range reloadable {
		if k, _ := LookupKey(name); !k.Reloadable {
			t.Errorf("%s should be reloadable", name)
		}
	}
	for _, name := range restart {
		if k, _ := LookupKey(name); k.Reloadable {
			t.Errorf("%s should need a restart", name)
		}
	}
}
