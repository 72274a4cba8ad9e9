package transport

import (
	"context"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

// cpuTime returns the process's user+system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pingResponseFrame is the OK response frame to pingFrame(b, 1).
func pingResponseFrame(b *testing.B) []byte {
	env := wire.NewRequest(wire.OpPing, 1, testTS)
	respEnv := wire.NewResponse(&env, wire.CodeOK, testTS)
	f, err := wire.AppendFrame(nil, &respEnv, &wire.PingResponse{})
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// fixedAnswer is a handler that answers every request with resp.
func fixedAnswer(resp []byte) Handler {
	return func(_ context.Context, _ PeerInfo, _, dst []byte) ([]byte, error) {
		return append(dst, resp...), nil
	}
}

// BenchmarkCall measures one PING round trip on a pooled connection over
// loopback: caller and callee run in this process, so cpu-ns/op is the CPU
// of both ends together. The handler appends a fixed response frame, so
// the figures are the transport's own cost.
func BenchmarkCall(b *testing.B) {
	respFrame := pingResponseFrame(b)
	fixed := fixedAnswer(respFrame)
	a := newNode(b, 1, fixed, nil)
	srv := newNode(b, 2, fixed, nil)
	req := pingFrame(b, 1)
	id := srv.ID()
	addr := srv.addr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	dst := make([]byte, 0, wire.FrameBufSize)
	if _, _, err := a.Call(ctx, addr, &id, req, dst); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n++
		resp, _, err := a.Call(ctx, addr, &id, req, dst)
		if err != nil || len(resp) != len(respFrame)-4 {
			b.Fatalf("call: %v (%d bytes)", err, len(resp))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
}

// BenchmarkCallParallel is BenchmarkCall with 32 callers per GOMAXPROCS
// sharing the pooled connection, so that QUIC packs several streams into a
// packet and the per-packet costs spread over several RPCs.
func BenchmarkCallParallel(b *testing.B) {
	respFrame := pingResponseFrame(b)
	fixed := fixedAnswer(respFrame)
	a := newNode(b, 1, fixed, nil)
	srv := newNode(b, 2, fixed, func(c *Config) { c.MaxStreamsPerConn = 1000 })
	req := pingFrame(b, 1)
	id := srv.ID()
	addr := srv.addr()
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	if _, _, err := a.Call(ctx, addr, &id, req, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		dst := make([]byte, 0, wire.FrameBufSize)
		for pb.Next() {
			resp, _, err := a.Call(ctx, addr, &id, req, dst)
			if err != nil || len(resp) != len(respFrame)-4 {
				b.Fatalf("call: %v (%d bytes)", err, len(resp))
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkHandshake measures one QUIC+TLS 1.3 handshake with mutual
// Ed25519 authentication over loopback, both ends in this process, with
// and without the hybrid post-quantum key exchange.
func BenchmarkHandshake(b *testing.B) {
	for _, tc := range []struct {
		name string
		off  bool
	}{{"X25519MLKEM768", false}, {"X25519", true}} {
		b.Run(tc.name, func(b *testing.B) {
			mod := func(c *Config) { c.DisableHybridKEX = tc.off }
			a := newNode(b, 1, nil, mod)
			srv := newNode(b, 2, nil, mod)
			addr := strings.TrimPrefix(srv.addr(), Scheme)
			port, err := strconv.Atoi(addr[strings.LastIndexByte(addr, ':')+1:])
			if err != nil {
				b.Fatal(err)
			}
			id := srv.ID()
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			n := 0
			for b.Loop() {
				n++
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				qc, err := a.dialHost(ctx, "127.0.0.1", uint16(port), &id)
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				_ = qc.CloseWithError(connShutdown, "")
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
		})
	}
}
