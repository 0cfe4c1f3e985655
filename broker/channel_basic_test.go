package broker

import (
	"testing"

	"github.com/warrenmq/warren/queue"
)

// kickRecorder is a queue that only records its kicks.
type kickRecorder struct {
	queue.Queue
	id    int
	kicks *[]int
}

func (q *kickRecorder) Kick() { *q.kicks = append(*q.kicks, q.id) }

// TestKickAllRotates: kickAll kicks every queue once, and no queue is
// always first, since the first one kicked may take all the freed credit.
func TestKickAllRotates(t *testing.T) {
	const n, rounds = 3, 300
	var kicks []int
	ks := make([]*consumer, n)
	for i := range ks {
		ks[i] = &consumer{q: &kickRecorder{id: i, kicks: &kicks}}
	}
	var first [n]int
	for range rounds {
		kicks = kicks[:0]
		kickAll(ks)
		seen := map[int]bool{}
		for _, id := range kicks {
			seen[id] = true
		}
		if len(kicks) != n || len(seen) != n {
			t.Fatalf("kicked %v, want each of %d queues once", kicks, n)
		}
		first[kicks[0]]++
	}
	// Each is first a third of the time on average; a tenth is far below
	// what chance allows.
	for i, f := range first {
		if f < rounds/10 {
			t.Fatalf("queue %d kicked first %d times of %d (%v)", i, f, rounds, first)
		}
	}
}
