package persist

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

// maxItems bounds the number of peers or records in a snapshot: the
// largest provider.max_total.
const maxItems = 1 << 22

// CBOR modes, built once. Encoding is Core Deterministic with nil slices as
// empty arrays; decoding forbids duplicate map keys, tags and indefinite
// lengths and allows maxItems array elements.
var (
	encMode = mustEncMode()
	decMode = mustDecMode()
)

func mustEncMode() cbor.UserBufferEncMode {
	o := cbor.CoreDetEncOptions()
	o.NilContainers = cbor.NilContainerAsEmpty
	em, err := o.UserBufferEncMode()
	if err != nil {
		panic("persist: cbor encoding options: " + err.Error())
	}
	return em
}

func mustDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxArrayElements: maxItems,
	}.DecMode()
	if err != nil {
		panic("persist: cbor decoding options: " + err.Error())
	}
	return dm
}

// peerOut is the encoded form of a kbucket.Peer.
type peerOut struct {
	ID       kbucket.ID `cbor:"0,keyasint"`
	Addr     string     `cbor:"1,keyasint"`
	Addrs    []string   `cbor:"2,keyasint"`
	LastSeen int64      `cbor:"3,keyasint"`
}

// peerIn is peerOut as decoded: the id must be present and 32 bytes.
type peerIn struct {
	ID       idIn     `cbor:"0,keyasint"`
	Addr     string   `cbor:"1,keyasint"`
	Addrs    []string `cbor:"2,keyasint"`
	LastSeen int64    `cbor:"3,keyasint"`
}

// idIn decodes a 32-byte byte string and remembers that it was present
// (the generic decoder would pad or cut a byte string of another length).
type idIn struct {
	v  kbucket.ID
	ok bool
}

// UnmarshalCBOR takes exactly the encoding 0x58 0x20 followed by 32 bytes.
func (d *idIn) UnmarshalCBOR(b []byte) error {
	if len(b) != 2+kbucket.IDLen || b[0] != 0x58 || b[1] != kbucket.IDLen {
		return errors.New("peer id: want a 32-byte byte string")
	}
	copy(d.v[:], b[2:])
	d.ok = true
	return nil
}

// checkAddrs applies the wire limits of NodeInfo addresses to a peer's
// advertised addresses, so that every table that saves also loads.
func checkAddrs(addrs []string) error {
	if len(addrs) > wire.MaxAddrs {
		return fmt.Errorf("%d addresses, max %d", len(addrs), wire.MaxAddrs)
	}
	for _, a := range addrs {
		if len(a) > wire.MaxAddrLen {
			return fmt.Errorf("address of %d bytes, max %d", len(a), wire.MaxAddrLen)
		}
		if !utf8.ValidString(a) {
			return errors.New("address is not valid UTF-8")
		}
	}
	return nil
}

// encodeTable returns the snapshot file of peers, header included.
func encodeTable(peers []kbucket.Peer) ([]byte, error) {
	out := make([]peerOut, len(peers))
	size := 9 // array head
	for i := range peers {
		p := &peers[i]
		if err := checkAddrs(p.Addrs); err != nil {
			return nil, fmt.Errorf("encode peer %d: %w", i, err)
		}
		out[i] = peerOut{ID: p.ID, Addrs: p.Addrs, LastSeen: p.LastSeen}
		if p.Addr.IsValid() {
			out[i].Addr = p.Addr.String()
		}
		// An upper bound of the encoded peer, so that the buffer never grows:
		// map head, 4 keys, id, addr and addrs heads, last_seen.
		size += 1 + 4 + 2 + kbucket.IDLen + 3 + len(out[i].Addr) + 3 + 9
		for _, a := range p.Addrs {
			size += 3 + len(a)
		}
	}
	return marshalFramed(out, magicTable, size)
}

// marshalFramed encodes v after room for the header and frames it.
func marshalFramed(v any, magic string, sizeHint int) ([]byte, error) {
	b := bytes.NewBuffer(make([]byte, headerSize, headerSize+sizeHint))
	if err := encMode.MarshalToBuffer(v, b); err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	buf := b.Bytes()
	frame(buf, magic)
	return buf, nil
}

// decodeTable decodes a routing-table snapshot file. Errors wrap one of
// the detail sentinels of CorruptError.
func decodeTable(data []byte) ([]kbucket.Peer, error) {
	payload, err := unframe(data, magicTable)
	if err != nil {
		return nil, err
	}
	var in []peerIn
	if err := decMode.Unmarshal(payload, &in); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	if len(in) == 0 {
		return nil, nil
	}
	peers := make([]kbucket.Peer, len(in))
	for i := range in {
		p := &in[i]
		if !p.ID.ok {
			return nil, fmt.Errorf("%w: peer %d: no id", ErrPayload, i)
		}
		if err := checkAddrs(p.Addrs); err != nil {
			return nil, fmt.Errorf("%w: peer %d: %w", ErrPayload, i, err)
		}
		peers[i] = kbucket.Peer{ID: p.ID.v, LastSeen: p.LastSeen}
		if len(p.Addrs) > 0 {
			peers[i].Addrs = p.Addrs
		}
		if p.Addr != "" {
			ap, err := netip.ParseAddrPort(p.Addr)
			if err != nil {
				return nil, fmt.Errorf("%w: peer %d: observed address: %w", ErrPayload, i, err)
			}
			peers[i].Addr = ap
		}
	}
	return peers, nil
}

// encodeProviders returns the snapshot file of recs, header included:
// an array of the records' wire encodings.
func encodeProviders(recs []wire.ProviderRecord) ([]byte, error) {
	size := headerSize + 9 // the largest array head
	for i := range recs {
		size += recs[i].EncodedSize()
	}
	buf := appendArrayHead(make([]byte, headerSize, size), uint64(len(recs)))
	for i := range recs {
		var err error
		if buf, err = wire.AppendProviderRecord(buf, &recs[i]); err != nil {
			return nil, fmt.Errorf("encode provider record %d: %w", i, err)
		}
	}
	frame(buf, magicProviders)
	return buf, nil
}

// minRecordBytes is the size of the smallest record the wire decoder
// accepts: a map head, the eight keys, key and publisher (byte strings of
// 32) and six one-byte values (proto_ver, empty addrs, ttl, ts, empty
// signers, empty sigs).
const minRecordBytes = 1 + 8 + 2*(2+wire.IDLen) + 6

// recordIn decodes one record with the wire codec from the raw bytes of
// the item the generic decoder delimits.
type recordIn wire.ProviderRecord

// UnmarshalCBOR decodes b with wire.DecodeProviderRecord.
func (r *recordIn) UnmarshalCBOR(b []byte) error {
	return wire.DecodeProviderRecord(b, (*wire.ProviderRecord)(r))
}

// decodeProviders decodes a provider-store snapshot file. Errors wrap one
// of the detail sentinels of CorruptError.
func decodeProviders(data []byte) ([]wire.ProviderRecord, error) {
	payload, err := unframe(data, magicProviders)
	if err != nil {
		return nil, err
	}
	n, rest, err := readArrayHead(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPayload, err)
	}
	// A count the bytes left cannot hold is a lie, refused before
	// allocating for it.
	if n > maxItems || n > uint64(len(rest)/minRecordBytes) {
		return nil, fmt.Errorf("%w: %d records in %d bytes", ErrPayload, n, len(rest))
	}
	if n == 0 {
		if len(rest) != 0 {
			return nil, fmt.Errorf("%w: %d bytes after the records", ErrPayload, len(rest))
		}
		return nil, nil
	}
	recs := make([]wire.ProviderRecord, n)
	for i := range recs {
		if rest, err = decMode.UnmarshalFirst(rest, (*recordIn)(&recs[i])); err != nil {
			return nil, fmt.Errorf("%w: provider record %d: %w", ErrPayload, i, err)
		}
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the records", ErrPayload, len(rest))
	}
	return recs, nil
}

// appendArrayHead appends the head of a CBOR array of n elements, in
// shortest form.
func appendArrayHead(dst []byte, n uint64) []byte {
	const major = 4 << 5
	switch {
	case n < 24:
		return append(dst, major|byte(n))
	case n <= 0xff:
		return append(dst, major|24, byte(n))
	case n <= 0xffff:
		return append(dst, major|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(dst, major|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, major|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
		byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// readArrayHead reads the head of a definite-length CBOR array in
// shortest form and returns its element count and the bytes after it.
func readArrayHead(b []byte) (n uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, nil, errors.New("no array head")
	}
	if b[0]>>5 != 4 {
		return 0, nil, fmt.Errorf("want an array, got major type %d", b[0]>>5)
	}
	ai := b[0] & 0x1f
	if ai < 24 {
		return uint64(ai), b[1:], nil
	}
	if ai > 27 {
		return 0, nil, errors.New("indefinite-length or reserved array head")
	}
	size := 1 << (ai - 24)
	if len(b) < 1+size {
		return 0, nil, errors.New("truncated array head")
	}
	for _, c := range b[1 : 1+size] {
		n = n<<8 | uint64(c)
	}
	if min := [4]uint64{24, 1 << 8, 1 << 16, 1 << 32}[ai-24]; n < min {
		return 0, nil, errors.New("array head not in shortest form")
	}
	return n, b[1+size:], nil
}
