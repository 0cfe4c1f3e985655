package quorum

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// nopConsumer is a consumer whose deliveries the test reads from its
// owner's actions.
type nopConsumer struct{}

func (nopConsumer) Deliver(queue.Delivery) {}
func (nopConsumer) Cancelled()             {}

// delivered returns the bodies of the deliveries posted to o, in order.
func (o *testOwner) delivered() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, a := range o.acts {
		if a.Kind == queue.ActionDeliver {
			out = append(out, string(a.Delivery.Message.Body))
		}
	}
	return out
}

// waitDelivered waits until o was posted exactly want, in that order.
func (o *testOwner) waitDelivered(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(o.delivered(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %q, want %q", o.delivered(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestSessionAsksForLostDeliveries: a delivery the leader carried out
// but that never reached the channel's session (here the leader found no
// session, as when its frame is lost with a link, or was owed by a
// leader that died) leaves a gap in the consumer's ids at its next
// delivery; the session asks for the missing one and the consumer gets
// it, once, instead of it staying checked out to a consumer that never
// saw it. A new leader's re-issue afterwards delivers nothing twice.
func TestSessionAsksForLostDeliveries(t *testing.T) {
	qq := declareSingle(t)
	o := newTestOwner()
	s := qq.NewSession(o).(*session)
	if _, err := s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "c", Prefetch: 10}, nil); err != nil {
		t.Fatal(err)
	}
	publish := func(body string) {
		s.Publish(&queue.Message{Body: []byte(body)}, queue.Confirm{}, nil)
	}
	publish("m0")
	o.waitDelivered(t, "m0")

	// m1's delivery goes nowhere: the leader finds no session for it.
	qq.mu.Lock()
	delete(qq.sessions, s.ch)
	qq.mu.Unlock()
	publish("m1")
	deadline := time.Now().Add(5 * time.Second)
	for qq.fsm.counts().Unacked != 2 {
		if time.Now().After(deadline) {
			t.Fatal("m1 was not checked out to the consumer")
		}
		time.Sleep(2 * time.Millisecond)
	}
	qq.mu.Lock()
	qq.sessions[s.ch] = s
	qq.mu.Unlock()

	publish("m2")
	o.waitDelivered(t, "m0", "m2", "m1")

	// A new leader re-issues every unsettled delivery: all seen.
	if _, err := qq.call(context.Background(), fifo.LeaderElected{Node: "queuetest@node", Now: now()}); err != nil {
		t.Fatal(err)
	}
	o.waitDelivered(t, "m0", "m2", "m1")

	s.Settle(queue.Ack, []uint64{1, 2, 3}, nil)
	deadline = time.Now().Add(5 * time.Second)
	for st := qq.fsm.counts(); st.Unacked != 0 || st.Ready != 0; st = qq.fsm.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("after acking every delivery: %+v, want nothing left", st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestConsumerAdmit: a consumer's session takes each delivery id once:
// ids in order, a gap's ids when they come later (in any order), and
// nothing it saw before, as a new leader's re-issue would send.
func TestConsumerAdmit(t *testing.T) {
	tests := []struct {
		name  string
		ids   []uint64
		fresh []bool
		gaps  []span
	}{
		{"in order", []uint64{0, 1, 2}, []bool{true, true, true}, nil},
		{"re-issued", []uint64{0, 1, 0, 1, 2}, []bool{true, true, false, false, true}, nil},
		{"gap filled later", []uint64{0, 3, 1, 2, 1, 4}, []bool{true, true, true, true, false, true}, []span{{1, 2}}},
		{"gap filled from the middle", []uint64{0, 4, 2, 1, 3, 2}, []bool{true, true, true, true, true, false}, []span{{1, 3}}},
		{"two gaps", []uint64{0, 2, 5, 3, 1, 4, 5}, []bool{true, true, true, true, true, true, false}, []span{{1, 1}, {3, 4}}},
		{"first seen late", []uint64{7, 8, 6}, []bool{true, true, false}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &consumer{}
			var gaps []span
			for i, id := range tt.ids {
				fresh, gap := k.admit(id)
				if fresh != tt.fresh[i] {
					t.Errorf("id %d (#%d): fresh %v, want %v", id, i, fresh, tt.fresh[i])
				}
				if gap != nil {
					gaps = append(gaps, *gap)
				}
			}
			if !slices.Equal(gaps, tt.gaps) {
				t.Errorf("gaps %v, want %v", gaps, tt.gaps)
			}
			if len(k.missing) != 0 {
				t.Errorf("still missing %v after every id came", k.missing)
			}
		})
	}
}
