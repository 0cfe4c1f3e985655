package classic

import (
	"slices"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

func parsed(t *testing.T, args protocol.Table) queue.Args {
	t.Helper()
	a, err := queue.ParseArgs(args, "q", "/")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestUpdateArgs: new effective arguments apply to a running queue as a
// policy does in RabbitMQ: a lower max-length drops the head at once,
// dead-lettered to the new dead-letter exchange; a message TTL applies to
// what is published after it; lifting the limit lets the queue grow; a
// new x-expires counts from the change.
func TestUpdateArgs(t *testing.T) {
	h := newHarness(t, nil, Options{})
	h.publish("a", "b", "c", "d", "e")
	h.q.UpdateArgs(parsed(t, protocol.Table{"x-max-length": int32(2), "x-dead-letter-exchange": "dlx"}))
	h.stats(2, 0, 0)
	dead, reasons := h.deadLettered()
	if !slices.Equal(dead, []string{"a", "b", "c"}) || reasons[0] != "maxlen" || h.dead[0].Exchange != "dlx" {
		t.Fatalf("dead-lettered %v %v", dead, reasons)
	}
	h.q.UpdateArgs(parsed(t, protocol.Table{"x-message-ttl": int32(100), "x-dead-letter-exchange": "dlx2"}))
	h.publish("f", "g", "h")
	h.stats(5, 0, 0)
	h.clock.Advance(100 * time.Millisecond)
	// d and e had no TTL when they came: they stay, and f, g, h behind
	// them expire when they reach the head, as in RabbitMQ.
	h.stats(5, 0, 0)
	if got := h.drain(); !slices.Equal(got, []string{"d", "e"}) {
		t.Fatalf("drained %v", got)
	}
	if dead, _ := h.deadLettered(); len(dead) != 6 || h.dead[5].Exchange != "dlx2" {
		t.Fatalf("dead-lettered %v", dead)
	}
	h.q.UpdateArgs(parsed(t, protocol.Table{"x-expires": int32(1000)}))
	h.clock.Advance(999 * time.Millisecond)
	if h.expiredCalls() != 0 {
		t.Fatal("expired early")
	}
	h.clock.Advance(time.Millisecond)
	if h.expiredCalls() != 1 {
		t.Fatal("x-expires from a policy did not expire the queue")
	}
}

// TestUpdateArgsRejectPublish: a limit under reject-publish drops nothing
// already there and refuses what comes past it.
func TestUpdateArgsRejectPublish(t *testing.T) {
	h := newHarness(t, nil, Options{})
	h.publish("a", "b", "c")
	h.q.UpdateArgs(parsed(t, protocol.Table{"x-max-length": int32(1), "x-overflow": "reject-publish"}))
	h.stats(3, 0, 0)
	var c confirms
	h.q.Publish(h.msg("d"), queue.Confirm{To: &c, Seq: 1})
	c.mu.Lock()
	ok, done := c.got[1]
	c.mu.Unlock()
	if !done || ok {
		t.Fatalf("publish past the limit: confirmed %v %v, want a nack", done, ok)
	}
}
