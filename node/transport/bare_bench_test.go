package transport

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// The bare quic-go benchmarks are the floor the transport stands on: the
// same mutual-TLS QUIC connection and one stream per request/response, but
// no framing checks, pools, deadlines, metrics or handler. The difference
// to BenchmarkCall / BenchmarkCallParallel is the transport's own cost.

// bareServer accepts one connection on a plain quic-go listener and answers
// every stream with resp after reading the request to its end.
func bareServer(b *testing.B, resp []byte) (addr string) {
	b.Helper()
	srv := newNode(b, 2, nil, nil) // only for its identity's TLS config
	ln, err := quic.ListenAddr("127.0.0.1:0", srv.serverTLS(), &quic.Config{MaxIncomingStreams: 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			qc, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			go func() {
				for {
					s, err := qc.AcceptStream(context.Background())
					if err != nil {
						return
					}
					go func() {
						buf := make([]byte, 0, 256)
						for {
							n, err := s.Read(buf[len(buf):cap(buf)])
							buf = buf[:len(buf)+n]
							if err != nil {
								break
							}
						}
						_, _ = s.Write(resp)
						_ = s.Close()
					}()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// bareDial dials the bare server with a client identity's TLS config.
func bareDial(b *testing.B, addr string) *quic.Conn {
	b.Helper()
	conf, err := ClientTLSConfig(testIdentity(b, 9), nil)
	if err != nil {
		b.Fatal(err)
	}
	qc, err := quic.DialAddr(context.Background(), addr, conf, &quic.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = qc.CloseWithError(0, "") })
	return qc
}

// bareRoundTrip runs one request/response on a new stream of qc.
func bareRoundTrip(ctx context.Context, qc *quic.Conn, req, buf []byte) ([]byte, error) {
	s, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.Write(req); err != nil {
		return nil, err
	}
	_ = s.Close()
	buf = buf[:0]
	for {
		n, err := s.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// benchBare drives the bare server from par goroutines per GOMAXPROCS
// (0: one caller, strictly sequential).
func benchBare(b *testing.B, par int) {
	respFrame := pingResponseFrame(b)
	qc := bareDial(b, bareServer(b, respFrame))
	req := pingFrame(b, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	check := func(buf []byte) []byte {
		resp, err := bareRoundTrip(ctx, qc, req, buf)
		if err != nil || len(resp) != len(respFrame) {
			b.Fatalf("round trip: %v (%d bytes)", err, len(resp))
		}
		return resp
	}
	check(make([]byte, 0, 256))
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	if par == 0 {
		buf := make([]byte, 0, 256)
		for b.Loop() {
			buf = check(buf)
		}
	} else {
		b.SetParallelism(par)
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, 0, 256)
			for pb.Next() {
				buf = check(buf)
			}
		})
	}
	b.StopTimer()
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkBareQUIC is one request/response at a time on a bare quic-go
// stream (compare BenchmarkCall).
func BenchmarkBareQUIC(b *testing.B) { benchBare(b, 0) }

// BenchmarkBareQUICParallel keeps 32 requests per GOMAXPROCS in flight on
// one bare quic-go connection (compare BenchmarkCallParallel).
func BenchmarkBareQUICParallel(b *testing.B) { benchBare(b, 32) }
