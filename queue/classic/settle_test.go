package classic

import (
	"slices"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

func TestAckAndUnknownIDs(t *testing.T) {
	h := newHarness(t, nil, Options{})
	h.publish("a", "b")
	d1, _, _ := h.q.Get(false)
	d2, _, _ := h.q.Get(false)
	h.q.Settle(queue.Ack, []uint64{d1.ID, 999})
	h.stats(0, 1, 0)
	h.q.Settle(queue.Ack, []uint64{d1.ID}) // twice: ignored
	h.q.Settle(queue.Requeue, []uint64{d1.ID})
	h.stats(0, 1, 0)
	h.q.Settle(queue.Ack, []uint64{d2.ID})
	h.stats(0, 0, 0)
}

func TestRejectDeadLetters(t *testing.T) {
	tests := []struct {
		name     string
		args     protocol.Table
		wantDead []string
	}{
		{"with dlx", protocol.Table{"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "rk"}, []string{"a"}},
		{"without dlx", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.args, Options{})
			h.publish("a")
			d, _, _ := h.q.Get(false)
			h.q.Settle(queue.Reject, []uint64{d.ID})
			h.stats(0, 0, 0)
			dead, reasons := h.deadLettered()
			if !slices.Equal(dead, tt.wantDead) {
				t.Fatalf("dead-lettered %v, want %v", dead, tt.wantDead)
			}
			if len(dead) == 0 {
				return
			}
			m := h.dead[0]
			if reasons[0] != "rejected" || m.Exchange != "dlx" || m.RoutingKey != "rk" {
				t.Fatalf("dead letter %q to %q/%q, want rejected to dlx/rk", reasons[0], m.Exchange, m.RoutingKey)
			}
			death := m.Props.Headers["x-death"].([]any)[0].(protocol.Table)
			if death["queue"] != "q" || death["exchange"] != "x" || !slices.Equal(death["routing-keys"].([]any), []any{"k"}) {
				t.Fatalf("x-death = %v", death)
			}
		})
	}
}

// The dead-letter hook runs without the queue's lock, so the broker can
// route a dead letter back into the same queue.
func TestDeadLetterIntoSameQueue(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-dead-letter-exchange": ""}, Options{})
	h.onDead = func(ms []*queue.Message) {
		for _, m := range ms {
			if !queue.IsDeathCycle(m, h.q.Name()) {
				h.q.Publish(m, queue.Confirm{})
			}
		}
	}
	h.publish("a")
	d, _, _ := h.q.Get(false)
	h.q.Settle(queue.Reject, []uint64{d.ID})
	got, _, ok := h.q.Get(true)
	if !ok || string(got.Message.Body) != "a" || got.Message.Props.Headers["x-first-death-reason"] != "rejected" {
		t.Fatalf("dead letter did not come back: ok %v %+v", ok, got.Message)
	}
}

func TestPurge(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-dead-letter-exchange": "dlx"}, Options{})
	h.publish("1", "2", "3", "4", "5")
	h.q.Get(false)
	h.q.Get(false)
	if n, _ := h.q.Purge(bg); n != 3 {
		t.Fatalf("Purge() = %d, want 3", n)
	}
	h.stats(0, 2, 0)
	if dead, _ := h.deadLettered(); len(dead) != 0 {
		t.Fatalf("purge dead-lettered %v", dead)
	}
	if n, _ := h.q.Purge(bg); n != 0 {
		t.Fatalf("second Purge() = %d", n)
	}
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name              string
		ready, consumers  int
		ifUnused, ifEmpty bool
		want              string
		wantCount         uint32
	}{
		{"plain", 3, 1, false, false, "", 3},
		{"if-empty refuses ready messages", 2, 0, false, true,
			"PRECONDITION_FAILED - queue 'q' in vhost '/' not empty", 0},
		{"if-unused refuses consumers", 0, 1, true, false,
			"PRECONDITION_FAILED - queue 'q' in vhost '/' in use", 0},
		{"if-empty and if-unused on an idle empty queue", 0, 0, true, true, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, nil, Options{})
			var cs []*fakeConsumer
			for range tt.consumers {
				c := newConsumer(0)
				cs = append(cs, c)
				h.q.Consume(c, queue.ConsumeOptions{Limiter: pausedLimiter()})
			}
			for range tt.ready {
				h.publish("m")
			}
			n, err := h.q.Delete(bg, tt.ifUnused, tt.ifEmpty)
			if got := errText(err); got != tt.want {
				t.Fatalf("Delete error %q, want %q", got, tt.want)
			}
			if n != tt.wantCount {
				t.Fatalf("Delete count %d, want %d", n, tt.wantCount)
			}
			for _, c := range cs {
				if c.cancelled != (err == nil) {
					t.Fatalf("consumer cancelled = %v after Delete error %v", c.cancelled, err)
				}
			}
			if err != nil {
				return
			}
			h.stats(0, 0, 0)
			h.publish("late")
			if _, _, ok := h.q.Get(true); ok {
				t.Fatal("a deleted queue handed out a message")
			}
			if err := h.q.Consume(newConsumer(-1), queue.ConsumeOptions{}); err == nil {
				t.Fatal("a deleted queue accepted a consumer")
			}
		})
	}
}
