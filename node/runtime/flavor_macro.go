//go:build macronode

package runtime

// verifyPool: the macronode build verifies PROVIDE records in a pool of
// GOMAXPROCS workers with its own bounded queue, so that slow ML-DSA-87
// checks never hold up the event loops' FIND_NODE traffic.
const verifyPool = true
