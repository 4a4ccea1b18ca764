//go:build !race

package tensor

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
