//go:build !race

package wire

// raceEnabled reports whether the race detector is on; it changes allocation
// counts and makes sync.Pool drop items at random.
const raceEnabled = false
