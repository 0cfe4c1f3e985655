package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file proves that any node of a cluster serves any queue as if the
// queue were local: a classic queue lives on the node it was declared on
// (A, node 0), and clients of the other nodes (B, node 1; C, node 2)
// publish to it, consume from it, get, purge and delete it, with
// RabbitMQ's semantics and reply texts.

// Nodes of the three-node cluster, by role.
const (
	nodeA = 0 // the queue's home
	nodeB = 1
	nodeC = 2
)

// nodeChannel opens a connection to node i of c and a channel on it,
// both with their close notifications registered.
func nodeChannel(t *testing.T, c *testCluster, i int) *channel {
	t.Helper()
	return dialURL(t, c.nodes[i].url(), amqp.Config{}).channel(t)
}

// declareOn declares queue q on node i, waits until every node has it
// and returns q.
func declareOn(t *testing.T, c *testCluster, i int, q string, durable, exclusive bool, args amqp.Table) string {
	t.Helper()
	_, err := nodeChannel(t, c, i).QueueDeclare(q, durable, false, exclusive, false, args)
	mustOK(t, err, "declare "+q)
	if exclusive {
		return q
	}
	for n := range c.nodes {
		eventually(t, fmt.Sprintf("node %d has %s", n, q), func() bool { return c.queueExists(t, n, q) })
	}
	return q
}

// publishConfirmed publishes bodies to the default exchange with key q
// on ch, in confirm mode, and waits until the broker has acked each.
func publishConfirmed(t *testing.T, ch *channel, q string, mode uint8, bodies ...string) {
	t.Helper()
	mustOK(t, ch.Confirm(false), "confirm.select")
	for _, b := range bodies {
		dc, err := ch.PublishWithDeferredConfirm("", q, false, false, amqp.Publishing{Body: []byte(b), DeliveryMode: mode})
		mustOK(t, err, "publish")
		ok, err := dc.WaitContext(t.Context())
		if err != nil || !ok {
			t.Fatalf("publish of %q to %s: acked=%v err=%v", b, q, ok, err)
		}
	}
}

// numbered returns "0" … "n-1".
func numbered(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// expectCancel waits for the broker's basic.cancel of a consumer.
func expectCancel(t *testing.T, cancels <-chan string, deliveries <-chan amqp.Delivery, what string) {
	t.Helper()
	select {
	case <-cancels:
	case <-time.After(waitFor):
		t.Fatalf("no basic.cancel within %s: %s", waitFor, what)
	}
	// The client closes the consumer's deliveries on basic.cancel.
	for range deliveries {
	}
}

// TestClusterForwarding runs the operations on a queue homed on node A
// from clients of nodes B and C, on one cluster.
func TestClusterForwarding(t *testing.T) {
	c := startCluster(t, 3)
	// Queues declared as soon as the nodes serve clients outlive each
	// node's clearing of its previous life (NodeDown for itself).
	early := make([]string, len(c.nodes))
	for i := range c.nodes {
		early[i] = fmt.Sprintf("fwd-early-%d", i)
		_, err := nodeChannel(t, c, i).QueueDeclare(early[i], false, false, false, false, nil)
		mustOK(t, err, "declare at start")
	}
	defer func() {
		for i, q := range early {
			for n := range c.nodes {
				if !c.queueExists(t, n, q) {
					t.Errorf("node %d lost %s, declared on node %d at start", n, q, i)
				}
			}
		}
	}()
	t.Run("PublishOnBConsumeOnCInOrderWithinPrefetch", func(t *testing.T) { fwdPrefetch(t, c) })
	t.Run("NackRequeueKeepsPosition", func(t *testing.T) { fwdRequeue(t, c) })
	t.Run("ReleasedDeliveriesRequeuedInOrder", func(t *testing.T) { fwdRelease(t, c) })
	t.Run("CancelKeepsDeliveriesUnacked", func(t *testing.T) { fwdCancelThenAck(t, c) })
	t.Run("ExclusiveConsumer", func(t *testing.T) { fwdExclusiveConsumer(t, c) })
	t.Run("AutoDeleteWhenRemoteConsumerGoes", func(t *testing.T) { fwdAutoDelete(t, c) })
	t.Run("SingleActiveConsumerAcrossNodes", func(t *testing.T) { fwdSingleActive(t, c) })
	t.Run("LargestMessage", func(t *testing.T) { fwdLargest(t, c) })
	t.Run("DeadLetterAcrossNodes", func(t *testing.T) { fwdDeadLetter(t, c) })
	t.Run("ConfirmsAndMandatory", func(t *testing.T) { fwdConfirms(t, c) })
	t.Run("GetPurgeDeleteCounts", func(t *testing.T) { fwdGetPurgeDelete(t, c) })
	t.Run("CancelNotifyOnDelete", func(t *testing.T) { fwdCancelOnDelete(t, c) })
	t.Run("DirectReplyTo", func(t *testing.T) { fwdDirectReplyTo(t, c) })
	t.Run("ExclusiveQueueOfAnotherNode", func(t *testing.T) { fwdExclusive(t, c) })
}

// fwdPrefetch: messages published on B reach a consumer on C once each
// and in order, and with manual acks and prefetch N the consumer never
// holds more than N unacked.
func fwdPrefetch(t *testing.T, c *testCluster) {
	const total, prefetch = 300, 7
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	cons := nodeChannel(t, c, nodeC)
	mustOK(t, cons.Qos(prefetch, 0, false), "basic.qos")
	deliveries := consume(t, cons, q, false, nil)
	pub := nodeChannel(t, c, nodeB)
	for _, b := range numbered(total) {
		publish(t, pub, "", q, text(b))
	}
	var held []amqp.Delivery
	next := 0
	for next < total {
		select {
		case d, ok := <-deliveries:
			if !ok {
				t.Fatalf("deliveries ended after %d", next)
			}
			if string(d.Body) != strconv.Itoa(next) || d.Redelivered {
				t.Fatalf("delivery %d is %q (redelivered %v), want %q", next, d.Body, d.Redelivered, strconv.Itoa(next))
			}
			next++
			held = append(held, d)
			if len(held) > prefetch {
				t.Fatalf("the consumer holds %d unacked deliveries, prefetch is %d", len(held), prefetch)
			}
		case <-time.After(waitFor):
			t.Fatalf("got %d of %d messages", next, total)
		}
		if len(held) < prefetch && next < total {
			continue
		}
		if next == prefetch || next == total-total%prefetch {
			// A full window: nothing more may come until an ack.
			expectNoDelivery(t, deliveries)
		}
		mustOK(t, held[len(held)-1].Ack(true), "basic.ack multiple")
		held = held[:0]
	}
	expectNoDelivery(t, deliveries)
}

// fwdRequeue: acks, and a nack with requeue over the link: the requeued
// message comes back redelivered, ahead of the messages behind it, as
// RabbitMQ puts a requeued message back in its original position.
func fwdRequeue(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	publishConfirmed(t, nodeChannel(t, c, nodeB), q, amqp.Transient, numbered(5)...)
	cons := nodeChannel(t, c, nodeC)
	mustOK(t, cons.Qos(2, 0, false), "basic.qos")
	deliveries := consume(t, cons, q, false, nil)
	first := consumeN(t, deliveries, 2, waitFor)
	equalStrings(t, "first window", bodies(first), []string{"0", "1"})
	mustOK(t, first[0].Nack(false, true), "basic.nack requeue")
	again := consumeN(t, deliveries, 1, waitFor)[0]
	if string(again.Body) != "0" || !again.Redelivered {
		t.Fatalf("after the nack got %q (redelivered %v), want \"0\" redelivered", again.Body, again.Redelivered)
	}
	mustOK(t, first[1].Ack(false), "ack 1")
	mustOK(t, again.Ack(false), "ack 0")
	var rest []amqp.Delivery
	for len(rest) < 3 {
		ds := consumeN(t, deliveries, min(2, 3-len(rest)), waitFor) // the window is 2
		for _, d := range ds {
			if d.Redelivered {
				t.Fatalf("%q redelivered, never delivered before", d.Body)
			}
			mustOK(t, d.Ack(false), "ack")
		}
		rest = append(rest, ds...)
	}
	equalStrings(t, "the rest", bodies(rest), []string{"2", "3", "4"})
	expectNoDelivery(t, deliveries)
	if n := passiveCount(t, nodeChannel(t, c, nodeB), q); n != 0 {
		t.Fatalf("%d messages left after every ack", n)
	}
}

// exchangeExists reports whether node i has exchange x, by a passive
// declare on a connection of its own.
func (c *testCluster) exchangeExists(t *testing.T, i int, x string) bool {
	t.Helper()
	conn, err := amqp.Dial(c.nodes[i].url())
	mustOK(t, err, "dial")
	defer conn.Close()
	ch, err := conn.Channel()
	mustOK(t, err, "channel")
	return ch.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil) == nil
}

// fwdRelease: what a consumer on C holds unacked goes back to the queue
// on A in its original order, redelivered, when it nacks them all
// (multiple), when its channel recovers, and when its channel closes;
// so does a message got on C and never acked.
func fwdRelease(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	publishConfirmed(t, nodeChannel(t, c, nodeB), q, amqp.Transient, numbered(5)...)
	want := numbered(5)
	release := []struct {
		name string
		do   func(ch *channel, last amqp.Delivery)
	}{
		{"nack multiple", func(ch *channel, last amqp.Delivery) { mustOK(t, last.Nack(true, true), "basic.nack") }},
		{"basic.recover", func(ch *channel, last amqp.Delivery) {
			//lint:ignore SA1019 basic.recover is still part of RabbitMQ's AMQP 0-9-1, and must act across nodes
			mustOK(t, ch.Recover(true), "basic.recover")
		}},
		{"channel close", func(ch *channel, last amqp.Delivery) { mustOK(t, ch.Close(), "channel.close") }},
	}
	for _, r := range release {
		ch := nodeChannel(t, c, nodeC)
		mustOK(t, ch.Qos(10, 0, false), "basic.qos")
		tag := "held"
		ds, err := ch.Consume(q, tag, false, false, false, false, nil)
		mustOK(t, err, "basic.consume")
		held := consumeN(t, ds, 5, waitFor)
		equalStrings(t, r.name+": delivered", bodies(held), want)
		if r.name != "channel close" {
			mustOK(t, ch.Cancel(tag, false), "basic.cancel")
		}
		r.do(ch, held[4])
		got := getN(t, nodeChannel(t, c, nodeB), q, 5, false)
		equalStrings(t, r.name+": requeued", bodies(got), want)
		for _, d := range got {
			if !d.Redelivered {
				t.Fatalf("%s: %q not redelivered", r.name, d.Body)
			}
		}
		// The getter's channel ends with the subtest's connections;
		// what it got goes back as the next round starts over.
		mustOK(t, got[4].Nack(true, true), "basic.nack the gets")
	}
	g := nodeChannel(t, c, nodeC)
	// The last nack went from B to A; C's get must not overtake it.
	waitMessages(t, g, q, 5)
	d, ok, err := g.Get(q, false)
	if err != nil || !ok || string(d.Body) != "0" {
		t.Fatalf("basic.get: ok %v err %v body %q", ok, err, d.Body)
	}
	mustOK(t, g.Close(), "channel.close")
	got := getN(t, nodeChannel(t, c, nodeB), q, 5, true)
	equalStrings(t, "after an unacked get and close", bodies(got), want)
}

// fwdCancelThenAck: cancelling a consumer on C leaves what it was sent
// unacked on its channel, as in RabbitMQ; acking them afterwards settles
// them on A.
func fwdCancelThenAck(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	publishConfirmed(t, nodeChannel(t, c, nodeB), q, amqp.Transient, numbered(3)...)
	ch := nodeChannel(t, c, nodeC)
	ds, err := ch.Consume(q, "c1", false, false, false, false, nil)
	mustOK(t, err, "basic.consume")
	held := consumeN(t, ds, 3, waitFor)
	mustOK(t, ch.Cancel("c1", false), "basic.cancel")
	b := nodeChannel(t, c, nodeB)
	if _, ok, err := b.Get(q, false); err != nil || ok {
		t.Fatalf("basic.get after the cancel: ok %v err %v, want get-empty (the deliveries are still unacked)", ok, err)
	}
	mustOK(t, held[2].Ack(true), "basic.ack multiple")
	mustOK(t, ch.Close(), "channel.close")
	if n := passiveCount(t, b, q); n != 0 {
		t.Fatalf("%d messages back in the queue after they were acked", n)
	}
}

// fwdExclusiveConsumer: an exclusive consumer on C of a queue homed on A
// keeps consumers of B out with RabbitMQ's 403, and the consumer count
// reads the same on every node.
func fwdExclusiveConsumer(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	excl := nodeChannel(t, c, nodeC)
	_, err := excl.Consume(q, "", false, true, false, false, nil)
	mustOK(t, err, "exclusive basic.consume")
	for i := range c.nodes {
		got, err := nodeChannel(t, c, i).QueueDeclarePassive(q, false, false, false, false, nil)
		mustOK(t, err, "passive declare")
		if got.Consumers != 1 {
			t.Fatalf("node %d counts %d consumers, want 1", i, got.Consumers)
		}
	}
	other := nodeChannel(t, c, nodeB)
	_, err = other.Consume(q, "", false, false, false, false, nil)
	expectChannelError(t, other, err, codeAccessRefused, "ACCESS_REFUSED - queue '"+q+"' in vhost '/' in exclusive use")
}

// fwdAutoDelete: an auto-delete queue homed on A goes from every node
// when its last consumer, on C, cancels.
func fwdAutoDelete(t *testing.T, c *testCluster) {
	q := name(t, "")
	_, err := nodeChannel(t, c, nodeA).QueueDeclare(q, false, true, false, false, nil)
	mustOK(t, err, "declare auto-delete")
	eventually(t, "node C has "+q, func() bool { return c.queueExists(t, nodeC, q) })
	ch := nodeChannel(t, c, nodeC)
	_, err = ch.Consume(q, "only", false, false, false, false, nil)
	mustOK(t, err, "basic.consume")
	mustOK(t, ch.Cancel("only", false), "basic.cancel")
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d drops the auto-delete queue", i), func() bool { return !c.queueExists(t, i, q) })
	}
}

// fwdSingleActive: with x-single-active-consumer, of consumers on B and
// C of a queue homed on A only the first gets messages, and the second
// takes over when the first cancels.
func fwdSingleActive(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, amqp.Table{"x-single-active-consumer": true})
	first := nodeChannel(t, c, nodeB)
	fd, err := first.Consume(q, "first", true, false, false, false, nil)
	mustOK(t, err, "basic.consume on B")
	second := nodeChannel(t, c, nodeC)
	sd := consume(t, second, q, true, nil)
	publishConfirmed(t, nodeChannel(t, c, nodeA), q, amqp.Transient, "a", "b")
	equalStrings(t, "the active consumer's", bodies(consumeN(t, fd, 2, waitFor)), []string{"a", "b"})
	expectNoDelivery(t, sd)
	mustOK(t, first.Cancel("first", false), "basic.cancel")
	publishConfirmed(t, nodeChannel(t, c, nodeA), q, amqp.Transient, "c")
	equalStrings(t, "the next active consumer's", bodies(consumeN(t, sd, 1, waitFor)), []string{"c"})
}

// fwdLargest: a message of the largest size a node accepts by default
// (16 MiB) crosses the link both ways intact.
func fwdLargest(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	body := make([]byte, 16<<20)
	for i := range body {
		body[i] = byte(i * 7)
	}
	pub := nodeChannel(t, c, nodeB)
	mustOK(t, pub.Confirm(false), "confirm.select")
	dc, err := pub.PublishWithDeferredConfirm("", q, false, false, amqp.Publishing{Body: body, Headers: amqp.Table{"h": "v"}})
	mustOK(t, err, "publish")
	if ok, err := dc.WaitContext(t.Context()); err != nil || !ok {
		t.Fatalf("the largest message: acked %v err %v", ok, err)
	}
	d := getN(t, nodeChannel(t, c, nodeC), q, 1, true)[0]
	if !bytes.Equal(d.Body, body) || d.Headers["h"] != "v" {
		t.Fatalf("the largest message arrived with %d bytes (headers %v), want %d", len(d.Body), d.Headers, len(body))
	}
}

// passiveCount returns q's ready messages by a passive declare on ch.
func passiveCount(t *testing.T, ch *channel, q string) int {
	t.Helper()
	got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	mustOK(t, err, "passive declare "+q)
	return got.Messages
}

// fwdDeadLetter: a message nacked without requeue, and one rejected, on
// C, from a queue homed on A whose dead-letter exchange was declared on B,
// reach the exchange's queue homed on C.
func fwdDeadLetter(t *testing.T, c *testCluster) {
	dlx := name(t, "dlx")
	mustOK(t, nodeChannel(t, c, nodeB).ExchangeDeclare(dlx, "fanout", false, false, false, false, nil), "declare dlx")
	dlq := declareOn(t, c, nodeC, name(t, "dlq"), false, false, nil)
	mustOK(t, nodeChannel(t, c, nodeC).QueueBind(dlq, "", dlx, false, nil), "bind dlq")
	q := declareOn(t, c, nodeA, name(t, ""), false, false, amqp.Table{"x-dead-letter-exchange": dlx})
	publishConfirmed(t, nodeChannel(t, c, nodeB), q, amqp.Transient, "nacked", "rejected", "acked")
	cons := nodeChannel(t, c, nodeC)
	ds := consumeN(t, consume(t, cons, q, false, nil), 3, waitFor)
	mustOK(t, ds[0].Nack(false, false), "basic.nack")
	mustOK(t, ds[1].Reject(false), "basic.reject")
	mustOK(t, ds[2].Ack(false), "basic.ack")
	dead := consumeN(t, consume(t, nodeChannel(t, c, nodeB), dlq, true, nil), 2, waitFor)
	equalStrings(t, "dead-lettered", bodies(dead), []string{"nacked", "rejected"})
	for _, d := range dead {
		deaths, ok := d.Headers["x-death"].([]any)
		if !ok || len(deaths) != 1 {
			t.Fatalf("%q: x-death = %#v", d.Body, d.Headers["x-death"])
		}
		death := deaths[0].(amqp.Table)
		if death["queue"] != q || death["reason"] != "rejected" {
			t.Fatalf("%q: x-death entry %v, want queue %s reason rejected", d.Body, death, q)
		}
	}
}

// fwdConfirms: publisher confirms on B for persistent messages into a
// durable queue homed on A; mandatory publishes on B are returned only
// when nothing is routed to.
func fwdConfirms(t *testing.T, c *testCluster) {
	const n = 200
	q := declareOn(t, c, nodeA, name(t, ""), true, false, nil)
	t.Cleanup(func() { nodeChannel(t, c, nodeA).QueueDelete(q, false, false, false) })
	ch := nodeChannel(t, c, nodeB)
	mustOK(t, ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n+2))
	returns := ch.NotifyReturn(make(chan amqp.Return, 2))
	for i := range n {
		mustOK(t, ch.Publish("", q, false, false, amqp.Publishing{Body: []byte(strconv.Itoa(i)), DeliveryMode: amqp.Persistent}), "publish")
	}
	for i := 1; i <= n; i++ {
		select {
		case cf := <-confirms:
			if cf.DeliveryTag != uint64(i) || !cf.Ack {
				t.Fatalf("confirm %d: tag %d ack %v", i, cf.DeliveryTag, cf.Ack)
			}
		case <-time.After(waitFor):
			t.Fatalf("%d of %d publishes confirmed", i-1, n)
		}
	}
	if got := passiveCount(t, ch, q); got != n {
		t.Fatalf("the queue holds %d messages after %d confirms", got, n)
	}

	x := name(t, "unbound")
	mustOK(t, nodeChannel(t, c, nodeC).ExchangeDeclare(x, "direct", false, false, false, false, nil), "declare exchange")
	eventually(t, "node B has "+x, func() bool { return c.exchangeExists(t, nodeB, x) })
	mustOK(t, ch.Publish(x, "nowhere", true, false, amqp.Publishing{Body: []byte("unroutable")}), "publish mandatory")
	select {
	case r := <-returns:
		if r.ReplyCode != codeNoRoute || r.ReplyText != "NO_ROUTE" || string(r.Body) != "unroutable" || r.Exchange != x {
			t.Fatalf("basic.return %d %q exchange %q body %q", r.ReplyCode, r.ReplyText, r.Exchange, r.Body)
		}
	case <-time.After(waitFor):
		t.Fatal("no basic.return for an unroutable mandatory publish")
	}
	if cf := <-confirms; !cf.Ack {
		t.Fatal("the returned publish was nacked")
	}
	mustOK(t, ch.Publish("", q, true, false, amqp.Publishing{Body: []byte("routed")}), "publish mandatory")
	select {
	case cf := <-confirms:
		if !cf.Ack {
			t.Fatal("the routed mandatory publish was nacked")
		}
	case <-time.After(waitFor):
		t.Fatal("the routed mandatory publish was not confirmed")
	}
	// A return precedes its publish's confirm, so none can come later.
	select {
	case r := <-returns:
		t.Fatalf("basic.return %d %q for a publish routed to a queue on another node", r.ReplyCode, r.ReplyText)
	default:
	}
}

// fwdGetPurgeDelete: basic.get on C, passive declare counts and purge on
// B, delete with if-empty and if-unused on C.
func fwdGetPurgeDelete(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	b := nodeChannel(t, c, nodeB)
	publishConfirmed(t, b, q, amqp.Transient, "a", "b", "c")
	if n := passiveCount(t, nodeChannel(t, c, nodeB), q); n != 3 {
		t.Fatalf("passive declare on B counts %d, want 3", n)
	}
	get := nodeChannel(t, c, nodeC)
	d, ok, err := get.Get(q, false)
	mustOK(t, err, "basic.get")
	if !ok || string(d.Body) != "a" || d.MessageCount != 2 {
		t.Fatalf("basic.get: ok %v body %q message count %d, want \"a\" and 2", ok, d.Body, d.MessageCount)
	}
	mustOK(t, d.Ack(false), "ack")
	d, ok, err = get.Get(q, true)
	mustOK(t, err, "basic.get no-ack")
	if !ok || string(d.Body) != "b" || d.MessageCount != 1 {
		t.Fatalf("basic.get: ok %v body %q message count %d, want \"b\" and 1", ok, d.Body, d.MessageCount)
	}

	del := nodeChannel(t, c, nodeC)
	_, err = del.QueueDelete(q, false, true, false)
	expectChannelError(t, del, err, codePreconditionFail, "PRECONDITION_FAILED - queue '"+q+"' in vhost '/' not empty")

	n, err := b.QueuePurge(q, false)
	mustOK(t, err, "queue.purge")
	if n != 1 {
		t.Fatalf("queue.purge on B: %d messages, want 1", n)
	}
	if _, ok, err := get.Get(q, false); err != nil || ok {
		t.Fatalf("basic.get after purge: ok %v err %v, want get-empty", ok, err)
	}

	cons := nodeChannel(t, c, nodeB)
	consume(t, cons, q, false, nil)
	del = nodeChannel(t, c, nodeC)
	_, err = del.QueueDelete(q, true, false, false)
	expectChannelError(t, del, err, codePreconditionFail, "PRECONDITION_FAILED - queue '"+q+"' in vhost '/' in use")
	mustOK(t, cons.Close(), "close consumer channel")

	publishConfirmed(t, b, q, amqp.Transient, "x", "y")
	n, err = nodeChannel(t, c, nodeC).QueueDelete(q, true, false, false)
	mustOK(t, err, "queue.delete if-unused")
	if n != 2 {
		t.Fatalf("queue.delete: %d messages, want 2", n)
	}
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d drops %s", i, q), func() bool { return !c.queueExists(t, i, q) })
	}
}

// fwdCancelOnDelete: a consumer on B of a queue homed on A gets
// basic.cancel when the queue is deleted from C.
func fwdCancelOnDelete(t *testing.T, c *testCluster) {
	q := declareOn(t, c, nodeA, name(t, ""), false, false, nil)
	cons := nodeChannel(t, c, nodeB)
	cancels := cons.NotifyCancel(make(chan string, 1))
	deliveries := consume(t, cons, q, false, nil)
	_, err := nodeChannel(t, c, nodeC).QueueDelete(q, false, false, false)
	mustOK(t, err, "queue.delete")
	expectCancel(t, cancels, deliveries, "consumer on B of a queue deleted on C")
	expectOpen(t, cons)
}

// fwdDirectReplyTo: a requester on A, a responder on C consuming the
// request queue homed on B; the reply reaches the requester.
func fwdDirectReplyTo(t *testing.T, c *testCluster) {
	rq := declareOn(t, c, nodeB, name(t, "requests"), false, false, nil)
	responder := nodeChannel(t, c, nodeC)
	requests := consume(t, responder, rq, true, nil)
	requester := nodeChannel(t, c, nodeA)
	replies := consume(t, requester, "amq.rabbitmq.reply-to", true, nil)
	for i := range 3 {
		body := fmt.Sprintf("ping %d", i)
		publish(t, requester, "", rq, amqp.Publishing{Body: []byte(body), ReplyTo: "amq.rabbitmq.reply-to", CorrelationId: body})
		req := consumeN(t, requests, 1, waitFor)[0]
		if req.ReplyTo == "" || req.ReplyTo == "amq.rabbitmq.reply-to" {
			t.Fatalf("the request carries reply_to %q, want the requester's key", req.ReplyTo)
		}
		publish(t, responder, "", req.ReplyTo, amqp.Publishing{Body: []byte("pong " + string(req.Body)), CorrelationId: req.CorrelationId})
		reply := consumeN(t, replies, 1, waitFor)[0]
		if string(reply.Body) != "pong "+body || reply.CorrelationId != body {
			t.Fatalf("reply %q (correlation %q), want %q", reply.Body, reply.CorrelationId, "pong "+body)
		}
	}
}

// fwdExclusive: an exclusive queue declared on B is locked to another
// connection on A, and disappears from every node when its connection
// closes.
func fwdExclusive(t *testing.T, c *testCluster) {
	owner := dialURL(t, c.nodes[nodeB].url(), amqp.Config{})
	q := "fwd-excl" // short enough for the 405 text to fit a short string
	_, err := owner.channel(t).QueueDeclare(q, false, false, true, false, nil)
	mustOK(t, err, "declare exclusive")
	eventually(t, "node A has the exclusive queue", func() bool { return c.exclusiveExists(t, nodeA, q) })
	other := nodeChannel(t, c, nodeA)
	_, err = other.Consume(q, "", false, false, false, false, nil)
	expectChannelError(t, other, err, codeResourceLocked, lockedText(q))
	mustOK(t, owner.Close(), "close the owner")
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d drops the exclusive queue", i), func() bool { return !c.exclusiveExists(t, i, q) })
	}
}

// exclusiveExists reports whether node i has another connection's
// exclusive queue q: a passive declare of it is refused with 405, as
// RabbitMQ refuses it, where a queue that is not there gets 404.
func (c *testCluster) exclusiveExists(t *testing.T, i int, q string) bool {
	t.Helper()
	conn, err := amqp.Dial(c.nodes[i].url())
	mustOK(t, err, "dial")
	defer conn.Close()
	ch, err := conn.Channel()
	mustOK(t, err, "channel")
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	var ae *amqp.Error
	switch {
	case errors.As(err, &ae) && ae.Code == codeResourceLocked:
		return true
	case errors.As(err, &ae) && ae.Code == codeNotFound:
		return false
	}
	t.Fatalf("passive declare of %s on node %d: %v, want 404 or 405", q, i, err)
	return false
}

// lockedText is RabbitMQ's 405 text for another connection's exclusive
// queue.
func lockedText(q string) string {
	return "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + q + "' in vhost '/'. " +
		"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
}

// TestClusterForwardingExclusiveNodeKilled: when the node of an exclusive
// queue's connection is killed, the other nodes drop the queue once
// membership finds the node failed.
func TestClusterForwardingExclusiveNodeKilled(t *testing.T) {
	c := startCluster(t, 3)
	q := name(t, "")
	_, err := nodeChannel(t, c, nodeB).QueueDeclare(q, false, false, true, false, nil)
	mustOK(t, err, "declare exclusive")
	for _, i := range []int{nodeA, nodeC} {
		eventually(t, fmt.Sprintf("node %d has the exclusive queue", i), func() bool { return c.exclusiveExists(t, i, q) })
	}
	c.nodes[nodeB].kill()
	for _, i := range []int{nodeA, nodeC} {
		eventually(t, fmt.Sprintf("node %d drops the exclusive queue of a killed node", i), func() bool { return !c.exclusiveExists(t, i, q) })
	}
}

// TestClusterForwardingHomeNodeDown: with the home node of a durable
// queue killed, a consumer of it on B is cancelled, a new consume on B
// fails as RabbitMQ's does, and once the node is back the queue works
// from B again with its persistent messages.
func TestClusterForwardingHomeNodeDown(t *testing.T) {
	c := startCluster(t, 3)
	q := declareOn(t, c, nodeA, name(t, ""), true, false, nil)
	publishConfirmed(t, nodeChannel(t, c, nodeB), q, amqp.Persistent, "p0", "p1", "p2")
	cons := nodeChannel(t, c, nodeB)
	cancels := cons.NotifyCancel(make(chan string, 1))
	deliveries := consume(t, cons, q, false, nil)
	consumeN(t, deliveries, 3, waitFor) // held unacked when the node dies

	c.nodes[nodeA].kill()
	expectCancel(t, cancels, deliveries, "consumer on B of a queue whose home node was killed")
	expectOpen(t, cons)
	down := "NOT_FOUND - home node '" + c.names[nodeA] + "' of durable queue '" + q + "' in vhost '/' is down or inaccessible"
	ch := nodeChannel(t, c, nodeB)
	_, err := ch.Consume(q, "", false, false, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, down)
	for _, op := range []struct {
		name string
		call func(ch *channel) error
	}{
		{"basic.get", func(ch *channel) error { _, _, err := ch.Get(q, false); return err }},
		{"passive declare", func(ch *channel) error {
			_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			return err
		}},
		{"redeclare", func(ch *channel) error { _, err := ch.QueueDeclare(q, true, false, false, false, nil); return err }},
		{"queue.purge", func(ch *channel) error { _, err := ch.QueuePurge(q, false); return err }},
		{"queue.delete", func(ch *channel) error { _, err := ch.QueueDelete(q, false, false, false); return err }},
	} {
		t.Run(op.name, func(t *testing.T) {
			ch := nodeChannel(t, c, nodeC)
			expectChannelError(t, ch, op.call(ch), codeNotFound, down)
		})
	}

	c.restart(t, nodeA)
	var got []amqp.Delivery
	eventually(t, "the queue serves B again once its node is back", func() bool {
		conn, err := amqp.Dial(c.nodes[nodeB].url())
		mustOK(t, err, "dial B")
		ch, err := conn.Channel()
		mustOK(t, err, "channel on B")
		ds, err := ch.Consume(q, "", false, false, false, false, nil)
		if err != nil {
			conn.Close()
			return false
		}
		t.Cleanup(func() { conn.Close() })
		got = consumeN(t, ds, 3, waitFor)
		return true
	})
	equalStrings(t, "messages after the restart", bodies(got), []string{"p0", "p1", "p2"})
	for _, d := range got {
		if !d.Redelivered {
			t.Fatalf("%q: not redelivered, though delivered before the node died", d.Body)
		}
	}
}
