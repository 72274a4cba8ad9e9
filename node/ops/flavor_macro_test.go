//go:build macronode

package ops

import (
	"net/http"
	"strings"
	"testing"
)

func TestMacronodePprof(t *testing.T) {
	_, base := start(t, Options{})
	resp, body := get(t, base+"/debug/pprof/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
		t.Errorf("/debug/pprof/: %d", resp.StatusCode)
	}
	resp, body = get(t, base+"/debug/pprof/goroutine?debug=1")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Errorf("goroutine profile: %d", resp.StatusCode)
	}
	if v := NewVersionInfo(Build{}); v.Features[0] != "macronode" {
		t.Errorf("features %v", v.Features)
	}
}
