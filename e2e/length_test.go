package e2e

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestMaxLengthDropHead: past x-max-length the oldest messages are dropped.
func TestMaxLengthDropHead(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(2)})
	for i := 1; i <= 4; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 2)
	equalStrings(t, "kept", bodies(getN(t, ch, q, 2, true)), []string{"m3", "m4"})
}

// TestMaxLengthBytes: x-max-length-bytes counts body bytes; the head is
// dropped until the bodies fit.
func TestMaxLengthBytes(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-length-bytes": int32(10)})
	for _, b := range []string{"aaaa", "bbbb", "cccc"} {
		publish(t, ch, "", q, text(b))
	}
	waitMessages(t, ch, q, 2)
	equalStrings(t, "kept", bodies(getN(t, ch, q, 2, true)), []string{"bbbb", "cccc"})
}

// TestMaxLengthRejectPublish: with x-overflow reject-publish the newest
// messages are refused; with confirms they are nacked, and a free slot
// takes publishes again.
func TestMaxLengthRejectPublish(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(2), "x-overflow": "reject-publish"})
	cch, confirms := confirmChannel(t, c)
	for i := 1; i <= 4; i++ {
		publish(t, cch, "", q, text(fmt.Sprint("m", i)))
	}
	var acks []bool
	for i := 0; i < 4; i++ {
		cf := nextConfirm(t, confirms)
		if cf.DeliveryTag != uint64(i+1) {
			t.Fatalf("confirm %d for tag %d", i+1, cf.DeliveryTag)
		}
		acks = append(acks, cf.Ack)
	}
	if fmt.Sprint(acks) != "[true true false false]" {
		t.Fatalf("confirms %v, want [true true false false]", acks)
	}
	equalStrings(t, "kept", bodies(getN(t, ch, q, 1, true)), []string{"m1"})
	publish(t, cch, "", q, text("m5"))
	if cf := nextConfirm(t, confirms); !cf.Ack {
		t.Fatal("publish into a freed slot was nacked")
	}
	equalStrings(t, "kept", bodies(getN(t, ch, q, 2, true)), []string{"m2", "m5"})
	expectOpen(t, cch)
}

// TestMaxLengthCountsReadyOnly: x-max-length limits ready messages; those
// delivered and not yet acked do not count.
func TestMaxLengthCountsReadyOnly(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(1)})
	publish(t, ch, "", q, text("a"))
	d := getN(t, ch, q, 1, false)[0]
	publish(t, ch, "", q, text("b"))
	waitMessages(t, ch, q, 1)
	mustOK(t, ch.Ack(d.DeliveryTag, false), "ack a")
	equalStrings(t, "kept", bodies(getN(t, ch, q, 1, true)), []string{"b"})
}

// TestMaxLengthEdges: a body larger than x-max-length-bytes does not stay
// (drop-head drops it, reject-publish nacks it), and x-max-length 0 keeps
// nothing but still hands messages to a waiting consumer.
func TestMaxLengthEdges(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	head, rej, zero := name(t, "head"), name(t, "reject"), name(t, "zero")
	declareQueue(t, ch, head, amqp.Table{"x-max-length-bytes": int32(4)})
	declareQueue(t, ch, rej, amqp.Table{"x-max-length-bytes": int32(4), "x-overflow": "reject-publish"})
	declareQueue(t, ch, zero, amqp.Table{"x-max-length": int32(0)})
	cch, confirms := confirmChannel(t, c)
	publish(t, cch, "", head, text("toolong"))
	publish(t, cch, "", rej, text("toolong"))
	publish(t, cch, "", zero, text("dropped"))
	acks := []bool{nextConfirm(t, confirms).Ack, nextConfirm(t, confirms).Ack, nextConfirm(t, confirms).Ack}
	if !acks[0] || acks[1] || !acks[2] {
		t.Fatalf("confirms %v, want ack (drop-head), nack (reject-publish), ack", acks)
	}
	expectCount(t, ch, head, 0)
	expectCount(t, ch, rej, 0)
	expectCount(t, ch, zero, 0)

	cons := c.channel(t)
	d := consume(t, cons, zero, true, nil)
	publish(t, ch, "", zero, text("handed over"))
	equalStrings(t, "delivered", bodies(consumeN(t, d, 1, waitFor)), []string{"handed over"})
}
