package classic

import (
	"slices"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

func TestQueueTTL(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-message-ttl": int32(1000), "x-dead-letter-exchange": "dlx"}, Options{})
	h.publish("a", "b")
	h.clock.Advance(500 * time.Millisecond)
	h.publish("c")
	h.clock.Advance(499 * time.Millisecond)
	h.stats(3, 0, 0)
	h.clock.Advance(time.Millisecond)
	h.stats(1, 0, 0)
	dead, reasons := h.deadLettered()
	if !slices.Equal(dead, []string{"a", "b"}) || !slices.Equal(reasons, []string{"expired", "expired"}) {
		t.Fatalf("dead-lettered %v %v, want a and b expired", dead, reasons)
	}
	h.clock.Advance(500 * time.Millisecond)
	h.stats(0, 0, 0)
	if h.clock.armed() > 1 {
		t.Fatalf("%d timers armed; a queue has one", h.clock.armed())
	}
	// The queue TTL is not recorded as original-expiration.
	if _, ok := h.dead[0].Props.Headers["x-death"].([]any)[0].(protocol.Table)["original-expiration"]; ok {
		t.Fatal("original-expiration set for a queue TTL")
	}
}

func TestPerMessageTTL(t *testing.T) {
	tests := []struct {
		name       string
		queueTTL   protocol.Table
		expiration string
		expiresIn  time.Duration
	}{
		{"message ttl alone", nil, "100", 100 * time.Millisecond},
		{"message ttl below queue ttl", protocol.Table{"x-message-ttl": int32(1000)}, "100", 100 * time.Millisecond},
		{"queue ttl below message ttl", protocol.Table{"x-message-ttl": int32(1000)}, "5000", time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := protocol.Table{"x-dead-letter-exchange": "dlx"}
			for k, v := range tt.queueTTL {
				args[k] = v
			}
			h := newHarness(t, args, Options{})
			m := h.msg("m")
			m.Props.Expiration = tt.expiration
			m.Props.Flags = protocol.FlagExpiration
			h.q.Publish(m, queue.Confirm{})
			h.clock.Advance(tt.expiresIn - time.Millisecond)
			h.stats(1, 0, 0)
			h.clock.Advance(time.Millisecond)
			h.stats(0, 0, 0)
			if len(h.dead) != 1 {
				t.Fatalf("dead-lettered %d messages, want 1", len(h.dead))
			}
			dl := h.dead[0]
			death := dl.Props.Headers["x-death"].([]any)[0].(protocol.Table)
			if death["original-expiration"] != tt.expiration || dl.Props.Expiration != "" {
				t.Fatalf("original-expiration %v, copy expiration %q", death["original-expiration"], dl.Props.Expiration)
			}
		})
	}
}

func TestPerMessageTTLOnlyAtHead(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-dead-letter-exchange": "dlx"}, Options{})
	long := h.msg("long")
	long.Props.Expiration = "10000"
	short := h.msg("short")
	short.Props.Expiration = "10"
	h.q.Publish(long, queue.Confirm{})
	h.q.Publish(short, queue.Confirm{})
	h.clock.Advance(time.Second)
	// As in RabbitMQ, the expired message behind a live one waits.
	h.stats(2, 0, 0)
	h.clock.Advance(9 * time.Second)
	h.stats(0, 0, 0)
	if dead, _ := h.deadLettered(); !slices.Equal(dead, []string{"long", "short"}) {
		t.Fatalf("dead-lettered %v", dead)
	}
}

func TestTTLZero(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-message-ttl": int32(0), "x-dead-letter-exchange": "dlx"}, Options{})
	h.publish("nobody")
	h.stats(0, 0, 0)
	if dead, reasons := h.deadLettered(); !slices.Equal(dead, []string{"nobody"}) || reasons[0] != "expired" {
		t.Fatalf("with no consumer a TTL 0 message should expire: %v %v", dead, reasons)
	}
	c := newConsumer(1)
	h.q.Consume(c, queue.ConsumeOptions{Prefetch: 1})
	h.publish("taken", "refused")
	if !slices.Equal(c.bodies(), []string{"taken"}) {
		t.Fatalf("consumer got %v, want the message it could take at once", c.bodies())
	}
	if dead, _ := h.deadLettered(); !slices.Equal(dead, []string{"nobody", "refused"}) {
		t.Fatalf("dead-lettered %v", dead)
	}
}

func TestExpiredNotDeliveredLazily(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-message-ttl": int32(100)}, Options{})
	h.publish("old")
	h.clock.Jump(time.Second) // the timer has not run yet
	h.publish("new")
	c := newConsumer(-1)
	h.q.Consume(c, queue.ConsumeOptions{})
	if !slices.Equal(c.bodies(), []string{"new"}) {
		t.Fatalf("consumer got %v; an expired head must be dropped, not delivered", c.bodies())
	}
}

func TestGetSkipsExpired(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-message-ttl": int32(100)}, Options{})
	h.publish("stale")
	h.clock.Jump(time.Second)
	if _, _, ok := h.q.Get(true); ok {
		t.Fatal("Get returned an expired message")
	}
	h.stats(0, 0, 0)
}

func TestRequeuedMessageKeepsItsExpiry(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-message-ttl": int32(1000), "x-dead-letter-exchange": "dlx"}, Options{})
	h.publish("a")
	d, _, _ := h.q.Get(false)
	h.clock.Advance(2 * time.Second)
	h.q.Settle(queue.Requeue, []uint64{d.ID})
	if _, _, ok := h.q.Get(true); ok {
		t.Fatal("a requeued message past its TTL was handed out")
	}
	if dead, reasons := h.deadLettered(); !slices.Equal(dead, []string{"a"}) || reasons[0] != "expired" {
		t.Fatalf("dead-lettered %v %v", dead, reasons)
	}
}

func TestXExpires(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-expires": int32(1000)}, Options{})
	h.clock.Advance(999 * time.Millisecond)
	h.q.Touch() // redeclare renews the lease
	h.clock.Advance(999 * time.Millisecond)
	h.q.Get(false) // so does basic.get, even on an empty queue
	h.publish("publishing does not")
	h.clock.Advance(999 * time.Millisecond)
	if n := h.expiredCalls(); n != 0 {
		t.Fatalf("queue expired while in use (%d)", n)
	}
	c := newConsumer(-1)
	h.q.Consume(c, queue.ConsumeOptions{})
	h.clock.Advance(time.Hour)
	if n := h.expiredCalls(); n != 0 {
		t.Fatal("queue with a consumer expired")
	}
	h.q.Cancel(c)
	h.clock.Advance(999 * time.Millisecond)
	if n := h.expiredCalls(); n != 0 {
		t.Fatal("queue expired early after its consumer left")
	}
	h.clock.Advance(time.Millisecond)
	h.clock.Advance(time.Hour)
	if n := h.expiredCalls(); n != 1 {
		t.Fatalf("Expired called %d times, want 1", n)
	}
}

func TestAutoDelete(t *testing.T) {
	h := newHarness(t, nil, Options{AutoDelete: true})
	h.publish("a")
	h.q.Get(true)
	if h.expiredCalls() != 0 {
		t.Fatal("auto-delete queue without consumers expired")
	}
	c1, c2 := newConsumer(-1), newConsumer(-1)
	h.q.Consume(c1, queue.ConsumeOptions{})
	h.q.Consume(c2, queue.ConsumeOptions{})
	h.q.Cancel(c1)
	if h.expiredCalls() != 0 {
		t.Fatal("expired with a consumer left")
	}
	h.q.Cancel(c2)
	if h.expiredCalls() != 1 {
		t.Fatalf("Expired called %d times after the last consumer left, want 1", h.expiredCalls())
	}
}

func TestDeleteStopsTimer(t *testing.T) {
	h := newHarness(t, protocol.Table{"x-expires": int32(1000), "x-message-ttl": int32(10)}, Options{})
	h.publish("a")
	if _, err := h.q.Delete(bg, false, false); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Hour)
	if h.expiredCalls() != 0 || len(h.dead) != 0 {
		t.Fatal("a deleted queue's timer fired")
	}
}
