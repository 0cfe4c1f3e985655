//go:build race

package exchange

// raceEnabled is true under -race, where sync.Pool drops items on purpose
// and allocation counts mean nothing.
const raceEnabled = true
