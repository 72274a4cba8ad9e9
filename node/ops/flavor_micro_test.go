//go:build !macronode

package ops

import (
	"net/http"
	"testing"
)

func TestMicronodeHasNoPprof(t *testing.T) {
	_, base := start(t, Options{})
	if resp, _ := get(t, base+"/debug/pprof/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/debug/pprof/ in micronode: %d, want 404", resp.StatusCode)
	}
	if v := NewVersionInfo(Build{}); v.Features[0] != "micronode" {
		t.Errorf("features %v", v.Features)
	}
}
