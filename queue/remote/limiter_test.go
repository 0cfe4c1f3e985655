package remote

import (
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestGlobalPrefetchAcrossTheLink: a consumer whose channel has a global
// prefetch (basic.qos global) is handed no more unacked deliveries than
// that limit, as with a local queue: what the home node sends past it
// waits, unseen by the channel, until acks return credit to the Limiter;
// a cancel sends what waited back to the queue.
func TestGlobalPrefetchAcrossTheLink(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	home := h.declare("/", "q")
	s := h.link(t).Queue("/", "q").NewSession(newOwner())
	o := s.(*proxySession).owner.(*owner)
	lim := &queue.Limiter{}
	lim.SetLimit(2)
	k := &consumer{tag: "k"}
	if _, err := s.Consume(k, queue.ConsumeOptions{Tag: "k", Limiter: lim}, nil); err != nil {
		t.Fatal(err)
	}
	o.wait(t, queue.ActionConsumeOK, 1)
	for range 5 {
		s.Publish(message("m"), queue.Confirm{}, nil)
	}
	eventually(t, "the home queue delivers up to the limit", func() bool {
		st := home.Stats(t.Context())
		return st.Unacked == 2 && st.Ready == 3
	})
	got := o.wait(t, queue.ActionDeliver, 2)
	if n := len(o.kinds(queue.ActionDeliver)); n != 2 {
		t.Fatalf("%d deliveries reached the channel, want the global prefetch, 2", n)
	}
	// The channel acks both: the Limiter gets its credit back.
	s.Settle(queue.Ack, []uint64{got[0].Delivery.ID, got[1].Delivery.ID}, nil)
	lim.Return(2)
	o.wait(t, queue.ActionDeliver, 4)
	if n := len(o.kinds(queue.ActionDeliver)); n != 4 {
		t.Fatalf("%d deliveries after two acks, want 4", n)
	}
	// The channel's output backs up: what arrives now waits in the session,
	// and a cancel gives it back to the queue.
	lim.Pause()
	all := o.kinds(queue.ActionDeliver)
	s.Settle(queue.Ack, []uint64{all[2].Delivery.ID, all[3].Delivery.ID}, nil)
	lim.Return(2)
	eventually(t, "the last message is sent to the paused channel's node", func() bool {
		return home.Stats(t.Context()).Ready == 0
	})
	if n := len(o.kinds(queue.ActionDeliver)); n != 4 {
		t.Fatalf("%d deliveries reached a paused channel, want 4", n)
	}
	s.Cancel(k, nil)
	eventually(t, "the parked delivery goes back to the queue", func() bool {
		st := home.Stats(t.Context())
		return st.Ready == 1 && st.Unacked == 0
	})
}
