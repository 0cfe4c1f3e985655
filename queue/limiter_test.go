package queue

import (
	"slices"
	"testing"
)

// resumeRecorder records the order in which a limiter resumes it.
type resumeRecorder struct {
	id    int
	order *[]int
}

func (r *resumeRecorder) Resume() { *r.order = append(*r.order, r.id) }

func TestLimiterTake(t *testing.T) {
	tests := []struct {
		name   string
		limit  uint16
		paused bool
		takes  []bool // ack flag of each Take
		want   []bool
	}{
		{"no limit", 0, false, []bool{true, true, false}, []bool{true, true, true}},
		{"limit counts acked deliveries", 2, false, []bool{true, false, true, true}, []bool{true, true, true, false}},
		{"a full limit holds no-ack deliveries back", 1, false, []bool{true, false}, []bool{true, false}},
		{"paused", 0, true, []bool{false}, []bool{false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Limiter
			l.SetLimit(tt.limit)
			if tt.paused {
				l.Pause()
			}
			var order []int
			r := &resumeRecorder{order: &order}
			var got []bool
			for _, ack := range tt.takes {
				got = append(got, l.Take(ack, r))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Take results %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLimiterResumesOnceFreed(t *testing.T) {
	var l Limiter
	l.SetLimit(1)
	var order []int
	r := &resumeRecorder{order: &order}
	l.Take(true, r)
	if l.Take(true, r) || l.Take(false, r) {
		t.Fatal("a full limiter let a delivery through")
	}
	l.Pause()
	l.Return(1)
	if len(order) != 0 {
		t.Fatal("a paused limiter resumed its queues")
	}
	l.Unpause()
	if !slices.Equal(order, []int{0}) {
		t.Fatalf("resumed %v, want the waiting queue once", order)
	}
	if !l.Take(true, r) {
		t.Fatal("after Return and Unpause the limiter refuses")
	}
}

// TestLimiterResumeRotates: every waiting queue is resumed once, and none
// is always first, since the first resumed may take all the freed credit.
func TestLimiterResumeRotates(t *testing.T) {
	const n, rounds = 3, 300
	var order []int
	rs := make([]*resumeRecorder, n)
	for i := range rs {
		rs[i] = &resumeRecorder{id: i, order: &order}
	}
	var first [n]int
	var l Limiter
	l.SetLimit(1)
	for range rounds {
		l.Take(true, rs[0])
		for _, r := range rs {
			l.Take(true, r)
		}
		order = order[:0]
		l.Return(1)
		seen := map[int]bool{}
		for _, id := range order {
			seen[id] = true
		}
		if len(order) != n || len(seen) != n {
			t.Fatalf("resumed %v, want each of %d queues once", order, n)
		}
		first[order[0]]++
	}
	// Each is first a third of the time on average; a tenth is far below
	// what chance allows.
	for i, f := range first {
		if f < rounds/10 {
			t.Fatalf("queue %d resumed first %d times of %d (%v)", i, f, rounds, first)
		}
	}
}
