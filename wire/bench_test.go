package wire

import (
	"bytes"
	"io"
	"testing"
)

// Benchmarks: go test ./wire -run '^$' -bench . -benchmem -benchtime 20000x
//
// Encode/<msg> and Decode/<msg> cover every vector message, envelope
// included (Decode = DecodeEnvelope + DecodeBody into reused values).
// HotPathFindNode is the server path: decode a FIND_NODE request, encode a
// 20-node response frame into a pooled buffer. Fxamacker/* measure the
// reference codec on the same 20-node response for comparison.

func benchMessages(b *testing.B) []vectorMsg {
	msgs := vectorMessages()
	h := newHotPath(b)
	env := NewResponse(&Envelope{Op: OpFindNode, CorrID: 1}, CodeOK, vectorTS)
	return append(msgs, vectorMsg{Name: "find_node_response_20", Env: env, Body: &h.resp})
}

func BenchmarkEncode(b *testing.B) {
	for _, m := range benchMessages(b) {
		b.Run(m.Name, func(b *testing.B) {
			buf := make([]byte, 0, 8192)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = AppendEnvelope(buf[:0], &m.Env, m.Body); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, m := range benchMessages(b) {
		b.Run(m.Name, func(b *testing.B) {
			in := mustEnvelope(b, m)
			var env Envelope
			body := newBody(m.Env.Op, m.Env.IsResponse())
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if err := DecodeEnvelope(in, &env); err != nil {
					b.Fatal(err)
				}
				if m.Body == nil {
					continue // error response: body not decoded
				}
				if err := DecodeBody(env.Op, env.Flags, env.Body, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHotPathFindNode(b *testing.B) {
	h := newHotPath(b)
	b.ReportAllocs()
	for b.Loop() {
		h.run(b)
	}
}

func BenchmarkFxamacker(b *testing.B) {
	h := newHotPath(b)
	body := &h.resp
	b.Run("encode_find_node_response_20", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := refEnc.Marshal(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	in := must(AppendBody(nil, body))
	b.Run("decode_find_node_response_20", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out FindNodeResponse
			if err := refStructDec.Unmarshal(in, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	req := must(AppendBody(nil, &FindNodeRequest{Target: vid(1)}))
	b.Run("decode_find_node_request", func(b *testing.B) {
		b.ReportAllocs()
		var out FindNodeRequest
		for b.Loop() {
			if err := refStructDec.Unmarshal(req, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkReadFrame(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
	}{{"100B", 100}, {"64KiB", 64 << 10}, {"1MiB", FrameMax - 64}} {
		frame := bigFrame(b, c.n)
		b.Run(c.name+"/reused_buffer", func(b *testing.B) {
			buf := make([]byte, 0, len(frame))
			r := bytes.NewReader(frame)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(frame)
				if _, err := ReadFrame(r, buf, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/pools", func(b *testing.B) {
			var p Pools
			r := bytes.NewReader(frame)
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(frame)
				fb, err := p.ReadFrame(r, 0)
				if err != nil {
					b.Fatal(err)
				}
				p.Put(fb)
			}
		})
	}
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, c := range []struct {
		name string
		n    int
	}{{"100B", 100}, {"64KiB", 64 << 10}, {"1MiB", FrameMax - 64}} {
		frame := bigFrame(b, c.n)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteFrame(io.Discard, frame, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	env := NewRequest(OpStore, 3, vectorTS)
	body := &StoreRequest{Key: vid(1), Value: bytes.Repeat([]byte{1}, 100)}
	b.Run("append_frame_100B", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = AppendFrame(buf[:0], &env, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
