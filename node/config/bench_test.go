package config

import "testing"

// BenchmarkLoad measures a start-up load: a file, environment and flags
// (config loading runs before the first seed dial, SPEC §8).
func BenchmarkLoad(b *testing.B) {
	file := files{"svc-dht.toml": `
profile = "macronode"
data_dir = "/var/lib/svc-dht"
alpha = 4
rpc_timeout = "1200ms"
[limits]
max_rps = 4000
[bootstrap]
seeds = ["quic://seed1.example.org:4433", "quic://[2001:db8::1]:4433"]
[log]
level = "warn"
`}
	src := Sources{
		Args:     []string{"--config=svc-dht.toml", "--hedge_after=200ms", "--bootstrap.required=2"},
		Env:      []string{"HOME=/root", "PATH=/usr/bin", "SVC_DHT_QUEUE_CAP_WORK=1024", "SVC_DHT_LOG_FORMAT=text"},
		ReadFile: file.read,
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(src); err != nil {
			b.Fatal(err)
		}
	}
}
