//go:build quorum

// These tests describe RabbitMQ 4.x quorum-queue behaviour. Warren does not
// have quorum queues yet, so they are built only with -tags quorum (run them
// against RabbitMQ with WARREN_E2E_URL); the tag goes when quorum queues land.

package e2e

import (
	"fmt"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declareQuorum declares a durable quorum queue and deletes it at cleanup.
func declareQuorum(t *testing.T, ch *channel, q string, args amqp.Table) {
	t.Helper()
	a := amqp.Table{"x-queue-type": "quorum"}
	for k, v := range args {
		a[k] = v
	}
	_, err := ch.QueueDeclare(q, true, false, false, false, a)
	mustOK(t, err, "declare quorum queue "+q)
	t.Cleanup(func() { deleteQueue(q) })
}

// TestQuorumQueueBasics: a quorum queue confirms, reports its counts and
// delivers in order within the prefetch window.
func TestQuorumQueueBasics(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	cch, confirms := confirmChannel(t, c)
	for i := 1; i <= 5; i++ {
		publish(t, cch, "", q, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(fmt.Sprint("m", i))})
	}
	if acked := waitConfirms(t, confirms, 5); acked != 5 {
		t.Fatalf("%d of 5 publishes acked", acked)
	}
	waitMessages(t, ch, q, 5)
	mustOK(t, ch.Qos(2, 0, false), "qos")
	d := consume(t, ch, q, false, nil)
	first := consumeN(t, d, 2, waitFor)
	equalStrings(t, "first", bodies(first), []string{"m1", "m2"})
	expectNoDelivery(t, d) // prefetch 2
	mustOK(t, ch.Ack(first[1].DeliveryTag, true), "ack")
	next := consumeN(t, d, 2, waitFor)
	equalStrings(t, "next", bodies(next), []string{"m3", "m4"})
	mustOK(t, ch.Ack(next[1].DeliveryTag, true), "ack")
	last := consumeN(t, d, 1, waitFor)
	equalStrings(t, "last", bodies(last), []string{"m5"})
	mustOK(t, ch.Ack(last[0].DeliveryTag, false), "ack")
	expectCount(t, ch, q, 0)
}

// TestQuorumRequeueToFront: with RabbitMQ 4's default delivery limit a
// message nacked with requeue goes back to the front of a quorum queue,
// flagged redelivered.
func TestQuorumRequeueToFront(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x quorum queues (no default delivery limit) requeue to the back")
	_, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	for i := 1; i <= 3; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 3)
	mustOK(t, ch.Qos(1, 0, false), "qos")
	d := consume(t, ch, q, false, nil)
	m := consumeN(t, d, 1, waitFor)[0]
	mustOK(t, ch.Nack(m.DeliveryTag, false, true), "nack requeue")
	again := consumeN(t, d, 1, waitFor)[0]
	if string(again.Body) != "m1" || !again.Redelivered {
		t.Fatalf("after requeue got %q redelivered=%v, want m1 redelivered", again.Body, again.Redelivered)
	}
}

// TestQuorumQueueDeclareErrors: quorum queues must be durable, and cannot
// be exclusive or auto-delete (406); equivalence covers x-queue-type.
func TestQuorumQueueDeclareErrors(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "")
	vq := "queue '" + q + "' in vhost '/'"
	for _, tc := range []struct {
		name                           string
		durable, exclusive, autoDelete bool
		text                           string
	}{
		{"non-durable", false, false, false, "PRECONDITION_FAILED - invalid property 'non-durable' for " + vq},
		{"exclusive", true, true, false, "PRECONDITION_FAILED - invalid property 'exclusive-owner' for " + vq},
		{"auto-delete", true, false, true, "PRECONDITION_FAILED - invalid property 'auto-delete' for " + vq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			_, err := ch.QueueDeclare(q, tc.durable, tc.autoDelete, tc.exclusive, false, amqp.Table{"x-queue-type": "quorum"})
			expectChannelError(t, ch, err, codePreconditionFail, tc.text)
		})
	}
	declareQuorum(t, setup, q, nil)
	ch := c.channel(t)
	_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "classic"})
	expectChannelError(t, ch, err, codePreconditionFail,
		"PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for "+vq+": received 'classic' but current is 'quorum'")
}

// TestQuorumDeliveryLimit: with x-delivery-limit a message requeued more
// often than the limit is dead-lettered with reason delivery_limit.
func TestQuorumDeliveryLimit(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	dlx, _, dead := dlxSetup(t, ch)
	q := name(t, "")
	declareQuorum(t, ch, q, amqp.Table{"x-delivery-limit": int32(1), "x-dead-letter-exchange": dlx})
	publish(t, ch, "", q, text("poison"))
	d := consume(t, ch, q, false, nil)
	for i := 0; i < 2; i++ {
		m := consumeN(t, d, 1, waitFor)[0]
		mustOK(t, ch.Nack(m.DeliveryTag, false, true), "nack requeue")
	}
	got := consumeN(t, dead, 1, waitFor)[0]
	deaths, _ := got.Headers["x-death"].([]interface{})
	if string(got.Body) != "poison" || len(deaths) != 1 {
		t.Fatalf("dead-lettered %q with x-death %v", got.Body, got.Headers["x-death"])
	}
	if e, _ := deaths[0].(amqp.Table); e["reason"] != "delivery_limit" || e["queue"] != q {
		t.Fatalf("x-death %v, want reason delivery_limit from %s", e, q)
	}
	expectNoDelivery(t, d)
}
