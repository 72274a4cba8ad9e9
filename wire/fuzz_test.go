package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"testing/iotest"
)

// Fuzz targets. Seed corpora live in testdata/fuzz/<target>/ (generated from
// the vectors by -update) and run as ordinary tests. Properties: no panic;
// every error is an *Error of the closed set; the decoder agrees with the
// fxamacker-based reference; whatever decodes re-encodes deterministically
// and decodes to the same value.

func FuzzReadFrame(f *testing.F) {
	env := NewRequest(OpFindNode, 1, vectorTS)
	f.Add(must(AppendFrame(nil, &env, &FindNodeRequest{Target: vid(1)})))
	f.Add([]byte{0x00, 0x10, 0x00, 0x01})
	f.Add([]byte{0, 0, 0, 1, 0xa0})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, maxLen := range []int{0, 64} {
			got, err := ReadFrame(bytes.NewReader(in), nil, maxLen)
			var p Pools
			pb, perr := p.ReadFrame(iotest.HalfReader(bytes.NewReader(in)), maxLen)
			if (err == nil) != (perr == nil) || CodeOf(err) != CodeOf(perr) {
				t.Fatalf("ReadFrame err %v, Pools.ReadFrame err %v", err, perr)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || (e.Code != CodeFrameTooLarge && e.Code != CodeMalformed) {
					t.Fatalf("error outside the frame codes: %v", err)
				}
				if len(in) >= 4 {
					n := binary.BigEndian.Uint32(in)
					tooLarge := n > uint32(frameCap(maxLen))
					if tooLarge != (e.Code == CodeFrameTooLarge) {
						t.Fatalf("prefix %d, cap %d: %v", n, frameCap(maxLen), err)
					}
				}
				continue
			}
			n := int(binary.BigEndian.Uint32(in))
			if n == 0 || n > frameCap(maxLen) || len(in) < 4+n || !bytes.Equal(got, in[4:4+n]) || !bytes.Equal(pb.B, got) {
				t.Fatalf("frame of %d bytes read wrongly from %d input bytes", n, len(in))
			}
			p.Put(pb)
			roundTripEnvelope(t, got)
		}
	})
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, m := range vectorMessages() {
		f.Add(mustEnvelope(f, m))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		agreeEnvelope(t, in)
		roundTripEnvelope(t, in)
	})
}

func FuzzDecodeProviderRecord(f *testing.F) {
	rec := vectorRecord()
	f.Add(must(AppendProviderRecord(nil, &rec)))
	f.Fuzz(func(t *testing.T, in []byte) {
		agreeRecord(t, in)
		var r ProviderRecord
		if err := DecodeProviderRecord(in, &r); err != nil {
			checkClosed(t, err)
			return
		}
		b1, err := AppendProviderRecord(nil, &r)
		if err != nil {
			t.Fatalf("re-encode of a decoded record: %v", err)
		}
		if r.EncodedSize() != len(b1) {
			t.Fatalf("EncodedSize %d, encoding %d bytes", r.EncodedSize(), len(b1))
		}
		if _, err := r.SignedMessage(nil); err != nil {
			t.Fatalf("SignedMessage of a decoded record: %v", err)
		}
		var r2 ProviderRecord
		if err := DecodeProviderRecord(b1, &r2); err != nil {
			t.Fatalf("decode of re-encoding: %v", err)
		}
		if !sameValue(&r, &r2) {
			t.Fatalf("round trip: %+v != %+v", r, r2)
		}
		if b2, err := AppendProviderRecord(nil, &r2); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("re-encoding not deterministic (%v)", err)
		}
	})
}
