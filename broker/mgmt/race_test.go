//go:build race

package mgmt

// raceEnabled: the race detector is on, and timings mean nothing.
const raceEnabled = true
