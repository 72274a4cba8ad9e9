package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/zeebo/blake3"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/node/core"
	"github.com/svc-dht/svc-dht/node/identity"
	"github.com/svc-dht/svc-dht/node/transport"
	"github.com/svc-dht/svc-dht/wire"
)

// Integration tests over real QUIC on loopback (issue 4, point 9): hostile
// inputs sent over the wire to a running node, below and above the frame
// layer, from a raw quic-go client holding a valid mutual-TLS identity.

// rawConn is a bare quic-go connection to a node, authenticated with a
// valid identity (transport.ClientTLSConfig), on which a test writes any
// bytes it likes.
type rawConn struct {
	qc   *quic.Conn
	id   *identity.Identity
	corr uint64
}

// dialRaw connects to n from a fresh loopback socket with a new identity
// (with an ML-DSA-87 key, for dual-signed records). Everything is closed
// when the test ends.
func dialRaw(t *testing.T, n *Node, seed byte) *rawConn {
	t.Helper()
	id, err := identity.Generate(rand.NewChaCha8([32]byte{seed, 0xa7}), true)
	if err != nil {
		t.Fatal(err)
	}
	expect := n.ID()
	conf, err := transport.ClientTLSConfig(id, &expect)
	if err != nil {
		t.Fatal(err)
	}
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	qt := &quic.Transport{Conn: udp}
	t.Cleanup(func() {
		_ = qt.Close()
		_ = udp.Close()
	})
	ua, err := net.ResolveUDPAddr("udp", strings.TrimPrefix(n.Addrs()[0], transport.Scheme))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	qc, err := qt.Dial(ctx, ua, conf, &quic.Config{HandshakeIdleTimeout: waitBound, MaxIdleTimeout: waitBound})
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { _ = qc.CloseWithError(0, "") })
	return &rawConn{qc: qc, id: id, corr: 1000}
}

// open opens a stream and writes b on it; fin closes the write side. The
// node may stop the upload (STOP_SENDING) before the write or the close
// is done: what it answers is read from the stream afterwards.
func (c *rawConn) open(t *testing.T, b []byte, fin bool) *quic.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitBound)
	defer cancel()
	s, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if _, err := s.Write(b); err != nil && !stoppedByPeer(err) {
		t.Fatalf("write: %v", err)
	}
	if fin {
		if err := s.Close(); err != nil && !stoppedByPeer(err) {
			t.Fatalf("close write side: %v", err)
		}
	}
	return s
}

// stoppedByPeer reports whether err is the node's STOP_SENDING of a
// stream's upload. (quic-go reports a Close after it as a use of a
// canceled stream.)
func stoppedByPeer(err error) bool {
	var se *quic.StreamError
	return errors.As(err, &se) && se.Remote || strings.Contains(err.Error(), "canceled stream")
}

// answer reads s to its end and decodes the one response frame on it; a
// reset stream is returned as the error.
func answer(t *testing.T, s *quic.Stream) (wire.Envelope, error) {
	t.Helper()
	var env wire.Envelope
	_ = s.SetReadDeadline(time.Now().Add(waitBound))
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(s); err != nil {
		return env, err
	}
	frame, err := wire.ReadFrame(&buf, nil, 0)
	if err != nil {
		t.Fatalf("answer is not a frame: %v", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("%d bytes after the answer frame", buf.Len())
	}
	if err := wire.DecodeEnvelope(frame, &env); err != nil {
		t.Fatalf("answer envelope: %v", err)
	}
	if !env.IsResponse() {
		t.Fatalf("answer is not a response: flags %d", env.Flags)
	}
	return env, nil
}

// frame encodes req as a request frame with the next corr_id.
func (c *rawConn) frame(t *testing.T, req *core.Request) []byte {
	t.Helper()
	c.corr++
	f, err := appendRequestFrame(nil, req, c.corr, time.Now().Unix())
	if err != nil {
		t.Fatalf("encode %v request: %v", req.Op, err)
	}
	return f
}

// call sends req on a new stream of c and decodes the answer.
func (c *rawConn) call(t *testing.T, req *core.Request) (wire.Envelope, core.Response) {
	t.Helper()
	env, err := answer(t, c.open(t, c.frame(t, req), true))
	if err != nil {
		t.Fatalf("%v: %v", req.Op, err)
	}
	if env.CorrID != c.corr || env.Op != req.Op {
		t.Fatalf("%v answer: op %v corr %d, want corr %d", req.Op, env.Op, env.CorrID, c.corr)
	}
	var resp core.Response
	if err := core.DecodeResponse(&env, &resp); err != nil {
		t.Fatalf("%v answer body: %v", req.Op, err)
	}
	return env, resp
}

// ping checks that n answers a normal PING on c's connection.
func (c *rawConn) ping(t *testing.T, n *Node) {
	t.Helper()
	env, resp := c.call(t, &core.Request{Op: wire.OpPing})
	if env.Code != wire.CodeOK || kbucket.ID(resp.Self.ID) != n.ID() {
		t.Fatalf("PING: code %v, self %x; want OK from %s", env.Code, resp.Self.ID[:4], n.ID().Short())
	}
}

// resetCode returns the code of the peer's reset of a stream, or fails.
func resetCode(t *testing.T, err error) quic.StreamErrorCode {
	t.Helper()
	var se *quic.StreamError
	if !errors.As(err, &se) || !se.Remote {
		t.Fatalf("stream error %v, want a reset by the node", err)
	}
	return se.ErrorCode
}

// metricValue returns the value of one series (name{labels}) in n's
// /metrics text; a series not exported yet is 0.
func metricValue(t *testing.T, n *Node, series string) float64 {
	t.Helper()
	for line := range strings.SplitSeq(metricsText(t, n), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}

// signedRecord returns a record for key published by c's identity, valid
// at ts for ttl seconds.
func (c *rawConn) signedRecord(t *testing.T, key kbucket.ID, ts int64, ttl uint32, dual bool) *wire.ProviderRecord {
	t.Helper()
	rec := &wire.ProviderRecord{Key: key, Addrs: []string{"quic://127.0.0.1:9"}, TTL: ttl, TS: ts}
	if err := identity.Sign(rec, c.id, dual); err != nil {
		t.Fatal(err)
	}
	return rec
}

// providers asks n, over c, for the providers of key it stores.
func (c *rawConn) providers(t *testing.T, key kbucket.ID) []wire.ProviderRecord {
	t.Helper()
	env, resp := c.call(t, &core.Request{Op: wire.OpFindValue, Key: key})
	if env.Code != wire.CodeOK {
		t.Fatalf("FIND_VALUE: code %v %q", env.Code, env.Reason)
	}
	return resp.Providers
}

func TestIntegrationHostileInputs(t *testing.T) {
	// A running node of a two-node network, with a short read deadline on
	// inbound streams.
	seed := startNode(t, testConfig(t), testOptions(50, nil))
	opts := testOptions(51, nil)
	opts.hooks = &testHooks{streamTimeout: 300 * time.Millisecond}
	n := startNode(t, testConfig(t, seedOf(seed)), opts)
	waitReady(t, n)
	c := dialRaw(t, n, 1)
	c.ping(t, n)
	now := time.Now().Unix()

	type delta struct {
		series string
		by     float64
	}
	malformed := delta{`rejected_total{reason="malformed"}`, 1}
	cases := []struct {
		name  string
		moves []delta // counters that must move, and by how much
		run   func(t *testing.T)
	}{
		{"garbage frame body", []delta{malformed}, func(t *testing.T) {
			// Well framed, random bytes inside: 1422 with a reason.
			rng := rand.New(rand.NewPCG(51, 1))
			body := make([]byte, 300)
			for i := range body {
				body[i] = byte(rng.Uint32())
			}
			body[0] = 0xff // a CBOR "break" never starts an item
			f := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
			env, err := answer(t, c.open(t, append(f, body...), true))
			if err != nil || env.Code != wire.CodeMalformed || env.Reason == "" {
				t.Fatalf("answer %+v, %v; want 1422 with a reason", env, err)
			}
		}},
		{"garbage text", []delta{{`rejected_total{reason="frame_too_large"}`, 1}}, func(t *testing.T) {
			// Text where a frame should be: "GET " is a 1.2 GB length.
			env, err := answer(t, c.open(t, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true))
			if err != nil || env.Code != wire.CodeFrameTooLarge {
				t.Fatalf("answer %+v, %v; want 1413", env, err)
			}
		}},
		{"oversize length prefix", []delta{{`rejected_total{reason="frame_too_large"}`, 1}}, func(t *testing.T) {
			// The write side stays open: the node answers without waiting
			// for the announced bytes, on this stream only.
			f := binary.BigEndian.AppendUint32(nil, wire.FrameMax+1)
			s := c.open(t, append(f, make([]byte, 1000)...), false)
			_ = s.SetReadDeadline(time.Now().Add(waitBound))
			resp, err := wire.ReadFrame(s, nil, 0)
			s.CancelWrite(0)
			if err != nil {
				t.Fatalf("no answer to an oversize length: %v", err)
			}
			var env wire.Envelope
			if err := wire.DecodeEnvelope(resp, &env); err != nil || env.Code != wire.CodeFrameTooLarge {
				t.Fatalf("answer %+v, %v; want 1413", env, err)
			}
		}},
		{"truncated frame", []delta{malformed}, func(t *testing.T) {
			// FIN after 10 of 100 announced bytes: the stream is reset.
			f := binary.BigEndian.AppendUint32(nil, 100)
			_, err := answer(t, c.open(t, append(f, make([]byte, 10)...), true))
			if code := resetCode(t, err); code != quic.StreamErrorCode(wire.CodeMalformed) {
				t.Fatalf("reset code %d, want 1422", code)
			}
		}},
		{"wrong proto_ver", []delta{{`rejected_total{reason="bad_version"}`, 1}}, func(t *testing.T) {
			f := c.frame(t, &core.Request{Op: wire.OpPing})
			// 4-byte length, then map(7), key 0, proto_ver 1.
			if !bytes.Equal(f[4:7], []byte{0xa7, 0x00, 0x01}) {
				t.Fatalf("unexpected envelope head % x", f[4:7])
			}
			f[6] = 2
			env, err := answer(t, c.open(t, f, true))
			if err != nil || env.Code != wire.CodeBadVersion {
				t.Fatalf("answer %+v, %v; want 1400", env, err)
			}
		}},
		{"unknown opcode", []delta{malformed}, func(t *testing.T) {
			f := c.frame(t, &core.Request{Op: wire.OpPing})
			// ... then key 1, opcode 0 (PING).
			if !bytes.Equal(f[7:9], []byte{0x01, 0x00}) {
				t.Fatalf("unexpected envelope head % x", f[4:9])
			}
			f[8] = 0x17 // 23: no such opcode
			env, err := answer(t, c.open(t, f, true))
			if err != nil || env.Code != wire.CodeMalformed || !strings.Contains(env.Reason, "opcode") {
				t.Fatalf("answer %+v, %v; want 1422 naming the opcode", env, err)
			}
		}},
		{"forged ed25519 signature", []delta{
			{`pq_verify_fail_total{alg="ed25519"}`, 1},
			{`rejected_total{reason="bad_signature"}`, 1},
			{`provider_records_total{state="invalid"}`, 1},
		}, func(t *testing.T) {
			key := kbucket.ID(blake3.Sum256([]byte("forged ed25519")))
			rec := c.signedRecord(t, key, now, 3600, false)
			rec.Sigs[0].Sig[7] ^= 1
			env, resp := c.call(t, &core.Request{Op: wire.OpProvide, Record: rec})
			if env.Code != wire.CodeBadSignature || resp.Accepted {
				t.Fatalf("PROVIDE of a forged record: code %v accepted %v; want 1440", env.Code, resp.Accepted)
			}
			if p := c.providers(t, key); len(p) != 0 {
				t.Fatalf("forged record stored: %d providers", len(p))
			}
		}},
		{"forged ml-dsa-87 signature", []delta{
			{`pq_verify_fail_total{alg="ml-dsa-87"}`, 1},
			{`rejected_total{reason="bad_signature"}`, 1},
			{`provider_records_total{state="invalid"}`, 1},
		}, func(t *testing.T) {
			// A dual-signed record whose Ed25519 signature holds and
			// whose ML-DSA-87 signature does not.
			key := kbucket.ID(blake3.Sum256([]byte("forged ml-dsa-87")))
			rec := c.signedRecord(t, key, now, 3600, true)
			rec.Sigs[1].Sig[100] ^= 1
			env, resp := c.call(t, &core.Request{Op: wire.OpProvide, Record: rec})
			if env.Code != wire.CodeBadSignature || resp.Accepted {
				t.Fatalf("PROVIDE of a forged record: code %v accepted %v; want 1440", env.Code, resp.Accepted)
			}
			if p := c.providers(t, key); len(p) != 0 {
				t.Fatalf("forged record stored: %d providers", len(p))
			}
		}},
		{"stale record", []delta{
			{`rejected_total{reason="stale_record"}`, 1},
			{`provider_records_total{state="invalid"}`, 1},
		}, func(t *testing.T) {
			// Validly signed, expired an hour ago.
			key := kbucket.ID(blake3.Sum256([]byte("stale")))
			rec := c.signedRecord(t, key, now-2*3600, 3600, true)
			env, resp := c.call(t, &core.Request{Op: wire.OpProvide, Record: rec})
			if env.Code != wire.CodeStaleRecord || resp.Accepted {
				t.Fatalf("PROVIDE of a stale record: code %v accepted %v; want 1441", env.Code, resp.Accepted)
			}
			if p := c.providers(t, key); len(p) != 0 {
				t.Fatalf("stale record stored: %d providers", len(p))
			}
		}},
		{"valid record (control)", []delta{{`provider_records_total{state="stored"}`, 1}}, func(t *testing.T) {
			// The same path with a good record stores it: the checks
			// above can see a stored record.
			key := kbucket.ID(blake3.Sum256([]byte("valid")))
			rec := c.signedRecord(t, key, now, 3600, true)
			env, resp := c.call(t, &core.Request{Op: wire.OpProvide, Record: rec})
			if env.Code != wire.CodeOK || !resp.Accepted {
				t.Fatalf("PROVIDE of a valid record: code %v %q accepted %v", env.Code, env.Reason, resp.Accepted)
			}
			p := c.providers(t, key)
			if len(p) != 1 || kbucket.ID(p[0].Publisher) != c.id.ID() {
				t.Fatalf("valid record not stored: %+v", p)
			}
		}},
		{"stream never finishes", []delta{{`rejected_total{reason="stream_timeout"}`, 1}}, func(t *testing.T) {
			// 10 of 100 announced bytes and the write side left open: the
			// node's read deadline resets the stream.
			f := binary.BigEndian.AppendUint32(nil, 100)
			s := c.open(t, append(f, make([]byte, 10)...), false)
			_, err := answer(t, s)
			s.CancelWrite(0)
			if code := resetCode(t, err); code != quic.StreamErrorCode(wire.CodeTimeout) {
				t.Fatalf("reset code %d, want 1508", code)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := make([]float64, len(tc.moves))
			for i, d := range tc.moves {
				before[i] = metricValue(t, n, d.series)
			}
			tc.run(t)
			for i, d := range tc.moves {
				if got := metricValue(t, n, d.series) - before[i]; got != d.by {
					t.Errorf("%s moved by %v, want %v", d.series, got, d.by)
				}
			}
			// The node is still ready and answers on the same connection.
			if ok, missing := n.Ready(); !ok {
				t.Fatalf("node not ready: %v", missing)
			}
			c.ping(t, n)
		})
	}
	if err := c.qc.Context().Err(); err != nil {
		t.Fatalf("the raw connection did not survive: %v", err)
	}
}
