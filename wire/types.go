package wire

import "github.com/fxamacker/cbor/v2"

// ProtoVersion is the only protocol version this implementation speaks.
const ProtoVersion = 1

// IDLen is the length in bytes of a NodeID or a content key (BLAKE3-256).
const IDLen = 32

// FrameMax is the largest frame body (the CBOR envelope) a reader accepts:
// 1 MiB. The 4-byte length prefix is checked against it before any buffer
// is allocated.
const FrameMax = 1 << 20

// Opcode names the operation an envelope carries (SPEC §3).
type Opcode uint8

// The opcodes of proto_ver 1.
const (
	OpPing      Opcode = 0x00
	OpFindNode  Opcode = 0x01
	OpFindValue Opcode = 0x02
	OpProvide   Opcode = 0x03
	OpStore     Opcode = 0x04 // feature-gated
)

// Flags is the envelope's flag bit set.
type Flags uint8

// Envelope flag bits.
const (
	FlagReq   Flags = 1
	FlagResp  Flags = 2
	FlagHedge Flags = 4
)

// Alg identifies a signature algorithm in a ProviderRecord.
type Alg uint8

// Signature algorithms.
const (
	AlgEd25519 Alg = 1
	AlgMLDSA87 Alg = 2
)

// Envelope is the outer message of every frame. Body holds the op-specific
// map still encoded, so that it can be decoded into the right type once the
// opcode is known.
type Envelope struct {
	ProtoVer uint64          `cbor:"0,keyasint"`
	Op       Opcode          `cbor:"1,keyasint"`
	CorrID   uint64          `cbor:"2,keyasint"`
	TS       int64           `cbor:"3,keyasint"`
	HopsSeen uint8           `cbor:"4,keyasint"`
	Flags    Flags           `cbor:"5,keyasint"`
	Body     cbor.RawMessage `cbor:"6,keyasint"`
	Code     Code            `cbor:"7,keyasint,omitempty"`
	Reason   string          `cbor:"8,keyasint,omitempty"`
}

// NodeInfo describes a node: its ID, the addresses it can be dialed on
// (quic://host:port), its ASN (advisory only: receivers compute their own
// from the observed IP) and when the sender last heard from it (unix s).
type NodeInfo struct {
	ID       [IDLen]byte `cbor:"0,keyasint"`
	Addrs    []string    `cbor:"1,keyasint"`
	ASN      uint32      `cbor:"2,keyasint,omitempty"`
	LastSeen int64       `cbor:"3,keyasint,omitempty"`
}

// Signer declares one signer of a ProviderRecord: the algorithm and the
// BLAKE3-256 hash of its public key. Encoded as a two-element array.
type Signer struct {
	_       struct{} `cbor:",toarray"`
	Alg     Alg
	KeyHash [IDLen]byte
}

// Signature is one signature over a ProviderRecord's signed message.
type Signature struct {
	Alg       Alg    `cbor:"0,keyasint"`
	PublicKey []byte `cbor:"1,keyasint"`
	Sig       []byte `cbor:"2,keyasint"`
}

// ProviderRecord announces that Publisher provides Key at Addrs, for TTL
// seconds from TS. Fields 0-6 are signed (see SignedMessage); field 7
// carries the signatures.
type ProviderRecord struct {
	ProtoVer  uint64      `cbor:"0,keyasint"`
	Key       [IDLen]byte `cbor:"1,keyasint"`
	Publisher [IDLen]byte `cbor:"2,keyasint"`
	Addrs     []string    `cbor:"3,keyasint"`
	TTL       uint32      `cbor:"4,keyasint"`
	TS        int64       `cbor:"5,keyasint"`
	Signers   []Signer    `cbor:"6,keyasint"`
	Sigs      []Signature `cbor:"7,keyasint"`
}

// PingRequest is the body of a PING request: an empty map.
type PingRequest struct{}

// PingResponse carries the responder's own NodeInfo.
type PingResponse struct {
	Self NodeInfo `cbor:"0,keyasint"`
}

// FindNodeRequest asks for the nodes closest to Target.
type FindNodeRequest struct {
	Target [IDLen]byte `cbor:"0,keyasint"`
}

// FindNodeResponse lists at most k nodes closest to the target.
type FindNodeResponse struct {
	Closest []NodeInfo `cbor:"0,keyasint"`
}

// FindValueRequest asks for the providers of Key.
type FindValueRequest struct {
	Key [IDLen]byte `cbor:"0,keyasint"`
}

// FindValueResponse carries either the providers of the key or, when the
// responder has none, the closest nodes it knows.
type FindValueResponse struct {
	Closest   []NodeInfo       `cbor:"0,keyasint,omitempty"`
	Providers []ProviderRecord `cbor:"1,keyasint,omitempty"`
}

// ProvideRequest carries one signed provider record to store.
type ProvideRequest struct {
	Record ProviderRecord `cbor:"0,keyasint"`
}

// ProvideResponse says whether the record was stored; the envelope's code
// and reason say why not.
type ProvideResponse struct {
	Accepted bool `cbor:"0,keyasint"`
}

// StoreRequest is the feature-gated STORE of an opaque signed value.
type StoreRequest struct {
	Key   [IDLen]byte `cbor:"0,keyasint"`
	Value []byte      `cbor:"1,keyasint"`
	Sigs  []Signature `cbor:"2,keyasint"`
}

// StoreResponse says whether the value was stored.
type StoreResponse struct {
	Accepted bool `cbor:"0,keyasint"`
}
