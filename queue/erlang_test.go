package queue

import "github.com/warrenmq/warren/protocol"

// erlFloat keeps TestErlFloat, written when queue had its own copy of the
// float formatter, pointing at the one that moved to protocol.
func erlFloat(f float64) string { return protocol.ErlangTerm(f) }
