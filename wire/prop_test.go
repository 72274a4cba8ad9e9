package wire

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

var allOps = []Opcode{OpPing, OpFindNode, OpFindValue, OpProvide, OpStore}

var allCodes = []Code{CodeOK, CodeBadVersion, CodeNotFound, CodeFrameTooLarge, CodeMalformed,
	CodeQuotaExceeded, CodeBadSignature, CodeStaleRecord, CodeNotReady, CodeBusy, CodeTimeout}

// genEnvelope draws a valid envelope header (Body left empty).
func genEnvelope(t *rapid.T, op Opcode, resp bool) Envelope {
	env := Envelope{
		ProtoVer: ProtoVersion,
		Op:       op,
		CorrID:   genUint64().Filter(func(v uint64) bool { return v != 0 }).Draw(t, "corr_id"),
		TS:       genInt64().Draw(t, "ts"),
		HopsSeen: rapid.Uint8().Draw(t, "hops"),
		Flags:    FlagReq,
	}
	if !resp {
		if rapid.Bool().Draw(t, "hedge") {
			env.Flags |= FlagHedge
		}
		return env
	}
	env.Flags = FlagResp
	env.Code = rapid.SampledFrom(allCodes).Draw(t, "code")
	if env.Code != CodeOK {
		env.Reason = rapid.StringN(0, 40, MaxReasonLen).Draw(t, "reason")
		if rapid.Bool().Draw(t, "zero_corr") {
			env.CorrID = 0
		}
	}
	return env
}

// genMessage draws a valid envelope with a body of its opcode and direction.
func genMessage(t *rapid.T) (Envelope, any) {
	op := rapid.SampledFrom(allOps).Draw(t, "op")
	resp := rapid.Bool().Draw(t, "resp")
	return genEnvelope(t, op, resp), genBody(t, op, resp)
}

// TestEncodeMatchesFxamacker: for random valid values the specialised
// encoder's bytes equal fxamacker's Core Deterministic encoding.
func TestEncodeMatchesFxamacker(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env, body := genMessage(t)
		refBody, err := refEnc.Marshal(body)
		if err != nil {
			t.Fatalf("reference body: %v", err)
		}
		got, err := AppendBody(nil, body)
		if err != nil {
			t.Fatalf("AppendBody: %v", err)
		}
		if !bytes.Equal(got, refBody) {
			t.Fatalf("body mismatch\n got %x\nwant %x", got, refBody)
		}
		env.Body = refBody
		refEnv, err := refEnc.Marshal(&env)
		if err != nil {
			t.Fatalf("reference envelope: %v", err)
		}
		inline, err := AppendEnvelope([]byte{0xee}, &env, body)
		if err != nil {
			t.Fatalf("AppendEnvelope(inline body): %v", err)
		}
		if !bytes.Equal(inline[1:], refEnv) || inline[0] != 0xee {
			t.Fatalf("envelope mismatch (inline body)\n got %x\nwant %x", inline[1:], refEnv)
		}
		raw, err := AppendEnvelope(nil, &env, nil)
		if err != nil {
			t.Fatalf("AppendEnvelope(raw body): %v", err)
		}
		if !bytes.Equal(raw, refEnv) {
			t.Fatalf("envelope mismatch (raw body)\n got %x\nwant %x", raw, refEnv)
		}
		if rec, ok := body.(*ProvideRequest); ok {
			refRec, err := refEnc.Marshal(&rec.Record)
			if err != nil {
				t.Fatalf("reference record: %v", err)
			}
			got, err := AppendProviderRecord(nil, &rec.Record)
			if err != nil || !bytes.Equal(got, refRec) {
				t.Fatalf("record mismatch (%v)\n got %x\nwant %x", err, got, refRec)
			}
		}
	})
}

// TestDecodeValidMatchesReferences: decoding the encoding of a random valid
// value gives the value back, and so do the reference decoder and
// fxamacker's struct decoder.
func TestDecodeValidMatchesReferences(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env, body := genMessage(t)
		b, err := AppendEnvelope(nil, &env, body)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var got Envelope
		if err := DecodeEnvelope(b, &got); err != nil {
			t.Fatalf("DecodeEnvelope: %v", err)
		}
		env.Body, _ = AppendBody(nil, body)
		if !sameValue(&got, &env) {
			t.Fatalf("envelope round trip\n got %+v\nwant %+v", got, env)
		}
		ref, err := refDecodeEnvelope(b)
		if err != nil || !sameValue(&ref, &env) {
			t.Fatalf("reference envelope (%v)\n got %+v\nwant %+v", err, ref, env)
		}
		var fx Envelope
		if err := refStructDec.Unmarshal(b, &fx); err != nil || !sameValue(&fx, &env) {
			t.Fatalf("fxamacker envelope (%v)\n got %+v\nwant %+v", err, fx, env)
		}

		resp := env.IsResponse()
		dec := newBody(env.Op, resp)
		if err := DecodeBody(env.Op, env.Flags, got.Body, dec); err != nil {
			t.Fatalf("DecodeBody: %v", err)
		}
		if !sameValue(dec, body) {
			t.Fatalf("body round trip\n got %+v\nwant %+v", dec, body)
		}
		refBody, err := refDecodeBody(env.Op, resp, got.Body)
		if err != nil || !sameValue(refBody, body) {
			t.Fatalf("reference body (%v)\n got %+v\nwant %+v", err, refBody, body)
		}
		fxBody := newBody(env.Op, resp)
		if err := refStructDec.Unmarshal(got.Body, fxBody); err != nil || !sameValue(fxBody, body) {
			t.Fatalf("fxamacker body (%v)\n got %+v\nwant %+v", err, fxBody, body)
		}
	})
}

// mutateBytes applies one random byte-level mutation to b.
func mutateBytes(t *rapid.T, b []byte) []byte {
	b = slices.Clone(b)
	if len(b) == 0 {
		return []byte{rapid.Byte().Draw(t, "byte")}
	}
	i := rapid.IntRange(0, len(b)-1).Draw(t, "pos")
	switch rapid.IntRange(0, 6).Draw(t, "mutation") {
	case 0: // flip one bit
		b[i] ^= 1 << rapid.IntRange(0, 7).Draw(t, "bit")
	case 1: // replace a byte
		b[i] = rapid.Byte().Draw(t, "byte")
	case 2: // insert a byte
		b = slices.Insert(b, i, rapid.Byte().Draw(t, "byte"))
	case 3: // delete a byte
		b = slices.Delete(b, i, i+1)
	case 4: // truncate
		b = b[:i]
	case 5: // append trailing bytes
		b = append(b, rapid.SliceOfN(rapid.Byte(), 1, 3).Draw(t, "tail")...)
	case 6: // set a byte to an interesting head
		b[i] = rapid.SampledFrom([]byte{0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x3b, 0x40, 0x58, 0x5f, 0x60, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xd8, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfb, 0xff}).Draw(t, "head")
	}
	return b
}

// genAny draws a generic CBOR value for fxamacker to encode, including
// values outside the profile (null, floats, text keys).
func genAny(depth int) *rapid.Generator[any] {
	return rapid.Custom(func(t *rapid.T) any {
		kinds := 9
		if depth <= 0 {
			kinds = 7
		}
		switch rapid.IntRange(0, kinds-1).Draw(t, "kind") {
		case 0:
			return genUint64().Draw(t, "u")
		case 1:
			return genInt64().Filter(func(v int64) bool { return v < 0 }).Draw(t, "n")
		case 2:
			return rapid.SliceOfN(rapid.Byte(), 0, 34).Draw(t, "bytes")
		case 3:
			return rapid.StringN(0, 8, 40).Draw(t, "text")
		case 4:
			return rapid.Bool().Draw(t, "bool")
		case 5:
			if rapid.IntRange(0, 3).Draw(t, "rare") == 0 {
				return nil
			}
			return uint64(1)
		case 6:
			if rapid.IntRange(0, 3).Draw(t, "rare") == 0 {
				return rapid.Float64().Draw(t, "float")
			}
			return rapid.SliceOfN(rapid.Byte(), 32, 32).Draw(t, "id")
		case 7:
			return rapid.SliceOfN(genAny(depth-1), 0, 3).Draw(t, "array")
		default:
			m := map[any]any{}
			n := rapid.IntRange(0, 3).Draw(t, "pairs")
			for range n {
				var k any = rapid.Uint64Range(0, 10).Draw(t, "key")
				if rapid.IntRange(0, 7).Draw(t, "text_key") == 0 {
					k = rapid.StringN(0, 3, 8).Draw(t, "tkey")
				}
				m[k] = genAny(depth-1).Draw(t, "value")
			}
			return m
		}
	})
}

// nested returns n arrays nested in each other around a 0.
func nested(n int) any {
	var v any = uint64(0)
	for range n {
		v = []any{v}
	}
	return v
}

// mutateTree applies one structural mutation somewhere in the generic tree v
// and returns the new tree.
func mutateTree(t *rapid.T, v any) any {
	switch x := v.(type) {
	case map[any]any:
		if len(x) > 0 && rapid.IntRange(0, 2).Draw(t, "descend") > 0 {
			keys := make([]uint64, 0, len(x))
			for k := range x {
				if u, ok := k.(uint64); ok {
					keys = append(keys, u)
				}
			}
			slices.Sort(keys)
			if len(keys) > 0 {
				k := rapid.SampledFrom(keys).Draw(t, "key")
				x[k] = mutateTree(t, x[k])
				return x
			}
		}
		switch rapid.IntRange(0, 3).Draw(t, "map_op") {
		case 0: // delete a key
			if ks := sortedKeys(x); len(ks) > 0 {
				delete(x, ks[rapid.IntRange(0, len(ks)-1).Draw(t, "del")])
			}
		case 1: // add an unknown or known key
			x[rapid.Uint64Range(0, 12).Draw(t, "new_key")] = genAny(2).Draw(t, "new_value")
		case 2:
			return genAny(2).Draw(t, "replace")
		case 3:
			x[uint64(rapid.IntRange(0, 12).Draw(t, "deep_key"))] = nested(rapid.IntRange(10, 20).Draw(t, "depth"))
		}
		return x
	case []any:
		if len(x) > 0 && rapid.Bool().Draw(t, "descend") {
			i := rapid.IntRange(0, len(x)-1).Draw(t, "index")
			x[i] = mutateTree(t, x[i])
			return x
		}
		if len(x) > 0 && rapid.Bool().Draw(t, "drop") {
			return x[:len(x)-1]
		}
		return append(x, genAny(2).Draw(t, "elem"))
	case []byte:
		if rapid.Bool().Draw(t, "grow") {
			return append(x, 0)
		}
		if len(x) > 0 {
			return x[:len(x)-1]
		}
	}
	return genAny(2).Draw(t, "replace")
}

func sortedKeys(m map[any]any) []any {
	var us []uint64
	var rest []any
	for k := range m {
		if u, ok := k.(uint64); ok {
			us = append(us, u)
		} else {
			rest = append(rest, k)
		}
	}
	slices.Sort(us)
	out := make([]any, 0, len(m))
	for _, u := range us {
		out = append(out, u)
	}
	return append(out, rest...)
}

// tb is the part of testing.TB and *rapid.T the checks use.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// agreeEnvelope checks that DecodeEnvelope, and then DecodeBody, agree with
// the reference decoder on b.
func agreeEnvelope(t tb, b []byte) {
	t.Helper()
	var got Envelope
	err := DecodeEnvelope(b, &got)
	ref, refErr := refDecodeEnvelope(b)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("envelope %x: fast err %v, reference err %v", b, err, refErr)
	}
	if err != nil {
		checkClosed(t, err)
		return
	}
	if !sameValue(&got, &ref) {
		t.Fatalf("envelope %x:\n fast %+v\n  ref %+v", b, got, ref)
	}
	agreeBody(t, got.Op, got.Flags, got.Body)
}

// agreeBody checks that DecodeBody agrees with the reference on raw.
func agreeBody(t tb, op Opcode, flags Flags, raw []byte) {
	t.Helper()
	resp := flags&FlagResp != 0
	got := newBody(op, resp)
	err := DecodeBody(op, flags, raw, got)
	ref, refErr := refDecodeBody(op, resp, raw)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("%s %x: fast err %v, reference err %v", bodyName(op, resp), raw, err, refErr)
	}
	if err != nil {
		checkClosed(t, err)
		return
	}
	if !sameValue(got, ref) {
		t.Fatalf("%s %x:\n fast %+v\n  ref %+v", bodyName(op, resp), raw, got, ref)
	}
}

// agreeRecord checks that DecodeProviderRecord agrees with the reference.
func agreeRecord(t tb, b []byte) {
	t.Helper()
	var got ProviderRecord
	err := DecodeProviderRecord(b, &got)
	ref, refErr := refDecodeRecord(b)
	if (err == nil) != (refErr == nil) {
		t.Fatalf("record %x: fast err %v, reference err %v", b, err, refErr)
	}
	if err != nil {
		checkClosed(t, err)
		return
	}
	if !sameValue(&got, &ref) {
		t.Fatalf("record %x:\n fast %+v\n  ref %+v", b, got, ref)
	}
}

// checkClosed fails unless err is an *Error with a decode code.
func checkClosed(t tb, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error outside the closed set: %T %v", err, err)
	}
	switch e.Code {
	case CodeBadVersion, CodeFrameTooLarge, CodeMalformed:
	default:
		t.Fatalf("decode error with unexpected code %v: %v", e.Code, err)
	}
}

// TestDecodeAgreesOnMutatedBytes: byte-level mutations of valid messages are
// accepted or rejected alike by the decoder and the reference.
func TestDecodeAgreesOnMutatedBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env, body := genMessage(t)
		b, err := AppendEnvelope(nil, &env, body)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		raw, _ := AppendBody(nil, body)
		n := rapid.IntRange(1, 4).Draw(t, "n_mutations")
		mb, mr := b, raw
		for range n {
			mb = mutateBytes(t, mb)
			mr = mutateBytes(t, mr)
		}
		agreeEnvelope(t, mb)
		agreeBody(t, env.Op, env.Flags, mr)
		if p, ok := body.(*ProvideRequest); ok {
			rec, _ := AppendProviderRecord(nil, &p.Record)
			agreeRecord(t, mutateBytes(t, rec))
		}
	})
}

// TestDecodeAgreesOnMutatedTrees: structural mutations (replaced values,
// missing and unknown keys, wrong types, wrong lengths, deep nesting),
// encoded canonically by fxamacker, are accepted or rejected alike.
func TestDecodeAgreesOnMutatedTrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env, body := genMessage(t)
		b, err := AppendEnvelope(nil, &env, body)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var tree any
		if err := refDec.Unmarshal(b, &tree); err != nil {
			t.Fatalf("reference parse: %v", err)
		}
		tree = mutateTree(t, tree)
		mb, err := refEnc.Marshal(tree)
		if err != nil {
			t.Fatalf("reference encode of mutated tree: %v", err)
		}
		agreeEnvelope(t, mb)

		raw, _ := AppendBody(nil, body)
		var btree any
		if err := refDec.Unmarshal(raw, &btree); err != nil {
			t.Fatalf("reference parse body: %v", err)
		}
		btree = mutateTree(t, btree)
		mr, err := refEnc.Marshal(btree)
		if err != nil {
			t.Fatalf("reference encode of mutated body: %v", err)
		}
		agreeBody(t, env.Op, env.Flags, mr)
	})
}

// TestDecodeAgreesOnRandomTrees: arbitrary generic values, and arbitrary
// values under the keys of an envelope, are accepted or rejected alike.
func TestDecodeAgreesOnRandomTrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := genAny(3).Draw(t, "value")
		b, err := refEnc.Marshal(v)
		if err != nil {
			t.Fatalf("reference encode: %v", err)
		}
		agreeEnvelope(t, b)
		op := rapid.SampledFrom(allOps).Draw(t, "op")
		flags := rapid.SampledFrom([]Flags{FlagReq, FlagResp}).Draw(t, "flags")
		agreeBody(t, op, flags, b)
		agreeRecord(t, b)
	})
}

// TestRoundTripDeterministic: anything that decodes re-encodes to bytes that
// decode to the same value and re-encode identically.
func TestRoundTripDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		env, body := genMessage(t)
		b, _ := AppendEnvelope(nil, &env, body)
		for range rapid.IntRange(0, 2).Draw(t, "n_mutations") {
			b = mutateBytes(t, b)
		}
		roundTripEnvelope(t, b)
	})
}

// roundTripEnvelope decodes b and, if it decodes, checks the round trip of
// the envelope and body.
func roundTripEnvelope(t tb, b []byte) {
	t.Helper()
	var env Envelope
	if err := DecodeEnvelope(b, &env); err != nil {
		checkClosed(t, err)
		return
	}
	body := newBody(env.Op, env.IsResponse())
	bodyErr := DecodeBody(env.Op, env.Flags, env.Body, body)
	if bodyErr != nil {
		checkClosed(t, bodyErr)
		body = nil // re-encode with the raw body
	}
	b1, err := AppendEnvelope(nil, &env, body)
	if err != nil {
		t.Fatalf("re-encode of decoded envelope %x: %v", b, err)
	}
	var env2 Envelope
	if err := DecodeEnvelope(b1, &env2); err != nil {
		t.Fatalf("decode of re-encoding %x: %v", b1, err)
	}
	if body != nil {
		body2 := newBody(env.Op, env.IsResponse())
		if err := DecodeBody(env2.Op, env2.Flags, env2.Body, body2); err != nil {
			t.Fatalf("decode of re-encoded body %x: %v", env2.Body, err)
		}
		if !sameValue(body, body2) {
			t.Fatalf("body round trip: %+v != %+v", body, body2)
		}
		env.Body, _ = AppendBody(nil, body)
	}
	if !sameValue(&env, &env2) {
		t.Fatalf("envelope round trip: %+v != %+v", env, env2)
	}
	b2, err := AppendEnvelope(nil, &env2, nil)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("re-encoding not deterministic (%v): %x != %x", err, b1, b2)
	}
}

// TestNestingLimitMatchesFxamacker pins the nesting limit at the boundary,
// for unknown keys of the envelope.
func TestNestingLimitMatchesFxamacker(t *testing.T) {
	for depth := MaxNesting - 3; depth <= MaxNesting+1; depth++ {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			env := NewRequest(OpPing, 1, 1)
			b, err := AppendEnvelope(nil, &env, &PingRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var tree any
			if err := refDec.Unmarshal(b, &tree); err != nil {
				t.Fatal(err)
			}
			tree.(map[any]any)[uint64(9)] = nested(depth - 1) // level 1 is the envelope
			mb, err := refEnc.Marshal(tree)
			if err != nil {
				t.Fatal(err)
			}
			var got Envelope
			err = DecodeEnvelope(mb, &got)
			if want := depth <= MaxNesting; (err == nil) != want {
				t.Fatalf("depth %d: err %v, want accepted=%v", depth, err, want)
			}
			agreeEnvelope(t, mb)
		})
	}
}
