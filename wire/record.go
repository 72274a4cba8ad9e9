package wire

import (
	"fmt"
	"unicode/utf8"
)

// RecordDomain is the domain-separation prefix of a ProviderRecord's signed
// message; the zero byte terminates the text, so that no other signed
// string of the protocol can share the prefix by extending it.
const RecordDomain = "svc-dht/provider-record/v1\x00"

// SignedMessage appends r's signed message to dst and returns the extended
// slice. It does not allocate when dst has enough capacity. It fails, with
// a Malformed error, on a nil record or an address that is not valid UTF-8
// (such a record could not be decoded by a peer).
//
// # Signed provider records
//
// A ProviderRecord is signed over its signed message:
//
//	signed_message = RecordDomain || cbor_det(map{0..6})
//
// RecordDomain is the 27 ASCII bytes "svc-dht/provider-record/v1" followed by
// one zero byte (hex 7376632d6468742f70726f76696465722d7265636f72642f763100).
// cbor_det(map{0..6}) is the RFC 8949 §4.2.1 Core Deterministic Encoding of
// a CBOR map with exactly the seven entries below, in this order (integer
// keys sort bytewise as 0x00..0x06), every integer and length in its
// shortest form, all lengths definite:
//
//	a7                      map(7)
//	00 <uint proto_ver>     major type 0
//	01 58 20 <32 B key>     byte string(32)
//	02 58 20 <32 B publisher>
//	03 <array(n)> n x <text addr>   major types 4 and 3; n = 0 when absent
//	04 <uint ttl>           seconds
//	05 <int ts>             unix seconds; major type 0 if ts >= 0, else
//	                        major type 1 with argument -1-ts
//	06 <array(m)> m x (82 <uint alg> 58 20 <32 B BLAKE3-256(pk)>)
//
// Field 7 (sigs) is never part of the signed message. The message is built
// from the decoded field values, not from the received bytes: an absent
// addrs or signers field is encoded as an empty array, and unknown map keys
// of a received record are not signed. Address strings must be valid UTF-8.
//
// Each entry of field 7 signs the whole signed message:
//   - alg 1, Ed25519 (RFC 8032, pure): pk 32 bytes, sig 64 bytes.
//   - alg 2, ML-DSA-87 (FIPS 204, pure, empty context string): pk 2592
//     bytes, sig 4627 bytes.
//
// Because field 6 lists every signer, each signature commits to the full
// signer set: dropping or swapping one signature (for example the ML-DSA-87
// one, to downgrade a record to classical-only) changes no signed byte but
// leaves a declared signer without a valid signature, and removing its
// signer entry as well changes the signed bytes under the remaining
// signatures: either way the record is rejected.
func (r *ProviderRecord) SignedMessage(dst []byte) ([]byte, error) {
	if r == nil {
		return dst, NewError(CodeMalformed, "provider record: nil record")
	}
	for i, a := range r.Addrs {
		if !utf8.ValidString(a) {
			return dst, fmt.Errorf("provider record: %w", NewError(CodeMalformed, fmt.Sprintf("addr %d is not valid UTF-8", i)))
		}
	}
	dst = append(dst, RecordDomain...)
	dst = append(dst, majMap<<5|7)
	dst = append(dst, 0)
	dst = appendHead(dst, majUint, r.ProtoVer)
	dst = append(dst, 1)
	dst = appendBytes(dst, r.Key[:])
	dst = append(dst, 2)
	dst = appendBytes(dst, r.Publisher[:])
	dst = append(dst, 3)
	dst = appendHead(dst, majArray, uint64(len(r.Addrs)))
	for _, a := range r.Addrs {
		dst = appendText(dst, a)
	}
	dst = append(dst, 4)
	dst = appendHead(dst, majUint, uint64(r.TTL))
	dst = append(dst, 5)
	dst = appendInt(dst, r.TS)
	dst = append(dst, 6)
	dst = appendHead(dst, majArray, uint64(len(r.Signers)))
	for i := range r.Signers {
		s := &r.Signers[i]
		dst = append(dst, majArray<<5|2)
		dst = appendHead(dst, majUint, uint64(s.Alg))
		dst = appendBytes(dst, s.KeyHash[:])
	}
	return dst, nil
}

// SignedMessageSize returns the length of r's signed message.
func (r *ProviderRecord) SignedMessageSize() int {
	return len(RecordDomain) + r.signedFieldsSize()
}

// EncodedSize returns the exact length of the Core Deterministic CBOR
// encoding of the whole record (the map with fields 0-7) as it travels in a
// PROVIDE or FIND_VALUE body; a nil slice counts as an empty array or byte
// string (one byte, as CBOR null would be). This is the size that
// provider.max_record_bytes bounds; it is computed without encoding.
func (r *ProviderRecord) EncodedSize() int {
	n := r.signedFieldsSize() + 1 + recHeadSize(uint64(len(r.Sigs))) // key 7, array head
	for i := range r.Sigs {
		s := &r.Sigs[i]
		n += 1 + // map(3)
			1 + recHeadSize(uint64(s.Alg)) +
			1 + recHeadSize(uint64(len(s.PublicKey))) + len(s.PublicKey) +
			1 + recHeadSize(uint64(len(s.Sig))) + len(s.Sig)
	}
	return n
}

// signedFieldsSize is the encoded size of fields 0-6 in a map(7) or map(8):
// the map head is one byte either way.
func (r *ProviderRecord) signedFieldsSize() int {
	n := 1 + // map head
		1 + recHeadSize(r.ProtoVer) +
		2*(1+2+IDLen) + // key, publisher
		1 + recHeadSize(uint64(len(r.Addrs))) +
		1 + recHeadSize(uint64(r.TTL)) +
		1 + recIntSize(r.TS) +
		1 + recHeadSize(uint64(len(r.Signers)))
	for _, a := range r.Addrs {
		n += recHeadSize(uint64(len(a))) + len(a)
	}
	for i := range r.Signers {
		n += 1 + recHeadSize(uint64(r.Signers[i].Alg)) + 2 + IDLen
	}
	return n
}

// recHeadSize is the length of the head appendHead writes for argument n.
func recHeadSize(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	default:
		return 9
	}
}

// recIntSize is the length of appendInt's encoding of v.
func recIntSize(v int64) int {
	if v >= 0 {
		return recHeadSize(uint64(v))
	}
	return recHeadSize(uint64(^v))
}
