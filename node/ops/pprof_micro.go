//go:build !macronode

package ops

import "net/http"

// flavor is the build flavour listed first in /version's features.
const flavor = "micronode"

// mountPprof adds nothing: the micronode build has no profiling endpoints.
func mountPprof(*http.ServeMux) {}
