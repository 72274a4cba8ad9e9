package config

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// Every rule, each as flags over the micronode defaults: the key named
// and the reason.
func TestValidationRules(t *testing.T) {
	id := strings.Repeat("0f", 32)
	cases := []struct {
		name   string
		args   []string
		key    string
		reason string // "" = valid
	}{
		{"defaults", nil, "", ""},
		{"frame_max fixed", []string{"--frame_max=2MiB"}, "frame_max", "must be 1MiB (fixed)"},
		{"frame_max fixed below", []string{"--frame_max=1048575"}, "frame_max", "must be 1MiB (fixed)"},
		{"frame_max as bytes", []string{"--frame_max=1048576"}, "", ""},
		{"profile enum", []string{"--profile=big"}, "profile", "must be one of micronode, macronode"},
		{"log.format enum", []string{"--log.format=xml"}, "log.format", "must be one of json, text"},
		{"log.level enum", []string{"--log.level=trace"}, "log.level", "must be one of debug, info, warn, error"},
		{"log.level case", []string{"--log.level=INFO"}, "log.level", "must be one of"},
		{"algorithms unknown", []string{"--pq.algorithms=ed25519,ml-dsa-87,rsa"}, "pq.algorithms", `"rsa": must be one of ed25519, ml-dsa-87`},
		{"algorithms twice", []string{"--pq.algorithms=ed25519,ed25519", "--pq.dual_sign=false"}, "pq.algorithms", `"ed25519": listed twice`},
		{"algorithms without ed25519", []string{"--pq.algorithms=ml-dsa-87"}, "pq.algorithms", "must include ed25519"},
		{"algorithms empty", []string{"--pq.algorithms=", "--pq.dual_sign=false"}, "pq.algorithms", "must include ed25519"},
		{"classical only", []string{"--pq.algorithms=ed25519", "--pq.dual_sign=false"}, "", ""},
		{"dual_sign needs ml-dsa", []string{"--pq.algorithms=ed25519"}, "pq.dual_sign", "needs ml-dsa-87 in pq.algorithms"},
		{"date month", []string{"--pq.require_pq_on=2027-13-01"}, "pq.require_pq_on", "want a date YYYY-MM-DD"},
		{"date day", []string{"--pq.require_pq_on=2027-02-30"}, "pq.require_pq_on", "want a date YYYY-MM-DD"},
		{"date slashes", []string{"--pq.require_pq_on=2027/01/01"}, "pq.require_pq_on", "want a date YYYY-MM-DD"},
		{"date time", []string{"--pq.require_pq_on=2027-01-01T00:00:00Z"}, "pq.require_pq_on", "want a date YYYY-MM-DD"},
		{"date ok", []string{"--pq.require_pq_on=2028-02-29"}, "", ""},
		{"enforce needs date", []string{"--pq.enforce"}, "pq.enforce", "needs pq.require_pq_on"},
		{"enforce with date", []string{"--pq.enforce", "--pq.require_pq_on=2027-01-01"}, "", ""},
		{"enforce classical only", []string{"--pq.enforce", "--pq.require_pq_on=2027-01-01", "--pq.algorithms=ed25519", "--pq.dual_sign=false"},
			"pq.enforce", "needs ml-dsa-87 in pq.algorithms"},
		{"refresh = ttl", []string{"--provider.ttl_secs=6h", "--provider.refresh_secs=6h"}, "provider.refresh_secs", "must be less than provider.ttl_secs (6h)"},
		{"refresh > ttl", []string{"--provider.ttl_secs=1h"}, "provider.refresh_secs", "must be less than provider.ttl_secs (1h)"},
		{"ttl over 48h", []string{"--provider.ttl_secs=49h"}, "provider.ttl_secs", "must be between 1m and 48h"},
		{"ttl 48h", []string{"--provider.ttl_secs=172800"}, "", ""},
		{"peer_rps > max_rps", []string{"--limits.peer_rps=2000"}, "limits.peer_rps", "must not exceed limits.max_rps (1000)"},
		{"per_key > total", []string{"--provider.max_total=20", "--provider.max_per_publisher=20"}, "provider.max_per_key", "must not exceed provider.max_total (20)"},
		{"per_publisher > total", []string{"--provider.max_total=100"}, "provider.max_per_publisher", "must not exceed provider.max_total (100)"},
		{"required > seeds", []string{"--bootstrap.use_default_seeds=false", "--bootstrap.seeds=quic://a:1", "--bootstrap.required=2"},
			"bootstrap.required", "only 1 seeds configured"},
		{"required with default seeds", []string{"--bootstrap.seeds=quic://a:1", "--bootstrap.required=2"}, "", ""},
		{"first node", []string{"--bootstrap.use_default_seeds=false", "--bootstrap.seeds="}, "", ""},
		{"seed scheme", []string{"--bootstrap.seeds=udp://a:1"}, "bootstrap.seeds", `"udp://a:1": bad scheme`},
		{"seed no port", []string{"--bootstrap.seeds=quic://a"}, "bootstrap.seeds", "bad port"},
		{"seed port 0", []string{"--bootstrap.seeds=quic://a:0"}, "bootstrap.seeds", "bad port: 0 cannot be dialed"},
		{"seed port big", []string{"--bootstrap.seeds=quic://a:65536"}, "bootstrap.seeds", `bad port: "65536"`},
		{"seed bad id", []string{"--bootstrap.seeds=abcd@quic://a:1"}, "bootstrap.seeds", "bad id"},
		{"seed non-hex id", []string{"--bootstrap.seeds=" + strings.Repeat("zz", 32) + "@quic://a:1"}, "bootstrap.seeds", "bad id"},
		{"seed bare v6", []string{"--bootstrap.seeds=quic://::1:4433"}, "bootstrap.seeds", "bad host: IPv6 literal must be in brackets"},
		{"seed bad host", []string{"--bootstrap.seeds=quic://a_b.example:1"}, "bootstrap.seeds", "bad host"},
		{"seed unspecified", []string{"--bootstrap.seeds=quic://0.0.0.0:4433"}, "bootstrap.seeds", "bad host"},
		{"seed path", []string{"--bootstrap.seeds=quic://a:1/x"}, "bootstrap.seeds", "bad address"},
		{"seed pinned twice", []string{"--bootstrap.seeds=" + id + "@quic://a:1,b3:" + strings.Repeat("1f", 32) + "@quic://a:1"},
			"bootstrap.seeds", "conflicting pinned node ids"},
		{"seed twice", []string{"--bootstrap.seeds=quic://a:1,quic://a:1"}, "bootstrap.seeds", "listed twice"},
		{"seeds good", []string{"--bootstrap.seeds=quic://seed.example.org:4433," + id + "@quic://[2001:db8::1]:4433,b3:" + id + "@quic://10.0.0.1:1"}, "", ""},
		{"listen no port", []string{"--listen_addr=0.0.0.0"}, "listen_addr", "want host:port"},
		{"listen port", []string{"--listen_addr=:70000"}, "listen_addr", `port "70000"`},
		{"listen any", []string{"--listen_addr=:0"}, "", ""},
		{"listen v6", []string{"--listen_addr=[::]:4433"}, "", ""},
		{"ops bad host", []string{"--ops_addr=local host:9108"}, "ops_addr", "not a valid host name"},
		{"ops bad v6", []string{"--ops_addr=[::g]:9108"}, "ops_addr", "not a valid IPv6 address"},
		{"ops name", []string{"--ops_addr=localhost:9108"}, "", ""},
		{"amnesia + data_dir", []string{"--data_dir=/var/lib/svc-dht"}, "data_dir", "not allowed while amnesia.enabled = true"},
		{"amnesia + key_file", []string{"--key_file=/etc/svc-dht/node.key"}, "key_file", "not allowed while amnesia.enabled = true"},
		{"no amnesia, no data_dir", []string{"--amnesia.enabled=false"}, "data_dir", "required when amnesia.enabled = false"},
		{"no amnesia, data_dir", []string{"--amnesia.enabled=false", "--data_dir=/d", "--key_file=/k"}, "", ""},
		{"amnesia + asn_db", []string{"--diversity.asn_db=/usr/share/svc-dht/asn.csv"}, "", ""},
		{"pct form", []string{"--diversity.asn_max_pct=61%"}, "diversity.asn_max_pct", "must be between 0.25 and 0.6"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(Sources{Args: c.args})
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if err := cfg.Validate(); err != nil {
					t.Fatalf("Validate of a loaded config: %v", err)
				}
				return
			}
			ps := problemsOf(t, err)
			if !hasProblem(ps, c.key, c.reason) {
				t.Fatalf("got\n%v\nwant %s: ...%s", err, c.key, c.reason)
			}
			if len(ps) != 1 {
				t.Errorf("%d problems, want 1:\n%v", len(ps), err)
			}
			if !strings.HasPrefix(ps[0].String(), "config: "+c.key+" = ") {
				t.Errorf("message %q does not start with the key and value", ps[0].String())
			}
		})
	}
}

// Every numeric key refuses values just outside its bounds and accepts the
// bounds themselves.
func TestNumericBounds(t *testing.T) {
	for i := range table {
		k := &table[i]
		if !k.numeric() {
			continue
		}
		step := 1.0
		if k.kind == kindFloat {
			step = 0.01
		}
		check := func(x float64, wantOK bool) {
			c := defaults(Micronode)
			v := k.value(c)
			if k.kind == kindFloat {
				v.SetFloat(x)
			} else {
				v.SetInt(int64(x))
			}
			reason := k.validate(c)
			rangeErr := strings.HasPrefix(reason, "must be between") || strings.HasPrefix(reason, "must be at") ||
				strings.HasSuffix(reason, "(fixed)")
			if rangeErr == wantOK {
				t.Errorf("%s = %s: reason %q, want ok=%t", k.Name, k.text(c), reason, wantOK)
			}
		}
		if k.hasLo {
			check(k.lo, true)
			check(k.lo-step, false)
		}
		if k.hasHi {
			check(k.hi, true)
			check(k.hi+step, false)
		}
		if !k.hasLo && !k.hasHi {
			t.Errorf("numeric key %s has no bounds", k.Name)
		}
	}
	// NaN is never in range.
	c := defaults(Micronode)
	c.Diversity.ASNMaxPct = math.NaN()
	if ps := problemsOf(t, c.Validate()); !hasProblem(ps, "diversity.asn_max_pct", "must be between") {
		t.Errorf("NaN accepted: %v", ps)
	}
}

// The fixed knob and the spec ranges, as named in the brief.
func TestSpecRanges(t *testing.T) {
	ranges := map[string][2]string{
		"alpha": {"1", "8"}, "beta": {"0", "4"}, "k": {"16", "32"}, "hop_budget": {"3", "8"},
		"rpc_timeout": {"800ms", "2500ms"}, "hedge_after": {"100ms", "600ms"}, "queue_cap.work": {"256", "2048"},
		"bucket_refresh_interval": {"10s", "2m"}, "frame_max": {"1MiB", "1MiB"}, "chunk_size": {"32KiB", "128KiB"},
		"diversity.asn_max_pct": {"0.25", "0.6"}, "diversity.asn_entropy_min": {"1", "2"}, "provider.ttl_secs": {"1m", "48h"},
	}
	for name, r := range ranges {
		k, _ := LookupKey(name)
		if k.Min != r[0] || k.Max != r[1] {
			t.Errorf("%s: range %s-%s, want %s-%s", name, k.Min, k.Max, r[0], r[1])
		}
	}
}

func TestValidateProgrammatic(t *testing.T) {
	c := defaults(Micronode)
	c.Alpha, c.DataDir, c.Bootstrap.Seeds = 0, "/x", []string{"nope"}
	ps := problemsOf(t, c.Validate())
	if len(ps) != 3 || ps[0].Key != "data_dir" || ps[1].Key != "alpha" || ps[2].Key != "bootstrap.seeds" {
		t.Errorf("problems in table order: %v", ps)
	}
	for _, p := range ps {
		if p.Source != "" {
			t.Errorf("Validate invented a source: %v", p)
		}
	}
	if got := (Problem{Reason: "r"}).String(); got != "config: r" {
		t.Errorf("keyless problem: %q", got)
	}
}

func TestCheckSeed(t *testing.T) {
	id := strings.Repeat("aB", 32)
	good := []string{"quic://a:1", "quic://a.b-c.example:65535", "quic://[::1]:4433", "quic://[fe80::1%eth0]:4433",
		"quic://192.0.2.1:4433", id + "@quic://h:1", "b3:" + id + "@quic://[2001:db8::2]:9"}
	for _, s := range good {
		if r := checkSeed(s); r != "" {
			t.Errorf("checkSeed(%q) = %q", s, r)
		}
	}
	bad := []string{"", "a:1", "quic://", "quic://:1", "quic://a:", "quic://a:-1", "quic://-a:1", "quic://a-:1",
		"quic://" + strings.Repeat("a", 64) + ":1", "quic://a..b:1", "quic://0.0.0.0:1", "@quic://a:1", id + "@a:1",
		id[:63] + "@quic://a:1", "quic://a:1@quic://b:2", "quic://[::1]:", "quic://a b:1",
		"quic://" + strings.Repeat("a.", 127) + "a:1"}
	for _, s := range bad {
		if r := checkSeed(s); r == "" {
			t.Errorf("checkSeed(%q) accepted", s)
		}
	}
}

func TestValidationErrorFormat(t *testing.T) {
	e := &ValidationError{Problems: []Problem{
		{Key: "alpha", Value: "0", Reason: "must be between 1 and 8", Source: "from flag --alpha"},
		{Key: "SVC_DHT_X", Reason: "unknown environment variable"},
	}}
	want := "config: alpha = 0: must be between 1 and 8 (from flag --alpha)\nconfig: SVC_DHT_X: unknown environment variable"
	if e.Error() != want {
		t.Errorf("got\n%s\nwant\n%s", e.Error(), want)
	}
	if e.ExitCode() != ExitBadConfig || ExitBadConfig != 2 {
		t.Errorf("exit code %d", e.ExitCode())
	}
}

// A loaded config shares nothing with the table or a later load.
func TestLoadsAreIndependent(t *testing.T) {
	a := mustLoad(t, Sources{})
	b := mustLoad(t, Sources{})
	a.PQ.Algorithms[0] = "changed"
	if b.PQ.Algorithms[0] != algEd25519 || !reflect.DeepEqual(defaults(Micronode).PQ.Algorithms, []string{algEd25519, algMLDSA87}) {
		t.Error("loads share list storage")
	}
}
