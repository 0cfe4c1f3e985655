//go:build !race

package console_test

// raceEnabled: the race detector is on, and timings mean nothing.
const raceEnabled = false
