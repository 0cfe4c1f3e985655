package quorum

import (
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// orders returns the orders of rs.
func orders(rs []request) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.order
	}
	return out
}

// requests returns requests of orders from to to, both included.
func requests(from, to uint64) []request {
	var rs []request
	for o := from; o <= to; o++ {
		rs = append(rs, request{cmd: fifo.Touch{}, order: o})
	}
	return rs
}

// TestProposerRetriesInOrder: what a leader did not take is sent again
// in the order it was submitted, whatever else waits to be sent again
// meanwhile: a retry longer than one batch whose first batch fails again
// (before the rest of it went), a new leader's commands (first). Sent out
// of order, a later publish would reach the queue before an earlier one.
func TestProposerRetriesInOrder(t *testing.T) {
	tests := []struct {
		name    string
		retry   []request // waiting to be sent again
		elected bool      // a new leader's commands come while the batch is out
	}{
		{"the rest of a long retry", requests(1, maxBatch+300), false},
		{"a new leader's commands first", requests(1, maxBatch+10), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &proposer{retry: tt.retry, orders: uint64(len(tt.retry))}
			p.pending = requests(p.orders+1, p.orders+5)
			want := orders(append(slices.Clone(tt.retry), p.pending...))
			batch := p.takeFor("leader")
			if len(batch) != maxBatch {
				t.Fatalf("took %d, want a batch of %d", len(batch), maxBatch)
			}
			if tt.elected {
				p.retry = append([]request{{cmd: fifo.LeaderElected{}}}, p.retry...)
				want = append([]uint64{0}, want...)
			}
			if more := p.takeFor("another"); more != nil {
				t.Fatalf("took %d for another leader while a batch is out", len(more))
			}
			p.answered(batch) // the leader did not take it
			var sent []request
			for b := p.takeFor("next"); b != nil; b = p.takeFor("next") {
				sent = append(sent, b...)
				p.answered(nil)
			}
			if got := orders(sent); !slices.Equal(got, want) {
				t.Fatalf("sent again in the order %v…, want %v…", head(got), head(want))
			}
		})
	}
}

// head returns the first few of s and where it first breaks order.
func head(s []uint64) []uint64 {
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			return s[max(0, i-2):min(len(s), i+2)]
		}
	}
	return s[:min(len(s), 4)]
}
