//go:build macronode

package metrics

// Macronode reports whether this is the macronode build (-tags macronode),
// which exports the extra families listed in the package documentation.
const Macronode = true

// Flavor names the build: "micronode" or "macronode".
const Flavor = "macronode"
