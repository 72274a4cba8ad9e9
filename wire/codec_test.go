package wire

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/fxamacker/cbor/v2"
)

// TestFxamackerPadsWrongLengthIDs documents why the codec does its own
// length checks: fxamacker pads a 31-byte string into a [32]byte and cuts a
// 33-byte one, while DecodeBody rejects both.
func TestFxamackerPadsWrongLengthIDs(t *testing.T) {
	id := vid(1)
	for _, n := range []int{31, 33} {
		b := append([]byte{0xa1, 0x00, 0x58, byte(n)}, id[:]...)
		if n == 31 {
			b = b[:len(b)-1]
		} else {
			b = append(b, 0xff)
		}
		var fx FindNodeRequest
		if err := cbor.Unmarshal(b, &fx); err != nil {
			t.Fatalf("fxamacker now rejects %d bytes (%v): revisit the codec notes", n, err)
		}
		var got FindNodeRequest
		err := DecodeBody(OpFindNode, FlagReq, b, &got)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "want 32 bytes") {
			t.Fatalf("%d-byte target: %v", n, err)
		}
	}
}

// encodeTree encodes a generic value canonically (test helper).
func encodeTree(t *testing.T, v any) []byte {
	t.Helper()
	b, err := refEnc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pingTree(t *testing.T) map[any]any {
	t.Helper()
	env := NewRequest(OpPing, 1, 1)
	b, err := AppendEnvelope(nil, &env, nil)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := refDec.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.(map[any]any)
}

func TestDecodeEnvelopeRules(t *testing.T) {
	cases := []struct {
		name string
		edit func(m map[any]any)
		want Code // 0: accepted
	}{
		{"negative ts", func(m map[any]any) { m[uint64(keyTS)] = int64(-5) }, 0},
		{"ts overflows int64", func(m map[any]any) { m[uint64(keyTS)] = uint64(math.MaxInt64 + 1) }, CodeMalformed},
		{"opcode 256", func(m map[any]any) { m[uint64(keyOp)] = uint64(256) }, CodeMalformed},
		{"hops 256", func(m map[any]any) { m[uint64(keyHops)] = uint64(256) }, CodeMalformed},
		{"hedged request", func(m map[any]any) { m[uint64(keyFlags)] = uint64(FlagReq | FlagHedge) }, 0},
		{"unknown flag bit", func(m map[any]any) { m[uint64(keyFlags)] = uint64(FlagReq | 8) }, CodeMalformed},
		{"no direction", func(m map[any]any) { m[uint64(keyFlags)] = uint64(0) }, CodeMalformed},
		{"hedged response", func(m map[any]any) {
			m[uint64(keyFlags)] = uint64(FlagResp | FlagHedge)
			m[uint64(keyCode)] = uint64(CodeOK)
		}, CodeMalformed},
		{"response without code", func(m map[any]any) { m[uint64(keyFlags)] = uint64(FlagResp) }, CodeMalformed},
		{"response code 0", func(m map[any]any) {
			m[uint64(keyFlags)] = uint64(FlagResp)
			m[uint64(keyCode)] = uint64(0)
		}, CodeMalformed},
		{"OK response with corr_id 0", func(m map[any]any) {
			m[uint64(keyFlags)] = uint64(FlagResp)
			m[uint64(keyCode)] = uint64(CodeOK)
			m[uint64(keyCorrID)] = uint64(0)
		}, CodeMalformed},
		{"error response with corr_id 0", func(m map[any]any) {
			m[uint64(keyFlags)] = uint64(FlagResp)
			m[uint64(keyCode)] = uint64(CodeMalformed)
			m[uint64(keyCorrID)] = uint64(0)
		}, 0},
		{"reason in request", func(m map[any]any) { m[uint64(keyReason)] = "why" }, CodeMalformed},
		{"reason too long", func(m map[any]any) {
			m[uint64(keyFlags)] = uint64(FlagResp)
			m[uint64(keyCode)] = uint64(CodeBusy)
			m[uint64(keyReason)] = strings.Repeat("r", MaxReasonLen+1)
		}, CodeMalformed},
		{"reason not text", func(m map[any]any) {
			m[uint64(keyFlags)] = uint64(FlagResp)
			m[uint64(keyCode)] = uint64(CodeBusy)
			m[uint64(keyReason)] = []byte("why")
		}, CodeMalformed},
		{"body array", func(m map[any]any) { m[uint64(keyBody)] = []any{} }, CodeMalformed},
		{"proto_ver text", func(m map[any]any) { m[uint64(keyProtoVer)] = "1" }, CodeMalformed},
		{"proto_ver missing", func(m map[any]any) { delete(m, uint64(keyProtoVer)) }, CodeMalformed},
		{"proto_ver 0", func(m map[any]any) { m[uint64(keyProtoVer)] = uint64(0) }, CodeBadVersion},
		{"unknown key with largest uint", func(m map[any]any) { m[uint64(math.MaxUint64)] = true }, 0},
		{"unknown key with nested unknowns", func(m map[any]any) {
			m[uint64(100)] = map[any]any{uint64(1): []any{uint64(2), "x", []byte{}}}
		}, 0},
		{"text key", func(m map[any]any) { m["x"] = uint64(1) }, CodeMalformed},
		{"null under unknown key", func(m map[any]any) { m[uint64(9)] = nil }, CodeMalformed},
		{"invalid UTF-8 under unknown key", func(m map[any]any) { m[uint64(9)] = "\xff" }, CodeMalformed},
		{"too many items under unknown key", func(m map[any]any) { m[uint64(9)] = make([]any, MaxItems+1) }, CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := pingTree(t)
			c.edit(m)
			b := encodeTree(t, m)
			var env Envelope
			err := DecodeEnvelope(b, &env)
			if CodeOf(err) != c.want && !(c.want == 0 && err == nil) {
				t.Fatalf("err %v, want code %v", err, c.want)
			}
			if c.want == 0 && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			agreeEnvelope(t, b)
		})
	}
}

func TestDecodeLargestKeyThenMore(t *testing.T) {
	// {0xffffffffffffffff: 1, ...} can have no further key: a second key
	// after the largest one is out of order by definition.
	b := []byte{0xa2, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01}
	var r PingRequest
	if err := DecodeBody(OpPing, FlagReq, b, &r); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err %v", err)
	}
	if err := DecodeBody(OpPing, FlagReq, b[:11], &r); err == nil {
		t.Fatal("truncated map accepted")
	}
	b[0] = 0xa1
	if err := DecodeBody(OpPing, FlagReq, b[:11], &r); err != nil {
		t.Fatalf("largest key alone: %v", err)
	}
}

func TestDecodeEnvelopeOversize(t *testing.T) {
	var env Envelope
	err := DecodeEnvelope(make([]byte, FrameMax+1), &env)
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err %v", err)
	}
	var r FindNodeRequest
	if err := DecodeBody(OpFindNode, FlagReq, make([]byte, FrameMax+1), &r); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("body err %v", err)
	}
	var rec ProviderRecord
	if err := DecodeProviderRecord(make([]byte, FrameMax+1), &rec); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("record err %v", err)
	}
}

func TestDecodeBodyRules(t *testing.T) {
	rec := vectorRecord()
	node := NodeInfo{ID: vid(1), Addrs: []string{"quic://a:1"}}
	body := func(v any) []byte { return must(AppendBody(nil, v)) }
	recTree := func(edit func(m map[any]any)) []byte {
		return editTree(t, body(&ProvideRequest{Record: rec}), func(m map[any]any) { edit(m[uint64(0)].(map[any]any)) })
	}
	nodeTree := func(edit func(m map[any]any)) []byte {
		return editTree(t, body(&PingResponse{Self: node}), func(m map[any]any) { edit(m[uint64(0)].(map[any]any)) })
	}
	cases := []struct {
		name string
		op   Opcode
		resp bool
		b    []byte
		want Code
	}{
		{"find_value both lists", OpFindValue, true, editTree(t, body(&FindValueResponse{Closest: []NodeInfo{node}}), func(m map[any]any) { m[uint64(1)] = []any{} }), CodeMalformed},
		{"find_value empty providers", OpFindValue, true, []byte{0xa1, 0x01, 0x80}, 0},
		{"closest over 32", OpFindNode, true, editTree(t, body(&FindNodeResponse{Closest: []NodeInfo{node}}), func(m map[any]any) {
			l := m[uint64(0)].([]any)
			for len(l) <= MaxClosest {
				l = append(l, l[0])
			}
			m[uint64(0)] = l
		}), CodeMalformed},
		{"node asn over uint32", OpPing, true, nodeTree(func(m map[any]any) { m[uint64(2)] = uint64(1 << 32) }), CodeMalformed},
		{"node asn present as 0", OpPing, true, nodeTree(func(m map[any]any) { m[uint64(2)] = uint64(0) }), 0},
		{"node addrs missing", OpPing, true, nodeTree(func(m map[any]any) { delete(m, uint64(1)) }), CodeMalformed},
		{"node addr too long", OpPing, true, nodeTree(func(m map[any]any) { m[uint64(1)] = []any{strings.Repeat("a", MaxAddrLen+1)} }), CodeMalformed},
		{"node addr bytes", OpPing, true, nodeTree(func(m map[any]any) { m[uint64(1)] = []any{[]byte("a")} }), CodeMalformed},
		{"record signer of 3", OpProvide, false, recTree(func(m map[any]any) {
			m[uint64(6)] = []any{[]any{uint64(1), make([]byte, 32), uint64(0)}}
		}), CodeMalformed},
		{"record signer alg 256", OpProvide, false, recTree(func(m map[any]any) {
			m[uint64(6)] = []any{[]any{uint64(256), make([]byte, 32)}}
		}), CodeMalformed},
		{"record unknown alg", OpProvide, false, recTree(func(m map[any]any) {
			m[uint64(6)] = []any{[]any{uint64(99), make([]byte, 32)}}
		}), 0},
		{"record no sigs", OpProvide, false, recTree(func(m map[any]any) { m[uint64(7)] = []any{} }), 0},
		{"record sigs missing", OpProvide, false, recTree(func(m map[any]any) { delete(m, uint64(7)) }), CodeMalformed},
		{"record 5 sigs", OpProvide, false, recTree(func(m map[any]any) {
			s := m[uint64(7)].([]any)[0]
			m[uint64(7)] = []any{s, s, s, s, s}
		}), CodeMalformed},
		{"record pk too long", OpProvide, false, recTree(func(m map[any]any) {
			m[uint64(7)].([]any)[0].(map[any]any)[uint64(1)] = make([]byte, MaxPublicKeyLen+1)
		}), CodeMalformed},
		{"record sig missing", OpProvide, false, recTree(func(m map[any]any) {
			delete(m[uint64(7)].([]any)[0].(map[any]any), uint64(2))
		}), CodeMalformed},
		{"record ttl over uint32", OpProvide, false, recTree(func(m map[any]any) { m[uint64(4)] = uint64(1 << 32) }), CodeMalformed},
		{"record proto_ver 3", OpProvide, false, recTree(func(m map[any]any) { m[uint64(0)] = uint64(3) }), CodeBadVersion},
		{"store value text", OpStore, false, editTree(t, body(&StoreRequest{}), func(m map[any]any) { m[uint64(1)] = "v" }), CodeMalformed},
		{"store key missing", OpStore, false, editTree(t, body(&StoreRequest{}), func(m map[any]any) { delete(m, uint64(0)) }), CodeMalformed},
		{"accepted not bool", OpProvide, true, []byte{0xa1, 0x00, 0x01}, CodeMalformed},
		{"accepted missing", OpStore, true, []byte{0xa0}, CodeMalformed},
		{"ping request with unknown keys", OpPing, false, []byte{0xa2, 0x00, 0x01, 0x05, 0x80}, 0},
		{"ping request array", OpPing, false, []byte{0x80}, CodeMalformed},
		{"empty input", OpPing, false, nil, CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			flags := FlagReq
			if c.resp {
				flags = FlagResp
			}
			err := DecodeBody(c.op, flags, c.b, newBody(c.op, c.resp))
			if c.want == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
			} else if CodeOf(err) != c.want {
				t.Fatalf("err %v, want code %v", err, c.want)
			}
			agreeBody(t, c.op, flags, c.b)
		})
	}
}

func TestDecodeBodyTypeChecks(t *testing.T) {
	b := must(AppendBody(nil, &FindNodeRequest{}))
	if err := DecodeBody(OpFindNode, FlagResp, b, &FindNodeRequest{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("request type for a response: %v", err)
	}
	if err := DecodeBody(OpFindValue, FlagReq, b, &FindNodeRequest{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("wrong opcode: %v", err)
	}
	var s string
	if err := DecodeBody(OpFindNode, FlagReq, b, &s); !errors.Is(err, ErrMalformed) {
		t.Fatalf("foreign type: %v", err)
	}
	if err := DecodeBody(OpFindNode, FlagReq, b, FindNodeRequest{}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-pointer: %v", err)
	}
	if err := DecodeBody(OpFindNode, FlagReq, b, (*FindNodeRequest)(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil pointer: %v", err)
	}
	if _, err := AppendBody(nil, (*FindNodeResponse)(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("encode nil pointer: %v", err)
	}
	env := NewRequest(OpFindNode, 1, 1)
	if _, err := AppendEnvelope(nil, &env, (*FindNodeRequest)(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("envelope with nil body pointer: %v", err)
	}
}

func TestEncodeRefusesInvalidValues(t *testing.T) {
	long := strings.Repeat("a", MaxAddrLen+1)
	many := make([]string, MaxAddrs+1)
	rec := vectorRecord()
	recWith := func(edit func(r *ProviderRecord)) *ProvideRequest {
		r := rec
		r.Sigs = slices.Clone(rec.Sigs)
		edit(&r)
		return &ProvideRequest{Record: r}
	}
	cases := []struct {
		name string
		body any
		want Code
	}{
		{"addr too long", &PingResponse{Self: NodeInfo{Addrs: []string{long}}}, CodeMalformed},
		{"addr invalid UTF-8", &PingResponse{Self: NodeInfo{Addrs: []string{"\xff"}}}, CodeMalformed},
		{"too many addrs", &PingResponse{Self: NodeInfo{Addrs: many}}, CodeMalformed},
		{"too many closest", &FindNodeResponse{Closest: make([]NodeInfo, MaxClosest+1)}, CodeMalformed},
		{"too many providers", &FindValueResponse{Providers: make([]ProviderRecord, MaxProviders+1)}, CodeMalformed},
		{"both lists", &FindValueResponse{Closest: []NodeInfo{{}}, Providers: []ProviderRecord{rec}}, CodeMalformed},
		{"record proto_ver 0", recWith(func(r *ProviderRecord) { r.ProtoVer = 0 }), CodeBadVersion},
		{"too many sigs", recWith(func(r *ProviderRecord) { r.Sigs = make([]Signature, MaxSigners+1) }), CodeMalformed},
		{"too many signers", recWith(func(r *ProviderRecord) { r.Signers = make([]Signer, MaxSigners+1) }), CodeMalformed},
		{"pk too long", recWith(func(r *ProviderRecord) { r.Sigs[0].PublicKey = make([]byte, MaxPublicKeyLen+1) }), CodeMalformed},
		{"sig too long", recWith(func(r *ProviderRecord) { r.Sigs[0].Sig = make([]byte, MaxSigLen+1) }), CodeMalformed},
		{"unsupported type", "text", CodeMalformed},
	}
	prefix := []byte{1, 2, 3}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := AppendBody(prefix, c.body)
			if CodeOf(err) != c.want {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if !bytes.Equal(out, prefix) {
				t.Fatalf("dst changed on error: %x", out)
			}
		})
	}
}

func TestAppendEnvelopeChecks(t *testing.T) {
	ok := NewRequest(OpFindNode, 1, 1)
	cases := []struct {
		name string
		env  Envelope
		body any
		want Code
	}{
		{"proto_ver 0", Envelope{Op: OpPing, CorrID: 1, Flags: FlagReq}, nil, CodeBadVersion},
		{"unknown op", Envelope{ProtoVer: 1, Op: 9, CorrID: 1, Flags: FlagReq}, nil, CodeMalformed},
		{"zero corr_id", NewRequest(OpPing, 0, 1), nil, CodeMalformed},
		{"body of another op", ok, &FindValueRequest{}, CodeMalformed},
		{"response body in a request", ok, &FindNodeResponse{}, CodeMalformed},
		{"raw body not a map", Envelope{ProtoVer: 1, Op: OpPing, CorrID: 1, Flags: FlagReq, Body: []byte{0x80}}, nil, CodeMalformed},
		{"raw body with trailing bytes", Envelope{ProtoVer: 1, Op: OpPing, CorrID: 1, Flags: FlagReq, Body: []byte{0xa0, 0x00}}, nil, CodeMalformed},
		{"raw body truncated", Envelope{ProtoVer: 1, Op: OpPing, CorrID: 1, Flags: FlagReq, Body: []byte{0xa1, 0x00}}, nil, CodeMalformed},
		{"reason not UTF-8", Envelope{ProtoVer: 1, Op: OpPing, CorrID: 1, Flags: FlagResp, Code: CodeBusy, Reason: "\xff"}, nil, CodeMalformed},
		{"missing body", ok, nil, CodeMalformed},
		{"missing body of an OK response", NewResponse(&ok, CodeOK, 1), nil, CodeMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := AppendEnvelope([]byte{9}, &c.env, c.body)
			if CodeOf(err) != c.want {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if !bytes.Equal(out, []byte{9}) {
				t.Fatalf("dst changed on error: %x", out)
			}
		})
	}
}

// TestImpliedBodies: a nil body is filled in only where the protocol
// defines it.
func TestImpliedBodies(t *testing.T) {
	req := NewRequest(OpProvide, 4, 1)
	cases := []struct {
		env  Envelope
		want []byte
	}{
		{NewRequest(OpPing, 1, 1), []byte{0xa0}},
		{NewResponse(&req, CodeBusy, 1), []byte{0xa1, 0x00, 0xf4}},
		{NewResponse(&Envelope{Op: OpStore, CorrID: 1}, CodeQuotaExceeded, 1), []byte{0xa1, 0x00, 0xf4}},
		{NewResponse(&Envelope{Op: OpFindNode, CorrID: 1}, CodeNotReady, 1), []byte{0xa0}},
		{NewResponse(&Envelope{}, CodeMalformed, 1), []byte{0xa0}}, // answer to an undecodable request
	}
	for _, c := range cases {
		b, err := AppendEnvelope(nil, &c.env, nil)
		if err != nil {
			t.Fatalf("%+v: %v", c.env, err)
		}
		var env Envelope
		if err := DecodeEnvelope(b, &env); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(env.Body, c.want) {
			t.Fatalf("%v %v response body %x, want %x", c.env.Op, c.env.Code, env.Body, c.want)
		}
	}
}

// TestDecodeEnvelopeReuse: a reused Envelope is fully overwritten and its
// Body capacity is reused.
func TestDecodeEnvelopeReuse(t *testing.T) {
	msgs := vectorMessages()
	errResp := mustEnvelope(t, msgs[len(msgs)-1]) // error_response: code + reason
	ping := mustEnvelope(t, msgs[0])
	var env Envelope
	if err := DecodeEnvelope(errResp, &env); err != nil {
		t.Fatal(err)
	}
	env.Body = make([]byte, 0, 64)
	p := unsafe.SliceData(env.Body)
	if err := DecodeEnvelope(ping, &env); err != nil {
		t.Fatal(err)
	}
	want := msgs[0].Env
	want.Body = []byte{0xa0}
	if !sameValue(&env, &want) {
		t.Fatalf("reused envelope %+v, want %+v", env, want)
	}
	if unsafe.SliceData(env.Body) != p {
		t.Fatal("Body capacity not reused")
	}
}

// TestDecodedValuesDoNotAliasInput: the input buffer may be reused once
// DecodeBody returns.
func TestDecodedValuesDoNotAliasInput(t *testing.T) {
	for _, m := range vectorMessages() {
		if m.Body == nil {
			continue
		}
		raw := must(AppendBody(nil, m.Body))
		got := newBody(m.Env.Op, m.Env.IsResponse())
		if err := DecodeBody(m.Env.Op, m.Env.Flags, raw, got); err != nil {
			t.Fatal(err)
		}
		for i := range raw {
			raw[i] = 0x55
		}
		if !sameValue(got, m.Body) {
			t.Fatalf("%s: decoded value changed with the input buffer", m.Name)
		}
	}
}

// TestHotPathAllocs: decoding a FIND_NODE request (envelope and body) into
// reused values and encoding a 20-node response frame into a pooled buffer
// allocate nothing in steady state.
func TestHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	h := newHotPath(t)
	h.run(t) // warm up the pool and the Body capacity
	if n := testing.AllocsPerRun(200, func() { h.run(t) }); n != 0 {
		t.Fatalf("hot path: %v allocations per op, want 0", n)
	}
}

type hotPath struct {
	pools Pools
	req   []byte
	env   Envelope
	find  FindNodeRequest
	resp  FindNodeResponse
}

func newHotPath(t testing.TB) *hotPath {
	env := NewRequest(OpFindNode, 0x0123456789abcdef, vectorTS)
	h := &hotPath{req: must(AppendEnvelope(nil, &env, &FindNodeRequest{Target: vid(7)}))}
	h.resp.Closest = make([]NodeInfo, 20)
	for i := range h.resp.Closest {
		h.resp.Closest[i] = NodeInfo{
			ID:       vid(byte(i * 8)),
			Addrs:    []string{"quic://203.0.113." + string(rune('0'+i%10)) + ":4433", "quic://[2001:db8::1]:4433"},
			ASN:      64496 + uint32(i),
			LastSeen: vectorTS - int64(i),
		}
	}
	return h
}

func (h *hotPath) run(t testing.TB) {
	if err := DecodeEnvelope(h.req, &h.env); err != nil {
		t.Fatal(err)
	}
	if err := DecodeBody(h.env.Op, h.env.Flags, h.env.Body, &h.find); err != nil {
		t.Fatal(err)
	}
	resp := NewResponse(&h.env, CodeOK, vectorTS)
	buf := h.pools.Get(FrameBufSize)
	var err error
	if buf.B, err = AppendFrame(buf.B, &resp, &h.resp); err != nil {
		t.Fatal(err)
	}
	if len(buf.B) > FrameBufSize {
		t.Fatalf("20-node response frame is %d bytes, over FrameBufSize", len(buf.B))
	}
	h.pools.Put(buf)
}
