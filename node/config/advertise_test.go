package config

import (
	"slices"
	"strings"
	"testing"
)

func TestAdvertiseAddrs(t *testing.T) {
	cases := []struct {
		name   string
		value  string
		reason string // "" = accepted
	}{
		{"v4", "quic://203.0.113.5:4433", ""},
		{"v6 and name", "quic://[2001:db8::1]:4433,quic://node.example.org:4433", ""},
		{"no scheme", "203.0.113.5:4433", "want quic://host:port"},
		{"seed form", "b3:" + strings.Repeat("ab", 32) + "@quic://a:1", "want quic://host:port"},
		{"no host", "quic://:4433", "want a host"},
		{"v4 wildcard", "quic://0.0.0.0:4433", "is a wildcard"},
		{"v6 wildcard", "quic://[::]:4433", "is a wildcard"},
		{"port 0", "quic://203.0.113.5:0", "port 0"},
		{"port big", "quic://203.0.113.5:65536", `port "65536"`},
		{"bad host", "quic://a_b.example:1", "not a valid host name"},
		{"twice", "quic://a:1,quic://a:1", "listed twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(Sources{Args: []string{"--advertise_addrs=" + c.value}})
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if want := strings.Split(c.value, ","); !slices.Equal(cfg.AdvertiseAddrs, want) {
					t.Fatalf("advertise_addrs = %q, want %q", cfg.AdvertiseAddrs, want)
				}
				return
			}
			ps := problemsOf(t, err)
			if !hasProblem(ps, "advertise_addrs", c.reason) || len(ps) != 1 {
				t.Fatalf("got\n%v\nwant advertise_addrs: ...%s", err, c.reason)
			}
		})
	}

	// Empty by default, restart-only, copied by Clone.
	def, err := Defaults(Micronode)
	if err != nil {
		t.Fatal(err)
	}
	if len(def.AdvertiseAddrs) != 0 {
		t.Errorf("default advertise_addrs %q, want none", def.AdvertiseAddrs)
	}
	if k, _ := LookupKey("advertise_addrs"); k.Reloadable {
		t.Error("advertise_addrs should need a restart")
	}
	def.AdvertiseAddrs = []string{"quic://a:1"}
	cp := def.Clone()
	cp.AdvertiseAddrs[0] = "quic://b:2"
	if def.AdvertiseAddrs[0] != "quic://a:1" {
		t.Error("Clone shares advertise_addrs")
	}
}

// The inflight cap leaves room for a full work queue and the event loops'
// in-hand work, so that overload is answered 1501 by the queue first.
func TestInflightAboveQueue(t *testing.T) {
	for _, p := range []Profile{Micronode, Macronode} {
		c, err := Defaults(p)
		if err != nil {
			t.Fatal(err)
		}
		room := c.QueueCap.Work // event loops: up to one job each, GOMAXPROCS of them
		if p == Macronode {
			room += c.QueueCap.Work // the signature-check queue
		}
		if c.Limits.MaxInflight <= room {
			t.Errorf("%s: limits.max_inflight %d <= %d queued requests possible", p, c.Limits.MaxInflight, room)
		}
	}
}
