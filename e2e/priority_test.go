package e2e

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestPriorityQueue: in a queue with x-max-priority higher priorities are
// delivered first, equal priorities in publish order, and priorities above
// the maximum count as the maximum.
func TestPriorityQueue(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-priority": int32(5)})
	for _, m := range []struct {
		prio uint8
		body string
	}{{1, "p1"}, {0, "p0"}, {5, "p5a"}, {3, "p3"}, {9, "p9"}, {5, "p5b"}, {0, "p0b"}} {
		publish(t, ch, "", q, amqp.Publishing{Priority: m.prio, Body: []byte(m.body)})
	}
	waitMessages(t, ch, q, 7)
	got := getN(t, ch, q, 7, true)
	equalStrings(t, "order", bodies(got), []string{"p5a", "p9", "p5b", "p3", "p1", "p0", "p0b"})
	if got[1].Priority != 9 {
		t.Fatalf("priority property delivered as %d, want 9 as published", got[1].Priority)
	}
}

// TestPriorityQueueConsumer: a consumer that starts after a backlog built
// up receives it by priority.
func TestPriorityQueueConsumer(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-priority": int32(10)})
	for i := 0; i <= 10; i++ {
		publish(t, ch, "", q, amqp.Publishing{Priority: uint8(i), Body: []byte(fmt.Sprint(i))})
	}
	waitMessages(t, ch, q, 11)
	d := consume(t, ch, q, true, nil)
	equalStrings(t, "order", bodies(consumeN(t, d, 11, waitFor)),
		[]string{"10", "9", "8", "7", "6", "5", "4", "3", "2", "1", "0"})
}

// TestSingleActiveConsumer: with x-single-active-consumer only the first
// consumer gets messages; when it goes, the next one takes over where it
// left off.
func TestSingleActiveConsumer(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-single-active-consumer": true})
	first, second := c.channel(t), c.channel(t)
	d1, err := first.Consume(q, "first", false, false, false, false, nil)
	mustOK(t, err, "consume")
	d2, err := second.Consume(q, "second", false, false, false, false, nil)
	mustOK(t, err, "consume")
	got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	mustOK(t, err, "passive")
	if got.Consumers != 2 {
		t.Fatalf("declare-ok consumers %d, want 2", got.Consumers)
	}
	for i := 1; i <= 4; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	a := consumeN(t, d1, 4, waitFor)
	expectNoDelivery(t, d2)
	mustOK(t, first.Ack(a[1].DeliveryTag, true), "ack m1 m2")
	// m3 and m4 are unacked when the active consumer's channel closes:
	// they go back and the second consumer, now active, gets them in order.
	mustOK(t, first.Close(), "close first")
	b := consumeN(t, d2, 2, waitFor)
	equalStrings(t, "taken over", bodies(b), []string{"m3", "m4"})
	publish(t, ch, "", q, text("m5"))
	equalStrings(t, "after", bodies(consumeN(t, d2, 1, waitFor)), []string{"m5"})
}

// TestSingleActiveConsumerCancel: when the active consumer cancels, the
// next one becomes active for new messages; what the cancelled one holds
// stays with it until it acks.
func TestSingleActiveConsumerCancel(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-single-active-consumer": true})
	first, second := c.channel(t), c.channel(t)
	d1, err := first.Consume(q, "first", false, false, false, false, nil)
	mustOK(t, err, "consume")
	d2, err := second.Consume(q, "second", false, false, false, false, nil)
	mustOK(t, err, "consume")
	publish(t, ch, "", q, text("m1"))
	held := consumeN(t, d1, 1, waitFor)[0]
	mustOK(t, first.Cancel("first", false), "cancel first")
	publish(t, ch, "", q, text("m2"))
	equalStrings(t, "second", bodies(consumeN(t, d2, 1, waitFor)), []string{"m2"})
	mustOK(t, first.Ack(held.DeliveryTag, false), "ack m1 after cancel")
	expectNoDelivery(t, d2)
	expectOpen(t, first)
}
