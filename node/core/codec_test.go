package core

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(50, 50))
	rec := signedRecord(randID(r), randID(r), epoch, time.Hour)
	nodes := []wire.NodeInfo{{ID: randID(r), Addrs: []string{"quic://192.0.2.7:4433"}, LastSeen: 1700000000}, {ID: randID(r), Addrs: []string{"quic://[2001:db8::1]:4433"}}}
	reqs := []Request{
		{Op: wire.OpPing},
		{Op: wire.OpFindNode, Key: randID(r)},
		{Op: wire.OpFindNode, Key: randID(r), Hedge: true},
		{Op: wire.OpFindValue, Key: randID(r)},
		{Op: wire.OpProvide, Record: rec},
		{Op: wire.OpStore, Key: randID(r), Value: []byte("v"), Sigs: []wire.Signature{{Alg: wire.AlgEd25519, PublicKey: make([]byte, 32), Sig: make([]byte, 64)}}},
	}
	for _, req := range reqs {
		b, err := AppendRequest(nil, &req, 9, epoch.Unix())
		if err != nil {
			t.Fatalf("%v: %v", req.Op, err)
		}
		var env wire.Envelope
		if err := wire.DecodeEnvelope(b, &env); err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := DecodeRequest(&env, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, req) {
			t.Fatalf("request round trip:\n got %+v\nwant %+v", got, req)
		}
		for _, resp := range []Response{
			{Op: req.Op, Code: wire.CodeOK, Self: nodes[0], Closest: nodes, Providers: []wire.ProviderRecord{*rec}, Accepted: true},
			{Op: req.Op, Code: wire.CodeQuotaExceeded, Reason: "quota: peer request rate"},
		} {
			// Keep only the fields the opcode's body carries.
			want := Response{Op: resp.Op, Code: resp.Code, Reason: resp.Reason}
			if resp.Code == wire.CodeOK {
				switch req.Op {
				case wire.OpPing:
					want.Self = resp.Self
				case wire.OpFindNode:
					want.Closest = resp.Closest
				case wire.OpFindValue:
					want.Providers = resp.Providers
				default:
					want.Accepted = true
				}
			}
			b, err := AppendResponse(nil, &env, &want, epoch.Unix())
			if err != nil {
				t.Fatalf("%v response: %v", req.Op, err)
			}
			var renv wire.Envelope
			if err := wire.DecodeEnvelope(b, &renv); err != nil {
				t.Fatal(err)
			}
			var got Response
			if err := DecodeResponse(&renv, &got); err != nil {
				t.Fatal(err)
			}
			if renv.CorrID != 9 || !reflect.DeepEqual(got, want) {
				t.Fatalf("%v response round trip:\n got %+v\nwant %+v", req.Op, got, want)
			}
		}
	}
	if _, err := AppendRequest(nil, &Request{Op: wire.OpProvide}, 1, 0); err == nil {
		t.Fatal("provide without a record encoded")
	}
	if _, err := AppendRequest(nil, &Request{Op: 9}, 1, 0); err == nil {
		t.Fatal("unknown opcode encoded")
	}
}
