package persist

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/wire"
)

func genAddrs() *rapid.Generator[[]string] {
	return rapid.SliceOfN(rapid.StringN(0, 40, wire.MaxAddrLen), 0, wire.MaxAddrs)
}

func genPeer() *rapid.Generator[kbucket.Peer] {
	return rapid.Custom(func(t *rapid.T) kbucket.Peer {
		var p kbucket.Peer
		copy(p.ID[:], rapid.SliceOfN(rapid.Byte(), kbucket.IDLen, kbucket.IDLen).Draw(t, "id"))
		switch rapid.IntRange(0, 2).Draw(t, "family") {
		case 1:
			a := [4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "v4"))
			p.Addr = netip.AddrPortFrom(netip.AddrFrom4(a), rapid.Uint16().Draw(t, "port"))
		case 2:
			a := [16]byte(rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, "v6"))
			p.Addr = netip.AddrPortFrom(netip.AddrFrom16(a), rapid.Uint16().Draw(t, "port"))
		}
		if addrs := genAddrs().Draw(t, "addrs"); len(addrs) > 0 {
			p.Addrs = addrs
		}
		p.LastSeen = rapid.Int64().Draw(t, "last_seen")
		return p
	})
}

// genRecord draws structurally valid records; signatures are random bytes
// (the snapshot does not check them, the caller's verifier does).
func genRecord() *rapid.Generator[wire.ProviderRecord] {
	return rapid.Custom(func(t *rapid.T) wire.ProviderRecord {
		r := wire.ProviderRecord{ProtoVer: wire.ProtoVersion}
		copy(r.Key[:], rapid.SliceOfN(rapid.Byte(), wire.IDLen, wire.IDLen).Draw(t, "key"))
		copy(r.Publisher[:], rapid.SliceOfN(rapid.Byte(), wire.IDLen, wire.IDLen).Draw(t, "publisher"))
		if addrs := genAddrs().Draw(t, "addrs"); len(addrs) > 0 {
			r.Addrs = addrs
		}
		r.TTL = rapid.Uint32().Draw(t, "ttl")
		r.TS = rapid.Int64().Draw(t, "ts")
		for i := range rapid.IntRange(0, wire.MaxSigners).Draw(t, "signers") {
			s := wire.Signer{Alg: wire.Alg(rapid.IntRange(0, 300).Draw(t, "alg"))}
			s.KeyHash[0] = byte(i)
			r.Signers = append(r.Signers, s)
			r.Sigs = append(r.Sigs, wire.Signature{
				Alg:       s.Alg,
				PublicKey: rapid.SliceOfN(rapid.Byte(), 1, 64).Draw(t, "pk"),
				Sig:       rapid.SliceOfN(rapid.Byte(), 1, 128).Draw(t, "sig"),
			})
		}
		return r
	})
}

func TestPropTableRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		peers := rapid.SliceOfN(genPeer(), 1, 40).Draw(t, "peers")
		data, err := encodeTable(peers)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeTable(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, peers) {
			t.Fatalf("decoded %v, want %v", got, peers)
		}
	})
}

func TestPropProvidersRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs := rapid.SliceOfN(genRecord(), 1, 30).Draw(t, "records")
		data, err := encodeProviders(recs)
		if err != nil {
			t.Fatal(err)
		}
		size := headerSize + len(appendArrayHead(nil, uint64(len(recs))))
		for i := range recs {
			size += recs[i].EncodedSize()
		}
		if len(data) != size {
			t.Fatalf("file of %d bytes, want %d", len(data), size)
		}
		got, err := decodeProviders(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, recs) {
			t.Fatalf("decoded %v, want %v", got, recs)
		}
	})
}

func TestArrayHead(t *testing.T) {
	for _, n := range []uint64{0, 1, 23, 24, 255, 256, 65535, 65536, 1<<32 - 1, 1 << 32, 1<<64 - 1} {
		b := appendArrayHead(nil, n)
		got, rest, err := readArrayHead(append(b, 0xee))
		if err != nil || got != n || len(rest) != 1 {
			t.Fatalf("array head of %d (% x): read %d, rest %d, %v", n, b, got, len(rest), err)
		}
		if len(b) > 1 {
			if _, _, err := readArrayHead(b[:len(b)-1]); err == nil {
				t.Fatalf("truncated head of %d accepted", n)
			}
		}
	}
}

func TestMinRecordBytes(t *testing.T) {
	smallest := wire.ProviderRecord{ProtoVer: wire.ProtoVersion}
	b, err := wire.AppendProviderRecord(nil, &smallest)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != minRecordBytes {
		t.Fatalf("smallest record is %d bytes, minRecordBytes is %d", len(b), minRecordBytes)
	}
	var back wire.ProviderRecord
	if err := wire.DecodeProviderRecord(b, &back); err != nil {
		t.Fatalf("smallest record does not decode: %v", err)
	}
	// One byte less cannot be a record: a count needing it is refused.
	if _, err := decodeProviders(framed(magicProviders, append([]byte{0x82}, b...))); !errors.Is(err, ErrPayload) {
		t.Fatalf("two records claimed in the bytes of one: %v", err)
	}
}
