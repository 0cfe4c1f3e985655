package exchange

import "github.com/warrenmq/warren/protocol"

// erlangTerm keeps TestErlangTerm, written when exchange had its own copy
// of the formatter, pointing at the one that moved to protocol.
func erlangTerm(v any) string { return protocol.ErlangTerm(v) }
