package persist

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzLoadSnapshot feeds arbitrary bytes to the snapshot decoders the
// loads use. With frameIt the input is the payload and gets a valid
// header and checksum, so that the fuzzer reaches the CBOR decoders;
// otherwise it is the whole file. Either the decoder refuses the input
// with one of the CorruptError details, or what it returns survives an
// encode/decode round trip unchanged. It must never panic.
func FuzzLoadSnapshot(f *testing.F) {
	table, err := encodeTable(testPeers(3, 1))
	if err != nil {
		f.Fatal(err)
	}
	provs, err := encodeProviders(testRecords(f, 2, false))
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range [][]byte{table, provs} {
		f.Add(b, false, false)
		f.Add(b, true, false)
		f.Add(b[:headerSize], false, false)
		f.Add(b[:len(b)/2], false, false)
		f.Add(b[headerSize:], false, true) // the payload, to be framed
		f.Add(b[headerSize:], true, true)
	}
	f.Add([]byte{}, false, false)
	f.Add([]byte{0x80}, false, true)
	f.Add([]byte{0x80}, true, true)
	f.Add([]byte{0x81, 0xa1, 0x00, 0x41, 0x00}, false, true)
	f.Add([]byte{0x9a, 0xff, 0xff, 0xff, 0xff}, true, true)

	f.Fuzz(func(t *testing.T, data []byte, providers, frameIt bool) {
		magic := magicTable
		if providers {
			magic = magicProviders
		}
		if frameIt {
			data = framed(magic, data)
		}
		if !providers {
			peers, err := decodeTable(data)
			if err != nil {
				checkDetail(t, err)
				return
			}
			again, err := encodeTable(peers)
			if err != nil {
				t.Fatalf("re-encode %d peers: %v", len(peers), err)
			}
			back, err := decodeTable(again)
			if err != nil || !reflect.DeepEqual(back, peers) {
				t.Fatalf("round trip of %d decoded peers: %v", len(peers), err)
			}
			return
		}
		recs, err := decodeProviders(data)
		if err != nil {
			checkDetail(t, err)
			return
		}
		again, err := encodeProviders(recs)
		if err != nil {
			t.Fatalf("re-encode %d records: %v", len(recs), err)
		}
		back, err := decodeProviders(again)
		if err != nil || !reflect.DeepEqual(back, recs) {
			t.Fatalf("round trip of %d decoded records: %v", len(recs), err)
		}
	})
}

// checkDetail fails unless err wraps one of the CorruptError details.
func checkDetail(t *testing.T, err error) {
	t.Helper()
	for _, d := range []error{ErrTruncated, ErrTrailing, ErrMagic, ErrVersion, ErrChecksum, ErrPayload, ErrTooLarge} {
		if errors.Is(err, d) {
			return
		}
	}
	t.Fatalf("error %v wraps no CorruptError detail", err)
}
