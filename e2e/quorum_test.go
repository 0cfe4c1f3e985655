// These tests say what Warren's quorum queues (x-queue-type=quorum) must
// do, as RabbitMQ 4.x's quorum queues do it, seen through amqp091-go (and
// once through pika); they run against RabbitMQ too (WARREN_E2E_URL).
//
// The reference is RabbitMQ 4.2 (rabbit_quorum_queue.erl, rabbit_fifo.erl,
// rabbit_channel.erl), whose defaults Warren keeps elsewhere too
// (transient non-exclusive queues and basic.qos global=true permitted;
// RabbitMQ 4.3 denies both by default). Consumer timeouts follow 4.3,
// where quorum queues took x-consumer-timeout and cancel the consumer
// rather than close its channel. Where RabbitMQ 3.10, the only RabbitMQ
// at hand, differs from 4.x, a test skips on it and says how.

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declareQuorum declares a durable quorum queue and deletes it at cleanup.
func declareQuorum(t *testing.T, ch *channel, q string, args amqp.Table) {
	t.Helper()
	_, err := ch.QueueDeclare(q, true, false, false, false, quorumArgs(args))
	mustOK(t, err, "declare quorum queue "+q)
	t.Cleanup(func() { deleteQueue(q) })
}

// quorumArgs returns args with x-queue-type=quorum added.
func quorumArgs(args amqp.Table) amqp.Table {
	a := amqp.Table{"x-queue-type": "quorum"}
	for k, v := range args {
		a[k] = v
	}
	return a
}

// queueRes is how RabbitMQ names queue q of vhost "/" in its texts.
func queueRes(q string) string { return "queue '" + q + "' in vhost '/'" }

// syncChannel returns once the broker has handled everything sent on ch
// before it (a synchronous method on the same channel). RabbitMQ answers
// basic.consume on a quorum queue before the queue has registered the
// consumer; a publish racing that registration could go elsewhere.
func syncChannel(t *testing.T, ch *channel, q string) {
	t.Helper()
	_, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	mustOK(t, err, "passive declare "+q)
}

// waitCounts polls queue.declare(passive) until q counts messages ready
// messages and consumers consumers.
func waitCounts(t *testing.T, ch *channel, q string, messages, consumers int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		mustOK(t, err, "passive declare "+q)
		if got.Messages == messages && got.Consumers == consumers {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s counts %d messages and %d consumers, want %d and %d",
				q, got.Messages, got.Consumers, messages, consumers)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deliveryCount returns a delivery's x-delivery-count header and whether
// it has one. RabbitMQ writes it as a long (int64).
func deliveryCount(t *testing.T, d amqp.Delivery) (int64, bool) {
	t.Helper()
	v, ok := d.Headers["x-delivery-count"]
	if !ok {
		return 0, false
	}
	n, isLong := v.(int64)
	if !isLong {
		t.Fatalf("x-delivery-count = %#v (%T), want an int64", v, v)
	}
	return n, true
}

// expectDeliveryCount asserts d's x-delivery-count header (want 0: none)
// and its redelivered flag (set once the message has come back).
func expectDeliveryCount(t *testing.T, d amqp.Delivery, want int64) {
	t.Helper()
	n, ok := deliveryCount(t, d)
	switch {
	case want == 0 && ok:
		t.Fatalf("first delivery of %q carries x-delivery-count %d, want none", d.Body, n)
	case want > 0 && (!ok || n != want):
		t.Fatalf("delivery of %q: x-delivery-count %d (present %v), want %d", d.Body, n, ok, want)
	}
	if d.Redelivered != (want > 0) {
		t.Fatalf("delivery of %q: redelivered=%v with x-delivery-count %d", d.Body, d.Redelivered, want)
	}
}

// expectGone asserts, after publishing a marker behind it, that q no
// longer holds the message that was at its head: the next basic.get
// answers the marker, then nothing.
func expectGone(t *testing.T, ch *channel, q, what string) {
	t.Helper()
	publish(t, ch, "", q, text("marker"))
	if got := getN(t, ch, q, 1, true)[0]; string(got.Body) != "marker" {
		t.Fatalf("%s: got %q, want it gone and the marker next", what, got.Body)
	}
	if d, ok, err := ch.Get(q, true); err != nil || ok {
		t.Fatalf("%s: after the marker basic.get gave %q (ok=%v, err=%v), want get-empty", what, d.Body, ok, err)
	}
}

// --- declare -------------------------------------------------------------

// TestQuorumDeclareRefused: a quorum queue is durable, not exclusive, not
// auto-delete and named by the client; arguments only other queue types
// take, and invalid values of those it takes, are refused at declare with
// 406 and RabbitMQ's text, closing the channel only.
func TestQuorumDeclareRefused(t *testing.T) {
	t.Parallel()
	c := dial(t)
	invalidProperty := func(p string) func(string) string {
		return func(q string) string {
			return "PRECONDITION_FAILED - invalid property '" + p + "' for " + queueRes(q)
		}
	}
	notQuorum := func(arg string) func(string) string {
		return func(q string) string {
			return "PRECONDITION_FAILED - invalid arg '" + arg + "' for " + queueRes(q) + " of queue type rabbit_quorum_queue"
		}
	}
	badValue := func(arg, why string) func(string) string {
		return func(q string) string {
			return "PRECONDITION_FAILED - invalid arg '" + arg + "' for " + queueRes(q) + ": " + why
		}
	}
	for _, tc := range []struct {
		name                           string
		serverNamed                    bool
		durable, exclusive, autoDelete bool
		args                           amqp.Table
		text                           func(q string) string
	}{
		{name: "non-durable", durable: false, text: invalidProperty("non-durable")},
		{name: "exclusive", durable: true, exclusive: true, text: invalidProperty("exclusive-owner")},
		{name: "auto-delete", durable: true, autoDelete: true, text: invalidProperty("auto-delete")},
		{name: "server-named", serverNamed: true, durable: true, text: func(string) string {
			return "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue"
		}},
		// Arguments of classic queues and streams.
		{name: "x-max-priority", durable: true, args: amqp.Table{"x-max-priority": int32(10)}, text: notQuorum("x-max-priority")},
		{name: "x-queue-mode", durable: true, args: amqp.Table{"x-queue-mode": "lazy"}, text: notQuorum("x-queue-mode")},
		{name: "x-queue-version", durable: true, args: amqp.Table{"x-queue-version": int32(2)}, text: notQuorum("x-queue-version")},
		{name: "x-queue-master-locator", durable: true, args: amqp.Table{"x-queue-master-locator": "client-local"}, text: notQuorum("x-queue-master-locator")},
		{name: "x-max-age", durable: true, args: amqp.Table{"x-max-age": "1D"}, text: notQuorum("x-max-age")},
		{name: "x-stream-max-segment-size-bytes", durable: true, args: amqp.Table{"x-stream-max-segment-size-bytes": int32(1000)}, text: notQuorum("x-stream-max-segment-size-bytes")},
		{name: "x-initial-cluster-size", durable: true, args: amqp.Table{"x-initial-cluster-size": int32(3)}, text: notQuorum("x-initial-cluster-size")},
		// Values a quorum queue's own arguments may not take.
		{name: "negative-max-length", durable: true, args: amqp.Table{"x-max-length": int32(-1)}, text: badValue("x-max-length", "{value_negative,-1}")},
		{name: "negative-max-length-bytes", durable: true, args: amqp.Table{"x-max-length-bytes": int32(-1)}, text: badValue("x-max-length-bytes", "{value_negative,-1}")},
		{name: "unknown-overflow", durable: true, args: amqp.Table{"x-overflow": "explode"}, text: badValue("x-overflow", "invalid_overflow")},
		{name: "unknown-dead-letter-strategy", durable: true, args: amqp.Table{"x-dead-letter-exchange": "dlx", "x-dead-letter-strategy": "exactly-once"}, text: badValue("x-dead-letter-strategy", "invalid_dlx_strategy")},
		{name: "dead-letter-routing-key-without-exchange", durable: true, args: amqp.Table{"x-dead-letter-routing-key": "k"}, text: badValue("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined")},
		{name: "negative-message-ttl", durable: true, args: amqp.Table{"x-message-ttl": int32(-1)}, text: badValue("x-message-ttl", "{value_negative,-1}")},
		{name: "zero-expires", durable: true, args: amqp.Table{"x-expires": int32(0)}, text: badValue("x-expires", "{value_zero,0}")},
		{name: "single-active-consumer-not-boolean", durable: true, args: amqp.Table{"x-single-active-consumer": "yes"}, text: badValue("x-single-active-consumer", "{unacceptable_type,longstr}")},
		{name: "zero-initial-group-size", durable: true, args: amqp.Table{"x-quorum-initial-group-size": int32(0)}, text: badValue("x-quorum-initial-group-size", "{value_zero,0}")},
		{name: "unknown-leader-locator", durable: true, args: amqp.Table{"x-queue-leader-locator": "nearest"}, text: badValue("x-queue-leader-locator", "invalid_queue_locator_arg")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := name(t, "")
			if tc.serverNamed {
				q = ""
			} else {
				t.Cleanup(func() { deleteQueue(q) }) // should it be created
			}
			ch := c.channel(t)
			_, err := ch.QueueDeclare(q, tc.durable, tc.autoDelete, tc.exclusive, false, quorumArgs(tc.args))
			expectChannelError(t, ch, err, codePreconditionFail, tc.text(q))
			if !tc.serverNamed {
				probe := c.channel(t)
				_, err = probe.QueueDeclarePassive(q, false, false, false, false, nil)
				expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no "+queueRes(q))
			}
		})
	}
}

// TestQuorumDeclareEquivalence: redeclaring a quorum queue with the same
// properties and arguments answers its counts; any difference in
// durability, x-queue-type or a quorum argument is refused with 406.
func TestQuorumDeclareEquivalence(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "")
	args := amqp.Table{"x-max-length": int32(10), "x-delivery-limit": int32(5)}
	declareQuorum(t, setup, q, args)
	pub := c.channel(t)
	publishConfirmed(t, pub, q, amqp.Persistent, "m1")

	again, err := setup.QueueDeclare(q, true, false, false, false, quorumArgs(args))
	mustOK(t, err, "redeclare with the same arguments")
	if again.Name != q || again.Messages != 1 || again.Consumers != 0 {
		t.Fatalf("declare-ok = %+v, want %s with 1 message and 0 consumers", again, q)
	}

	inequivalent := func(arg, received, current string) string {
		return "PRECONDITION_FAILED - inequivalent arg '" + arg + "' for " + queueRes(q) +
			": received " + received + " but current is " + current
	}
	for _, tc := range []struct {
		name    string
		durable bool
		args    amqp.Table
		text    string
		rabbit3 string // why RabbitMQ 3.x answers otherwise, "" when it does not
	}{
		{"non-durable", false, quorumArgs(args), inequivalent("durable", "'false'", "'true'"), ""},
		{"classic", true, amqp.Table{"x-queue-type": "classic", "x-max-length": int32(10), "x-delivery-limit": int32(5)},
			inequivalent("x-queue-type", "'classic'", "'quorum'"), ""},
		// RabbitMQ 4 fills in the default type (classic) before comparing.
		{"type-left-out", true, amqp.Table{"x-max-length": int32(10), "x-delivery-limit": int32(5)},
			inequivalent("x-queue-type", "'classic'", "'quorum'"),
			"3.x compares a missing x-queue-type as none"},
		{"other-max-length", true, quorumArgs(amqp.Table{"x-max-length": int32(20), "x-delivery-limit": int32(5)}),
			inequivalent("x-max-length", "'20'", "'10'"), ""},
		{"delivery-limit-left-out", true, quorumArgs(amqp.Table{"x-max-length": int32(10)}),
			inequivalent("x-delivery-limit", "none", "the value '5' of type 'signedint'"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rabbit3 != "" {
				skipOnRabbit310(t, tc.rabbit3)
			}
			ch := c.channel(t)
			_, err := ch.QueueDeclare(q, tc.durable, false, false, false, tc.args)
			expectChannelError(t, ch, err, codePreconditionFail, tc.text)
		})
	}
	waitCounts(t, setup, q, 1, 0)
}

// --- publishing and consuming --------------------------------------------

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

// TestQuorumRedelivery: with RabbitMQ 4's default delivery limit a message
// given back (nacked or rejected with requeue, or left unacked by a
// channel that closes) goes back to the front of a quorum queue, flagged
// redelivered and with x-delivery-count 1; the messages behind it follow
// in order, as first deliveries.
func TestQuorumRedelivery(t *testing.T) {
	t.Parallel()
	const requeueToBack = "3.x quorum queues (no default delivery limit) requeue a nacked or rejected message to the back"
	for _, tc := range []struct {
		name string
		// giveBack returns d, delivered on ch, to the queue and answers the
		// channel to consume on next.
		giveBack func(t *testing.T, c *conn, ch *channel, d amqp.Delivery) *channel
		rabbit3  string
	}{
		{"nack", func(t *testing.T, _ *conn, ch *channel, d amqp.Delivery) *channel {
			mustOK(t, ch.Nack(d.DeliveryTag, false, true), "nack requeue")
			return ch
		}, requeueToBack},
		{"reject", func(t *testing.T, _ *conn, ch *channel, d amqp.Delivery) *channel {
			mustOK(t, ch.Reject(d.DeliveryTag, true), "reject requeue")
			return ch
		}, requeueToBack},
		{"channel-closed", func(t *testing.T, c *conn, ch *channel, _ amqp.Delivery) *channel {
			mustOK(t, ch.Close(), "close the consumer's channel")
			return c.channel(t)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.rabbit3 != "" {
				skipOnRabbit310(t, tc.rabbit3)
			}
			c, setup := open(t)
			q := name(t, "")
			declareQuorum(t, setup, q, nil)
			publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3")
			ch := c.channel(t)
			mustOK(t, ch.Qos(1, 0, false), "qos")
			d := consume(t, ch, q, false, nil)
			m := consumeN(t, d, 1, waitFor)[0]
			expectDeliveryCount(t, m, 0)
			if next := tc.giveBack(t, c, ch, m); next != ch {
				ch, d = next, consume(t, next, q, false, nil)
			}
			var got []amqp.Delivery
			for i := 0; i < 3; i++ {
				got = append(got, consumeN(t, d, 1, waitFor)...)
				mustOK(t, ch.Ack(got[i].DeliveryTag, false), "ack")
			}
			equalStrings(t, "after the redelivery", bodies(got), []string{"m1", "m2", "m3"})
			expectDeliveryCount(t, got[0], 1)
			expectDeliveryCount(t, got[1], 0)
			expectDeliveryCount(t, got[2], 0)
		})
	}
}

// TestQuorumDeliveryCount: x-delivery-count counts the times a message
// came back to a quorum queue, however it came back: absent on the first
// delivery, then 1, 2, 3 …, on consumer deliveries and basic.get alike.
func TestQuorumDeliveryCount(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "")
	declareQuorum(t, setup, q, nil)
	publishConfirmed(t, c.channel(t), q, amqp.Persistent, "counted")
	ch := c.channel(t)
	d := consume(t, ch, q, false, nil)
	m := consumeN(t, d, 1, waitFor)[0]
	expectDeliveryCount(t, m, 0)
	mustOK(t, ch.Nack(m.DeliveryTag, false, true), "nack requeue")
	m = consumeN(t, d, 1, waitFor)[0]
	expectDeliveryCount(t, m, 1)
	mustOK(t, ch.Reject(m.DeliveryTag, true), "reject requeue")
	m = consumeN(t, d, 1, waitFor)[0]
	expectDeliveryCount(t, m, 2)
	mustOK(t, ch.Close(), "close the consumer's channel with the message unacked")
	got := getN(t, setup, q, 1, false)[0]
	if string(got.Body) != "counted" {
		t.Fatalf("basic.get gave %q, want counted", got.Body)
	}
	expectDeliveryCount(t, got, 3)
	mustOK(t, setup.Ack(got.DeliveryTag, false), "ack")
	expectCount(t, setup, q, 0)
}

// TestQuorumDeliveryLimit: a message that comes back more often than
// x-delivery-limit (20 when not given, in RabbitMQ 4) is dead-lettered
// with reason delivery_limit, or dropped when the queue has no
// dead-letter exchange.
func TestQuorumDeliveryLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		limit   any // x-delivery-limit; nil leaves it out
		dlx     bool
		returns int // how many returns the message survives
		rabbit3 string
	}{
		{"limit-1-dead-lettered", int32(1), true, 1, ""},
		{"limit-1-dropped", int32(1), false, 1, ""},
		{"default-20-dead-lettered", nil, true, 20, "3.x has no default delivery limit"},
		{"default-20-dropped", nil, false, 20, "3.x has no default delivery limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.rabbit3 != "" {
				skipOnRabbit310(t, tc.rabbit3)
			}
			_, ch := open(t)
			args := amqp.Table{}
			if tc.limit != nil {
				args["x-delivery-limit"] = tc.limit
			}
			var dead <-chan amqp.Delivery
			if tc.dlx {
				var dlx string
				dlx, _, dead = dlxSetup(t, ch)
				args["x-dead-letter-exchange"] = dlx
			}
			q := name(t, "")
			declareQuorum(t, ch, q, args)
			publish(t, ch, "", q, text("poison"))
			since := time.Now()
			for i := 0; i <= tc.returns; i++ {
				m := getN(t, ch, q, 1, false)[0]
				if i > 0 { // 3.x writes 0 on a first basic.get (see TestQuorumGet)
					expectDeliveryCount(t, m, int64(i))
				}
				mustOK(t, ch.Nack(m.DeliveryTag, false, true), "nack requeue")
			}
			if tc.dlx {
				got := consumeN(t, dead, 1, waitFor)[0]
				death := deathWant{count: 1, reason: "delivery_limit", queue: q, exchange: "", routingKeys: []string{q}}
				checkDeaths(t, got, since, []deathWant{death}, death, death)
			}
			expectGone(t, ch, q, fmt.Sprintf("a message returned %d times", tc.returns+1))
		})
	}
}

// TestQuorumDeliveryLimitUnlimited: x-delivery-limit -1 lifts the limit: a
// message comes back however often it is returned, and, as RabbitMQ 4
// requeues without a limit, behind the messages already waiting. Warren
// requeues it at the front, as with a limit: that order is checked against
// RabbitMQ only, until Warren's state machine can put a return behind
// messages enqueued after it.
func TestQuorumDeliveryLimitUnlimited(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x has no unlimited value: a negative limit drops a message on its first return")
	_, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, amqp.Table{"x-delivery-limit": int32(-1)})
	publishConfirmed(t, ch, q, amqp.Persistent, "a", "b")
	const rounds = 25 // past RabbitMQ 4's default limit of 20
	if !external {
		for i := 0; i < rounds; i++ {
			m := getN(t, ch, q, 1, false)[0]
			if string(m.Body) != "a" {
				t.Fatalf("round %d: got %q, want a (requeued at the front)", i, m.Body)
			}
			expectDeliveryCount(t, m, int64(i))
			mustOK(t, ch.Nack(m.DeliveryTag, false, true), "nack requeue")
		}
		waitMessages(t, ch, q, 2)
		return
	}
	for i := 0; i < rounds; i++ {
		for _, want := range []string{"a", "b"} {
			m := getN(t, ch, q, 1, false)[0]
			if string(m.Body) != want {
				t.Fatalf("round %d: got %q, want %q (a requeued message goes to the back)", i, m.Body, want)
			}
			expectDeliveryCount(t, m, int64(i))
			mustOK(t, ch.Nack(m.DeliveryTag, false, true), "nack requeue")
		}
	}
	waitMessages(t, ch, q, 2)
}

// --- dead-lettering ------------------------------------------------------

// TestQuorumDeadLetterStrategies: messages rejected or nacked without
// requeue are dead-lettered with reason rejected, with RabbitMQ's x-death
// headers, whether the queue dead-letters at most once (the default) or
// at least once (x-dead-letter-strategy=at-least-once, which needs
// x-overflow=reject-publish; with drop-head RabbitMQ falls back to at
// most once and still dead-letters).
func TestQuorumDeadLetterStrategies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args amqp.Table
	}{
		{"at-most-once-by-default", nil},
		{"at-most-once", amqp.Table{"x-dead-letter-strategy": "at-most-once"}},
		{"at-least-once", amqp.Table{"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}},
		{"at-least-once-with-drop-head", amqp.Table{"x-dead-letter-strategy": "at-least-once"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ch := open(t)
			dlx, _, dead := dlxSetup(t, ch)
			q := name(t, "")
			args := amqp.Table{"x-dead-letter-exchange": dlx}
			for k, v := range tc.args {
				args[k] = v
			}
			declareQuorum(t, ch, q, args)
			since := time.Now()
			work := c.channel(t)
			publish(t, work, "", q, amqp.Publishing{Body: []byte("r1"), Headers: amqp.Table{"keep": "me"}})
			publish(t, work, "", q, text("r2"))
			ds := getN(t, work, q, 2, false)
			mustOK(t, work.Reject(ds[0].DeliveryTag, false), "reject")
			mustOK(t, work.Nack(ds[1].DeliveryTag, false, false), "nack")
			got := consumeN(t, dead, 2, waitFor)
			equalStrings(t, "dead-lettered", bodies(got), []string{"r1", "r2"})
			death := deathWant{count: 1, reason: "rejected", queue: q, exchange: "", routingKeys: []string{q}}
			for _, d := range got {
				checkDeaths(t, d, since, []deathWant{death}, death, death)
				if d.Exchange != dlx || d.RoutingKey != q {
					t.Errorf("dead-lettered via %q/%q, want %q/%q", d.Exchange, d.RoutingKey, dlx, q)
				}
			}
			if got[0].Headers["keep"] != "me" {
				t.Errorf("the message's own headers were lost: %v", got[0].Headers)
			}
			expectCount(t, work, q, 0)
		})
	}
}

// TestQuorumMaxLengthDropHead: past x-max-length or x-max-length-bytes a
// quorum queue drops its head, dead-lettered with reason maxlen, and
// keeps the newest. A quorum queue does not take reject-publish-dlx:
// RabbitMQ accepts the value and applies drop-head.
func TestQuorumMaxLengthDropHead(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   amqp.Table
		bodies []string
	}{
		{"max-length", amqp.Table{"x-max-length": int32(2)}, []string{"m1", "m2", "m3"}},
		{"max-length-bytes", amqp.Table{"x-max-length-bytes": int32(8)}, []string{"aaaa", "bbbb", "cccc"}},
		{"reject-publish-dlx-is-drop-head", amqp.Table{"x-max-length": int32(2), "x-overflow": "reject-publish-dlx"}, []string{"m1", "m2", "m3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ch := open(t)
			dlx, _, dead := dlxSetup(t, ch)
			q := name(t, "")
			args := amqp.Table{"x-dead-letter-exchange": dlx}
			for k, v := range tc.args {
				args[k] = v
			}
			declareQuorum(t, ch, q, args)
			since := time.Now()
			publishConfirmed(t, c.channel(t), q, amqp.Persistent, tc.bodies...)
			got := consumeN(t, dead, 1, waitFor)[0]
			if string(got.Body) != tc.bodies[0] {
				t.Fatalf("dead-lettered %q, want the head %q", got.Body, tc.bodies[0])
			}
			death := deathWant{count: 1, reason: "maxlen", queue: q, exchange: "", routingKeys: []string{q}}
			checkDeaths(t, got, since, []deathWant{death}, death, death)
			waitMessages(t, ch, q, 2)
			equalStrings(t, "kept", bodies(getN(t, ch, q, 2, true)), tc.bodies[1:])
			expectNoDelivery(t, dead)
		})
	}
}

// TestQuorumMaxLengthRejectPublish: with x-overflow=reject-publish a full
// quorum queue nacks publishes (with confirms on) and keeps what it has;
// nothing is dead-lettered; once drained it takes publishes again.
// RabbitMQ's quorum queue checks the limit after an enqueue and then
// tells its publishers to stop, so it lets in the one publish that
// crosses the limit: the queue may hold x-max-length + 1, never more.
func TestQuorumMaxLengthRejectPublish(t *testing.T) {
	t.Parallel()
	const limit = 3
	c, ch := open(t)
	dlx, _, dead := dlxSetup(t, ch)
	q := name(t, "")
	declareQuorum(t, ch, q, amqp.Table{"x-max-length": int32(limit), "x-overflow": "reject-publish", "x-dead-letter-exchange": dlx})
	pub, confirms := confirmChannel(t, c)
	var accepted []string
	for i := 1; ; i++ {
		if i > 2*limit {
			t.Fatalf("all %d publishes acked by a queue of x-max-length %d", i-1, limit)
		}
		body := fmt.Sprint("m", i)
		publish(t, pub, "", q, text(body))
		if !nextConfirm(t, confirms).Ack {
			break
		}
		accepted = append(accepted, body)
	}
	if len(accepted) < limit || len(accepted) > limit+1 {
		t.Fatalf("%d publishes acked before the first nack, want %d (or %d)", len(accepted), limit, limit+1)
	}
	for i := 0; i < 2; i++ {
		publish(t, pub, "", q, text("over"))
		if nextConfirm(t, confirms).Ack {
			t.Fatal("a publish to a full reject-publish queue was acked")
		}
	}
	equalStrings(t, "kept", bodies(getN(t, ch, q, len(accepted), true)), accepted)
	expectNoDelivery(t, dead)
	// Publishers are let in again once the queue has drained.
	deadline := time.Now().Add(waitFor)
	for {
		publish(t, pub, "", q, text("again"))
		if nextConfirm(t, confirms).Ack {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("publishes still nacked after the queue drained")
		}
		time.Sleep(10 * time.Millisecond)
	}
	equalStrings(t, "after draining", bodies(getN(t, ch, q, 1, true)), []string{"again"})
	expectCount(t, ch, q, 0)
}

// --- expiry --------------------------------------------------------------

// TestQuorumMessageTTL: a message past its TTL (x-message-ttl, the
// expiration property, or the lower of both) leaves a quorum queue
// dead-lettered with reason expired; x-death keeps the message's own
// expiration as original-expiration, and the copy has none.
func TestQuorumMessageTTL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		args       amqp.Table
		expiration string
	}{
		{"queue-ttl", amqp.Table{"x-message-ttl": int32(100)}, ""},
		{"message-expiration", nil, "100"},
		{"lower-of-both", amqp.Table{"x-message-ttl": int32(100)}, "60000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, ch := open(t)
			dlx, _, dead := dlxSetup(t, ch)
			q := name(t, "")
			args := amqp.Table{"x-dead-letter-exchange": dlx}
			for k, v := range tc.args {
				args[k] = v
			}
			declareQuorum(t, ch, q, args)
			since := time.Now()
			publish(t, ch, "", q, amqp.Publishing{Body: []byte("short-lived"), Expiration: tc.expiration})
			got := consumeN(t, dead, 1, waitFor)[0]
			if el := time.Since(since); el < 50*time.Millisecond {
				t.Fatalf("dead-lettered after %s, before its 100 ms TTL", el)
			}
			death := deathWant{count: 1, reason: "expired", queue: q, exchange: "", routingKeys: []string{q}, origExpiry: tc.expiration}
			checkDeaths(t, got, since, []deathWant{death}, death, death)
			if got.Expiration != "" {
				t.Errorf("dead-lettered copy has expiration %q, want none", got.Expiration)
			}
			expectCount(t, ch, q, 0)
		})
	}
}

// TestQuorumQueueExpires: a quorum queue with x-expires is deleted once
// unused (no consumer, no basic.get) that long, and not while it has a
// consumer. RabbitMQ checks on its quorum queues' tick, every 5 s, so the
// wait allows for that.
func TestQuorumQueueExpires(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q, used := name(t, "idle"), name(t, "used")
	declareQuorum(t, ch, q, amqp.Table{"x-expires": int32(100)})
	declareQuorum(t, ch, used, amqp.Table{"x-expires": int32(100)})
	consume(t, c.channel(t), used, true, nil)
	// Poll more slowly than the 100 ms expiry, should a passive declare
	// count as use.
	deadline := time.Now().Add(waitFor + 5*time.Second)
	for {
		time.Sleep(250 * time.Millisecond)
		probe := c.channel(t)
		_, err := probe.QueueDeclarePassive(q, false, false, false, false, nil)
		if err != nil {
			expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no "+queueRes(q))
			break
		}
		_ = probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("unused quorum queue with x-expires 100 still there")
		}
	}
	_, err := ch.QueueDeclarePassive(used, false, false, false, false, nil)
	mustOK(t, err, "a quorum queue with a consumer must not expire")
}

// --- consumers -----------------------------------------------------------

// TestQuorumSingleActiveConsumer: with x-single-active-consumer both
// consumers get consume-ok, but only the first gets messages; once it is
// cancelled and has settled what it held, the second takes over with the
// messages left.
func TestQuorumSingleActiveConsumer(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, amqp.Table{"x-single-active-consumer": true})
	first, second := c.channel(t), c.channel(t)
	mustOK(t, first.Qos(1, 0, false), "qos")
	d1, err := first.Consume(q, "first", false, false, false, false, nil)
	mustOK(t, err, "consume first")
	syncChannel(t, first, q)
	d2, err := second.Consume(q, "second", false, false, false, false, nil)
	mustOK(t, err, "consume second")
	syncChannel(t, second, q)
	publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3")
	m1 := consumeN(t, d1, 1, waitFor)[0]
	expectNoDelivery(t, d2)
	mustOK(t, first.Ack(m1.DeliveryTag, false), "ack m1")
	m2 := consumeN(t, d1, 1, waitFor)[0]
	equalStrings(t, "first consumer", []string{string(m1.Body), string(m2.Body)}, []string{"m1", "m2"})
	mustOK(t, first.Cancel("first", false), "cancel first")
	mustOK(t, first.Ack(m2.DeliveryTag, false), "ack m2 after the cancel")
	got := consumeN(t, d2, 1, waitFor)[0]
	if string(got.Body) != "m3" || got.Redelivered {
		t.Fatalf("second consumer got %q redelivered=%v, want m3, a first delivery", got.Body, got.Redelivered)
	}
	mustOK(t, second.Ack(got.DeliveryTag, false), "ack m3")
	expectNoDelivery(t, d2)
}

// TestQuorumConsumerPriority: a consumer with a higher x-priority gets the
// messages while it has prefetch credit; the lower one gets the rest.
func TestQuorumConsumerPriority(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	low, high := c.channel(t), c.channel(t)
	mustOK(t, high.Qos(2, 0, false), "qos")
	dl := consume(t, low, q, false, nil)
	dh := consume(t, high, q, false, amqp.Table{"x-priority": int32(10)})
	waitCounts(t, ch, q, 0, 2)
	publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3", "m4", "m5")
	hi := consumeN(t, dh, 2, waitFor)
	equalStrings(t, "high priority consumer", bodies(hi), []string{"m1", "m2"})
	lo := consumeN(t, dl, 3, waitFor)
	equalStrings(t, "low priority consumer", bodies(lo), []string{"m3", "m4", "m5"})
	mustOK(t, high.Ack(hi[1].DeliveryTag, true), "ack")
	publish(t, ch, "", q, text("m6"))
	equalStrings(t, "high priority consumer again", bodies(consumeN(t, dh, 1, waitFor)), []string{"m6"})
	expectNoDelivery(t, dl)
}

// TestQuorumMessagePriority: a quorum queue has two priority levels, as
// RabbitMQ 4.0 to 4.2's rabbit_fifo: messages with a priority property
// above 4 are delivered before the others, and each level is FIFO (5 and
// 9 are one level; 0, 4 and none another). The priority property is
// delivered as published. (RabbitMQ 4.3 has 32 levels: there 9 would go
// before 5.)
func TestQuorumMessagePriority(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x quorum queues ignore message priorities")
	_, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	mustOK(t, ch.Confirm(false), "confirm.select")
	for _, m := range []struct {
		prio uint8
		body string
	}{{0, "none"}, {4, "p4"}, {5, "p5"}, {9, "p9"}, {0, "none2"}} {
		dc, err := ch.PublishWithDeferredConfirm("", q, false, false, amqp.Publishing{Priority: m.prio, Body: []byte(m.body)})
		mustOK(t, err, "publish")
		if ok, err := dc.WaitContext(t.Context()); !ok || err != nil {
			t.Fatalf("publish of %s: acked=%v err=%v", m.body, ok, err)
		}
	}
	got := getN(t, ch, q, 5, true)
	equalStrings(t, "order", bodies(got), []string{"p5", "p9", "none", "p4", "none2"})
	if got[1].Priority != 9 {
		t.Fatalf("priority delivered as %d, want 9 as published", got[1].Priority)
	}
}

// TestQuorumConsumerTimeout: a consumer that holds a delivery past its
// timeout (x-consumer-timeout as a queue or a consumer argument, in
// milliseconds) is cancelled with basic.cancel; its channel stays open,
// and the message goes to another consumer, redelivered.
func TestQuorumConsumerTimeout(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x has only the broker-wide consumer_timeout, and closes the channel (406) rather than cancel the consumer")
	const timeout = 500 // ms
	for _, tc := range []struct {
		name                    string
		queueArgs, consumerArgs amqp.Table
	}{
		{"queue-argument", amqp.Table{"x-consumer-timeout": int32(timeout)}, nil},
		{"consumer-argument", nil, amqp.Table{"x-consumer-timeout": int32(timeout)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ch := open(t)
			q := name(t, "")
			declareQuorum(t, ch, q, tc.queueArgs)
			slow := c.channel(t)
			cancels := slow.NotifyCancel(make(chan string, 1))
			d, err := slow.Consume(q, "slow", false, false, false, false, tc.consumerArgs)
			mustOK(t, err, "consume")
			publish(t, ch, "", q, text("held"))
			consumeN(t, d, 1, waitFor)
			start := time.Now()
			select {
			case tag := <-cancels:
				if tag != "slow" {
					t.Fatalf("basic.cancel for %q, want slow", tag)
				}
			case e := <-slow.closed:
				t.Fatalf("channel closed (%v), want the consumer cancelled", e)
			case <-time.After(timeout*time.Millisecond + waitFor):
				t.Fatalf("no basic.cancel within %d ms + %s", timeout, waitFor)
			}
			if el := time.Since(start); el < timeout*time.Millisecond/2 {
				t.Fatalf("cancelled after %s, well before the %d ms timeout", el, timeout)
			}
			expectOpen(t, slow)
			other := c.channel(t)
			got := consumeN(t, consume(t, other, q, false, nil), 1, waitFor)[0]
			if string(got.Body) != "held" {
				t.Fatalf("other consumer got %q, want held", got.Body)
			}
			expectDeliveryCount(t, got, 1)
			mustOK(t, other.Ack(got.DeliveryTag, false), "ack")
		})
	}
}

// TestQuorumGlobalQos: a quorum queue has no channel-wide prefetch: on a
// channel with basic.qos global=true and a prefetch count, basic.consume
// is refused with 540, which closes the connection. (RabbitMQ 4.3 denies
// global qos by default, and reads it as per consumer.)
func TestQuorumGlobalQos(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	mustOK(t, ch.Qos(10, 0, true), "basic.qos global")
	_, err := ch.Consume(q, "", false, false, false, false, nil)
	want := "NOT_IMPLEMENTED - " + queueRes(q) + " does not support global qos"
	expectError(t, err, codeNotImplemented, want)
	expectConnClose(t, c, codeNotImplemented, want)
}

// --- basic.get, purge, delete, counts ------------------------------------

// TestQuorumGet: basic.get takes the head, with or without ack; get-ok
// counts the ready messages left (not those taken and unacked); an empty
// queue answers get-empty.
func TestQuorumGet(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3")
	for _, step := range []struct {
		autoAck bool
		body    string
		left    uint32
	}{{false, "m1", 2}, {true, "m2", 1}, {false, "m3", 0}} {
		d, ok, err := ch.Get(q, step.autoAck)
		mustOK(t, err, "basic.get")
		if !ok || string(d.Body) != step.body || d.MessageCount != step.left || d.Redelivered {
			t.Fatalf("get (autoAck=%v) = %q ok=%v count=%d redelivered=%v, want %q with %d left",
				step.autoAck, d.Body, ok, d.MessageCount, d.Redelivered, step.body, step.left)
		}
		if !isRabbit3(t) { // 3.x writes x-delivery-count 0 on a first basic.get
			expectDeliveryCount(t, d, 0)
		}
		if !step.autoAck {
			mustOK(t, ch.Ack(d.DeliveryTag, false), "ack")
		}
	}
	if d, ok, err := ch.Get(q, false); err != nil || ok {
		t.Fatalf("get on an empty queue = %q ok=%v err=%v, want get-empty", d.Body, ok, err)
	}
	expectCount(t, ch, q, 0)
}

// TestQuorumGetSingleActiveConsumer: basic.get on a quorum queue with
// single active consumer is refused with 405, closing the channel. The
// text is RabbitMQ 4.2's and later, which prints the type's alias as an
// Erlang binary.
func TestQuorumGetSingleActiveConsumer(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x (and 4.0, 4.1) say 'quorum queues' where 4.2 says '<<\"quorum\">> queues'")
	_, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, amqp.Table{"x-single-active-consumer": true})
	publish(t, ch, "", q, text("m1"))
	_, _, err := ch.Get(q, false)
	expectChannelError(t, ch, err, codeResourceLocked,
		"RESOURCE_LOCKED - cannot obtain access to locked "+queueRes(q)+". basic.get operations "+
			`are not supported by <<"quorum">> queues with single active consumer`)
}

// TestQuorumPurge: queue.purge removes the ready messages and answers
// their count; a message delivered and unacked is not purged and comes
// back when requeued.
func TestQuorumPurge(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3")
	held := getN(t, ch, q, 1, false)[0]
	n, err := ch.QueuePurge(q, false)
	mustOK(t, err, "queue.purge")
	if n != 2 {
		t.Fatalf("purge-ok message count %d, want 2", n)
	}
	expectCount(t, ch, q, 0)
	mustOK(t, ch.Nack(held.DeliveryTag, false, true), "requeue the held message")
	got := getN(t, ch, q, 1, true)[0]
	if string(got.Body) != "m1" {
		t.Fatalf("after the purge got %q, want the held m1", got.Body)
	}
}

// TestQuorumCounts: queue.declare-ok, passive or not, counts a quorum
// queue's ready messages (not those delivered and unacked) and its
// consumers.
func TestQuorumCounts(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3")
	cons := c.channel(t)
	mustOK(t, cons.Qos(1, 0, false), "qos") // per consumer
	consumeN(t, consume(t, cons, q, false, nil), 1, waitFor)
	waitCounts(t, ch, q, 2, 1)
	again, err := ch.QueueDeclare(q, true, false, false, false, quorumArgs(nil))
	mustOK(t, err, "redeclare")
	if again.Messages != 2 || again.Consumers != 1 {
		t.Fatalf("declare-ok counts %d messages and %d consumers, want 2 and 1", again.Messages, again.Consumers)
	}
	consumeN(t, consume(t, cons, q, false, nil), 1, waitFor)
	waitCounts(t, ch, q, 1, 2)
}

// TestQuorumDeleteFlags: a quorum queue cannot be deleted with if-unused
// or if-empty: RabbitMQ refuses with 540, which closes the connection,
// and the queue stays. A plain queue.delete answers the count of ready
// messages.
func TestQuorumDeleteFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		ifUnused, ifEmpty bool
	}{
		{"if-unused", true, false},
		{"if-empty", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, ch := open(t)
			q := name(t, "")
			declareQuorum(t, ch, q, nil)
			_, err := ch.QueueDelete(q, tc.ifUnused, tc.ifEmpty, false)
			want := "NOT_IMPLEMENTED - cannot delete " + queueRes(q) + ". queue.delete operations with " +
				tc.name + " flag set are not supported by quorum queues"
			expectError(t, err, codeNotImplemented, want)
			expectConnClose(t, c, codeNotImplemented, want)
			_, probe := open(t)
			_, err = probe.QueueDeclarePassive(q, false, false, false, false, nil)
			mustOK(t, err, "the queue must still be there")
		})
	}
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		c, ch := open(t)
		q := name(t, "")
		declareQuorum(t, ch, q, nil)
		publishConfirmed(t, c.channel(t), q, amqp.Persistent, "m1", "m2", "m3")
		getN(t, ch, q, 1, false)
		n, err := ch.QueueDelete(q, false, false, false)
		mustOK(t, err, "queue.delete")
		if n != 2 {
			t.Fatalf("delete-ok message count %d, want 2", n)
		}
		probe := c.channel(t)
		_, err = probe.QueueDeclarePassive(q, false, false, false, false, nil)
		expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no "+queueRes(q))
	})
}

// --- confirms and other clients ------------------------------------------

// TestQuorumConfirmWindow: 1,000 persistent messages published with at
// most 100 unconfirmed are all acked, and a consumer then drains every
// one of them, in order, once.
func TestQuorumConfirmWindow(t *testing.T) {
	t.Parallel()
	const total, window = 1000, 100
	c, ch := open(t)
	q := name(t, "")
	declareQuorum(t, ch, q, nil)
	pub, confirms := confirmChannel(t, c)
	published, outstanding := 0, 0
	for published < total || outstanding > 0 {
		for outstanding < window && published < total {
			publish(t, pub, "", q, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(fmt.Sprint(published))})
			published++
			outstanding++
		}
		if cf := nextConfirm(t, confirms); !cf.Ack {
			t.Fatalf("publish %d nacked by a queue without limits", cf.DeliveryTag)
		}
		outstanding--
	}
	waitMessages(t, ch, q, total)
	mustOK(t, ch.Qos(window, 0, false), "qos")
	d := consume(t, ch, q, false, nil)
	for i := 0; i < total; i++ {
		m := consumeN(t, d, 1, waitFor)[0]
		if string(m.Body) != fmt.Sprint(i) {
			t.Fatalf("delivery %d is %q, want %d", i, m.Body, i)
		}
		mustOK(t, ch.Ack(m.DeliveryTag, false), "ack")
	}
	expectNoDelivery(t, d)
	expectCount(t, ch, q, 0)
}

// TestQuorumPika: Python's pika declares a quorum queue, publishes to it
// with confirms and consumes with manual acks (e2e/pika). Without pika
// the test skips, or fails under CI.
func TestQuorumPika(t *testing.T) {
	t.Parallel()
	url := brokerURLOrSkip(t)
	if err := exec.Command(debianPython, "-c", "import pika").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
		}
		t.Skipf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	out, err := exec.CommandContext(ctx, debianPython, "pika/confirm_consume.py", url, q, "200", "quorum").CombinedOutput()
	got := strings.TrimSpace(string(out))
	if err != nil {
		t.Fatalf("pika client: %v\n%s", err, got)
	}
	if want := "OK published=200 confirmed=200 consumed=200"; got != want {
		t.Fatalf("pika client printed %q, want %q", got, want)
	}
}
