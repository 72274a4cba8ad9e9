//go:build !macronode

package metrics

import (
	"testing"
	"time"

	"github.com/svc-dht/svc-dht/wire"
)

// The micronode build exports the contractual set and nothing else.
func TestMicronodeExportsContractOnly(t *testing.T) {
	m := New()
	record(t, m)
	m.RPCServed(wire.OpFindNode, wire.CodeOK, time.Millisecond) // no-op here
	fams, _ := parse(t, m)
	want := map[string]bool{}
	for _, c := range contract {
		want[c.name] = true
	}
	for name := range fams {
		if !want[name] {
			t.Errorf("micronode exports %s, which is not in the contract", name)
		}
	}
	for name := range want {
		if fams[name] == nil {
			t.Errorf("micronode lacks %s", name)
		}
	}
}
