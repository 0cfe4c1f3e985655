package queuetest

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// Run runs the conformance suite against queues of typ, each case on a
// queue of its own. Every wait is bounded, so a type that answers late
// (from another goroutine, node or Raft group) passes as well as one that
// answers at once.
func Run(t *testing.T, typ queue.Type) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(newHarness(t, typ))
		})
	}
}

// cases are the behaviours every queue type keeps, as RabbitMQ's queues
// keep them for AMQP 0-9-1 clients.
var cases = []struct {
	name string
	run  func(h *harness)
}{
	{"publishes are confirmed once each, consumed in order, acks remove them", publishConsumeAck},
	{"requeued messages go back in their places, redelivered and counted", requeueOrder},
	{"a consumer gets no more than its prefetch until it settles", prefetchCredit},
	{"a cancelled consumer gets nothing more and settles what it holds", cancelStops},
	{"get takes the head and counts what remains", getCounts},
	{"purge drops ready messages and keeps unacked ones", purgeReady},
	{"delete if-unused and if-empty refuse, then delete cancels and downs sessions", deleteConditions},
	{"closing a session cancels its consumers", sessionCloseCancels},
	{"a closed queue refuses a delete", closeRefusesDelete},
}

func publishConsumeAck(h *harness) {
	p := h.newOwner()
	for _, b := range []string{"a", "b", "c"} {
		p.publish(b)
	}
	p.waitConfirms(3)
	c := h.newOwner()
	k := c.consume("k", 0)
	got := k.waitGot(3)
	if b := bodies(got); !slices.Equal(b, []string{"a", "b", "c"}) {
		h.t.Fatalf("delivered %v, want [a b c]", b)
	}
	for _, d := range got {
		if d.Redelivered || d.DeliveryCount != 0 {
			h.t.Fatalf("first delivery of %q: redelivered %v, count %d", d.Message.Body, d.Redelivered, d.DeliveryCount)
		}
	}
	h.waitStats(queue.Stats{Unacked: 3, Consumers: 1})
	c.settle(queue.Ack, got[0].ID, got[1].ID, got[2].ID)
	h.waitStats(queue.Stats{Consumers: 1})
}

func requeueOrder(h *harness) {
	p := h.newOwner()
	for _, b := range []string{"a", "b", "c"} {
		p.publish(b)
	}
	p.waitConfirms(3)
	a, b := p.get(false), p.get(false)
	if a.Kind != queue.ActionGetOK || b.Kind != queue.ActionGetOK {
		h.t.Fatalf("get answered %v and %v", a.Kind, b.Kind)
	}
	p.settle(queue.Requeue, b.Delivery.ID, a.Delivery.ID)
	h.waitStats(queue.Stats{Ready: 3})
	for i, want := range []struct {
		body  string
		redel bool
		count uint32
		left  uint32
	}{{"a", true, 1, 2}, {"b", true, 1, 1}, {"c", false, 0, 0}} {
		g := p.get(true)
		if g.Kind != queue.ActionGetOK {
			h.t.Fatalf("get %d: %v", i, g.Kind)
		}
		d := g.Delivery
		if string(d.Message.Body) != want.body || d.Redelivered != want.redel || d.DeliveryCount != want.count || g.Count != want.left {
			h.t.Fatalf("get %d: %q redelivered %v count %d, %d left; want %q %v %d, %d left",
				i, d.Message.Body, d.Redelivered, d.DeliveryCount, g.Count, want.body, want.redel, want.count, want.left)
		}
	}
}

func prefetchCredit(h *harness) {
	p := h.newOwner()
	for _, b := range []string{"1", "2", "3", "4", "5"} {
		p.publish(b)
	}
	p.waitConfirms(5)
	c := h.newOwner()
	k := c.consume("k", 2)
	// Two delivered and three ready: the queue holds the rest back.
	h.waitStats(queue.Stats{Ready: 3, Unacked: 2, Consumers: 1})
	got := k.waitGot(2)
	c.settle(queue.Ack, got[0].ID)
	h.waitStats(queue.Stats{Ready: 2, Unacked: 2, Consumers: 1})
	if b := bodies(k.waitGot(3)); !slices.Equal(b, []string{"1", "2", "3"}) {
		h.t.Fatalf("delivered %v, want [1 2 3]", b)
	}
}

func cancelStops(h *harness) {
	p := h.newOwner()
	c := h.newOwner()
	k := c.consume("k", 0)
	p.publish("held")
	got := k.waitGot(1)
	c.returned(c.s.Cancel(k, nil))
	h.waitStats(queue.Stats{Unacked: 1})
	p.publish("after")
	p.waitConfirms(2)
	h.waitStats(queue.Stats{Ready: 1, Unacked: 1})
	if n := k.count(); n != 1 {
		h.t.Fatalf("a cancelled consumer was handed %d deliveries, want 1", n)
	}
	c.settle(queue.Ack, got[0].ID)
	h.waitStats(queue.Stats{Ready: 1})
}

func getCounts(h *harness) {
	p := h.newOwner()
	if a := p.get(false); a.Kind != queue.ActionGetEmpty {
		h.t.Fatalf("get on an empty queue: %v, want get-empty", a.Kind)
	}
	p.publish("x")
	p.publish("y")
	p.waitConfirms(2)
	a := p.get(false)
	if a.Kind != queue.ActionGetOK || string(a.Delivery.Message.Body) != "x" || a.Count != 1 {
		h.t.Fatalf("get: %v %q with %d left, want x with 1 left", a.Kind, body(a), a.Count)
	}
	h.waitStats(queue.Stats{Ready: 1, Unacked: 1})
	b := p.get(true)
	if b.Kind != queue.ActionGetOK || string(b.Delivery.Message.Body) != "y" || b.Count != 0 {
		h.t.Fatalf("no-ack get: %v %q with %d left, want y with 0 left", b.Kind, body(b), b.Count)
	}
	h.waitStats(queue.Stats{Unacked: 1})
	p.settle(queue.Ack, a.Delivery.ID)
	h.waitStats(queue.Stats{})
}

func body(a queue.Action) string {
	if a.Delivery.Message == nil {
		return ""
	}
	return string(a.Delivery.Message.Body)
}

func purgeReady(h *harness) {
	p := h.newOwner()
	for _, b := range []string{"1", "2", "3"} {
		p.publish(b)
	}
	p.waitConfirms(3)
	p.get(false)
	h.waitStats(queue.Stats{Ready: 2, Unacked: 1})
	n, err := h.q.Purge(context.Background())
	if err != nil || n != 2 {
		h.t.Fatalf("purge: %d, %v; want 2", n, err)
	}
	h.waitStats(queue.Stats{Unacked: 1})
}

func deleteConditions(h *harness) {
	p := h.newOwner()
	c := h.newOwner()
	k := c.consume("k", 0)
	ctx := context.Background()
	wantRefusal(h, "if-unused with a consumer", h.q, true, false, "in use")
	c.returned(c.s.Cancel(k, nil))
	h.waitStats(queue.Stats{})
	c.returned(c.s.Cancel(k, nil)) // cancelling twice is harmless
	p.publish("x")
	p.waitConfirms(1)
	h.waitStats(queue.Stats{Ready: 1})
	wantRefusal(h, "if-empty with a ready message", h.q, false, true, "not empty")
	k2 := c.consume("k2", 0)
	k2.waitGot(1)
	n, err := h.q.Delete(ctx, false, false)
	if err != nil || n != 0 {
		h.t.Fatalf("delete: %d, %v", n, err)
	}
	h.wait("the consumer hears it was cancelled", func() bool { return k2.cancelled })
	h.wait("every session hears the queue is down", func() bool { return p.down && c.down })
	if n, err := h.q.Delete(ctx, true, true); err != nil || n != 0 {
		h.t.Fatalf("deleting a deleted queue: %d, %v; want nothing", n, err)
	}
}

// wantRefusal checks that a conditional delete is refused with 406 and
// RabbitMQ's text, and leaves the queue as it was.
func wantRefusal(h *harness, what string, q queue.Queue, ifUnused, ifEmpty bool, why string) {
	h.t.Helper()
	before := q.Stats(context.Background())
	_, err := q.Delete(context.Background(), ifUnused, ifEmpty)
	var pe *protocol.Error
	if !h.typ.Capabilities().ConditionalDelete {
		if !errors.As(err, &pe) || pe.Code != protocol.NotImplemented {
			h.t.Fatalf("%s: %v, want 540 from a type without conditional deletes", what, err)
		}
	} else if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed ||
		pe.Text != "PRECONDITION_FAILED - queue '"+q.Name()+"' in vhost '/' "+why {
		h.t.Fatalf("%s: %v, want 406 ... %s", what, err, why)
	}
	if after := q.Stats(context.Background()); after != before {
		h.t.Fatalf("%s: a refused delete changed %+v to %+v", what, before, after)
	}
}

func sessionCloseCancels(h *harness) {
	p := h.newOwner()
	c := h.newOwner()
	c.consume("k1", 0)
	c.consume("k2", 0)
	h.waitStats(queue.Stats{Consumers: 2})
	c.s.Close()
	h.waitStats(queue.Stats{})
	c.s.Close() // closing twice is harmless
	p.publish("x")
	p.waitConfirms(1)
	h.waitStats(queue.Stats{Ready: 1})
}

func closeRefusesDelete(h *harness) {
	p := h.newOwner()
	p.publish("x")
	p.waitConfirms(1)
	if err := h.q.Close(); err != nil {
		h.t.Fatalf("close: %v", err)
	}
	if _, err := h.q.Delete(context.Background(), false, false); err == nil {
		h.t.Fatal("a closed queue accepted a delete")
	}
}
