//go:build !macronode

package runtime

// verifyPool: the micronode build verifies PROVIDE records on the event
// loop that decoded them (no extra goroutines).
const verifyPool = false
