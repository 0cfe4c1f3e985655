package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestMandatoryUnroutable: a mandatory message no queue takes comes back
// as basic.return 312 NO_ROUTE with its exchange, key and body.
func TestMandatoryUnroutable(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	x := name(t, "x")
	declareExchange(t, ch, x, "direct", nil)
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	mustOK(t, ch.Publish(x, "nobody", true, false, amqp.Publishing{MessageId: "id-1", Body: []byte("lost")}), "publish")
	select {
	case r := <-returns:
		if r.ReplyCode != codeNoRoute || r.ReplyText != "NO_ROUTE" || r.Exchange != x ||
			r.RoutingKey != "nobody" || string(r.Body) != "lost" || r.MessageId != "id-1" {
			t.Fatalf("return = %d %q %q %q %q id %q", r.ReplyCode, r.ReplyText, r.Exchange, r.RoutingKey, r.Body, r.MessageId)
		}
	case <-time.After(waitFor):
		t.Fatal("no basic.return")
	}
	// Not mandatory: silently dropped, the channel stays open.
	mustOK(t, ch.Publish(x, "nobody", false, false, text("dropped")), "publish")
	select {
	case r := <-returns:
		t.Fatalf("non-mandatory message returned: %v", r.ReplyText)
	case <-time.After(quietFor): // bounded: a return would have come by now
	}
	expectOpen(t, ch)
}

// TestPublishErrors: publishing to a missing exchange is a channel error;
// immediate=true is refused with 540, a connection error.
func TestPublishErrors(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	x := name(t, "missing")
	publish(t, ch, x, "k", text("m"))
	expectChannelClose(t, ch, codeNotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")

	ch = c.channel(t)
	mustOK(t, ch.Publish("", "k", false, true, text("m")), "publish immediate")
	expectConnClose(t, c, codeNotImplemented, "NOT_IMPLEMENTED - immediate=true")
}

// TestExclusiveConsumer: an exclusive consumer keeps others off the queue
// (403), and cannot start while another consumer exists.
func TestExclusiveConsumer(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	_, err := ch.Consume(q, "excl", false, true, false, false, nil)
	mustOK(t, err, "exclusive consume")
	inUse := "ACCESS_REFUSED - queue '" + q + "' in vhost '/' in exclusive use"

	other := c.channel(t)
	_, err = other.Consume(q, "second", false, false, false, false, nil)
	expectChannelError(t, other, err, codeAccessRefused, inUse)

	mustOK(t, ch.Cancel("excl", false), "cancel")
	_, err = ch.Consume(q, "plain", false, false, false, false, nil)
	mustOK(t, err, "plain consume")
	other = c.channel(t)
	_, err = other.Consume(q, "excl2", false, true, false, false, nil)
	expectChannelError(t, other, err, codeAccessRefused, inUse)
}

// TestConsumeMissingQueue: basic.consume on a missing queue is 404.
func TestConsumeMissingQueue(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "missing")
	_, err := ch.Consume(q, "", false, false, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
}

// TestNoAck: no-ack deliveries are settled on sending; closing the channel
// returns nothing to the queue.
func TestNoAck(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	cons := c.channel(t)
	d := consume(t, cons, q, true, nil)
	for i := 0; i < 3; i++ {
		publish(t, ch, "", q, text(fmt.Sprint(i)))
	}
	ds := consumeN(t, d, 3, waitFor)
	equalStrings(t, "bodies", bodies(ds), []string{"0", "1", "2"})
	for _, x := range ds {
		if x.Redelivered {
			t.Fatalf("first delivery flagged redelivered")
		}
	}
	mustOK(t, cons.Close(), "close")
	waitMessages(t, ch, q, 0)
}

// TestServerGeneratedConsumerTag: basic.consume with an empty tag gets an
// amq.ctag- tag from the server (amqp091-go always picks its own, so this
// uses raw frames).
func TestServerGeneratedConsumerTag(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	var a args
	a.u16(0).shortstr(q).shortstr("").u8(0).table(nil)
	r.method(1, 60, 20, a.b.Bytes()) // basic.consume
	f := r.expectMethod(1, 60, 21)
	tag := string(f.payload[5 : 5+int(f.payload[4])])
	if !strings.HasPrefix(tag, "amq.ctag-") || len(tag) <= len("amq.ctag-") {
		t.Fatalf("server-generated consumer tag %q, want amq.ctag-…", tag)
	}
}

// TestDuplicateConsumerTag: reusing a consumer tag on a channel is 530, a
// connection error.
func TestDuplicateConsumerTag(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	_, err := ch.Consume(q, "dup", false, false, false, false, nil)
	mustOK(t, err, "consume")
	_, err = ch.Consume(q, "dup", false, false, false, false, nil)
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'")
	expectConnClose(t, c, codeNotAllowed, "NOT_ALLOWED - attempt to reuse consumer tag 'dup'")
}

// TestConsumerPriority: messages go to the highest-priority consumer with
// room, and to lower ones only when it is full.
func TestConsumerPriority(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	low, high := c.channel(t), c.channel(t)
	mustOK(t, low.Qos(2, 0, false), "qos")
	mustOK(t, high.Qos(2, 0, false), "qos")
	dl := consume(t, low, q, false, amqp.Table{"x-priority": int32(0)})
	dh := consume(t, high, q, false, amqp.Table{"x-priority": int32(10)})
	for i := 1; i <= 4; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	equalStrings(t, "high", bodies(consumeN(t, dh, 2, waitFor)), []string{"m1", "m2"})
	equalStrings(t, "low", bodies(consumeN(t, dl, 2, waitFor)), []string{"m3", "m4"})
}

// TestCancel: after basic.cancel the delivery stream ends and new
// messages stay in the queue.
func TestCancel(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	d, err := ch.Consume(q, "c", true, false, false, false, nil)
	mustOK(t, err, "consume")
	mustOK(t, ch.Cancel("c", false), "cancel")
	select {
	case _, ok := <-d:
		if ok {
			t.Fatal("delivery after cancel")
		}
	case <-time.After(waitFor):
		t.Fatal("delivery channel not closed after cancel")
	}
	publish(t, ch, "", q, text("kept"))
	waitMessages(t, ch, q, 1)
}

// TestServerCancelOnQueueDelete: deleting a queue sends basic.cancel to
// its consumers (consumer_cancel_notify).
func TestServerCancelOnQueueDelete(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	cons := c.channel(t)
	cancels := cons.NotifyCancel(make(chan string, 1))
	d, err := cons.Consume(q, "to-be-cancelled", false, false, false, false, nil)
	mustOK(t, err, "consume")
	_, err = ch.QueueDelete(q, false, false, false)
	mustOK(t, err, "delete")
	select {
	case tag := <-cancels:
		if tag != "to-be-cancelled" {
			t.Fatalf("cancelled tag %q", tag)
		}
	case <-time.After(waitFor):
		t.Fatal("no basic.cancel from the server")
	}
	select {
	case _, ok := <-d:
		if ok {
			t.Fatal("delivery after server cancel")
		}
	case <-time.After(waitFor):
		t.Fatal("delivery channel not closed after server cancel")
	}
	expectOpen(t, cons)
}

// TestBasicGet: basic.get returns messages in order with the count of
// those left, then get-empty; a missing queue is 404.
func TestBasicGet(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	_, ok, err := ch.Get(q, true)
	mustOK(t, err, "get")
	if ok {
		t.Fatal("get on an empty queue returned a message")
	}
	for i := 1; i <= 3; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 3)
	for i := 1; i <= 3; i++ {
		d, ok, err := ch.Get(q, false)
		mustOK(t, err, "get")
		if !ok || string(d.Body) != fmt.Sprint("m", i) || d.MessageCount != uint32(3-i) || d.DeliveryTag != uint64(i) {
			t.Fatalf("get %d: ok=%v body=%q left=%d tag=%d", i, ok, d.Body, d.MessageCount, d.DeliveryTag)
		}
	}
	mustOK(t, ch.Ack(3, true), "ack all")
	_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
	mustOK(t, err, "passive")
	missing := name(t, "missing")
	_, _, err = ch.Get(missing, true)
	expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no queue '"+missing+"' in vhost '/'")
}

// TestAckNackReject: ack, nack and reject with and without multiple settle
// exactly the deliveries they name; requeued ones come back first, in
// order, flagged redelivered.
func TestAckNackReject(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 1; i <= 6; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 6)
	getN(t, ch, q, 6, false)                              // tags 1..6
	mustOK(t, ch.Ack(2, true), "ack 1-2")                 // m1 m2 gone
	mustOK(t, ch.Nack(4, true, true), "nack 3-4 requeue") // m3 m4 back
	mustOK(t, ch.Reject(5, false), "reject 5")            // m5 dropped
	mustOK(t, ch.Nack(6, false, true), "nack 6 requeue")  // m6 back
	got := getN(t, ch, q, 3, false)
	equalStrings(t, "requeued", bodies(got), []string{"m3", "m4", "m6"})
	for _, d := range got {
		if !d.Redelivered {
			t.Fatalf("%s not flagged redelivered", d.Body)
		}
	}
	mustOK(t, ch.Ack(got[2].DeliveryTag, true), "ack all")
	waitMessages(t, ch, q, 0)
}

// TestUnknownDeliveryTag: acking a tag that is not outstanding (never
// delivered, or already acked) is 406.
func TestUnknownDeliveryTag(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	mustOK(t, ch.Ack(99, false), "send ack")
	expectChannelClose(t, ch, codePreconditionFail, "PRECONDITION_FAILED - unknown delivery tag 99")

	ch = c.channel(t)
	publish(t, ch, "", q, text("m"))
	d := getN(t, ch, q, 1, false)[0]
	mustOK(t, ch.Ack(d.DeliveryTag, false), "ack")
	mustOK(t, ch.Reject(d.DeliveryTag, false), "send reject")
	expectChannelClose(t, ch, codePreconditionFail, fmt.Sprintf("PRECONDITION_FAILED - unknown delivery tag %d", d.DeliveryTag))
}

// TestRequeueOrder: messages nacked back to a queue return to their
// original positions, whatever order they are nacked in, and are
// redelivered. (basic.get, so no consumer takes them back in between.)
func TestRequeueOrder(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 1; i <= 6; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 6)
	first := getN(t, ch, q, 5, false)
	equalStrings(t, "first", bodies(first), []string{"m1", "m2", "m3", "m4", "m5"})
	mustOK(t, ch.Nack(first[3].DeliveryTag, false, true), "nack m4")
	mustOK(t, ch.Nack(first[1].DeliveryTag, false, true), "nack m2")
	mustOK(t, ch.Nack(first[4].DeliveryTag, true, true), "nack the rest")
	again := getN(t, ch, q, 6, true)
	equalStrings(t, "after requeue", bodies(again), []string{"m1", "m2", "m3", "m4", "m5", "m6"})
	for _, x := range again[:5] {
		if !x.Redelivered {
			t.Fatalf("%s not flagged redelivered", x.Body)
		}
	}
	if again[5].Redelivered {
		t.Fatal("m6 was never delivered but is flagged redelivered")
	}
}

// TestRecover: basic.recover(requeue=true) redelivers everything unacked;
// requeue=false is refused with 540 as RabbitMQ 4 does.
func TestRecover(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("a"))
	publish(t, ch, "", q, text("b"))
	d := consume(t, ch, q, false, nil)
	consumeN(t, d, 2, waitFor)
	mustOK(t, ch.Recover(true), "basic.recover requeue=true")
	again := consumeN(t, d, 2, waitFor)
	equalStrings(t, "recovered", bodies(again), []string{"a", "b"})
	if !again[0].Redelivered || !again[1].Redelivered {
		t.Fatal("recovered messages not flagged redelivered")
	}

	skipOnRabbit310(t, "3.x still redelivers on basic.recover(requeue=false)")
	err := ch.Recover(false)
	expectError(t, err, codeNotImplemented, "NOT_IMPLEMENTED - requeue=false")
	expectConnClose(t, c, codeNotImplemented, "NOT_IMPLEMENTED - requeue=false")
}

// TestQosPerConsumer: with prefetch N per consumer exactly N deliveries are
// in flight; each ack lets one more through.
func TestQosPerConsumer(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 1; i <= 10; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 10)
	mustOK(t, ch.Qos(3, 0, false), "qos")
	d1 := consume(t, ch, q, false, nil)
	d2 := consume(t, ch, q, false, nil)
	a := consumeN(t, d1, 3, waitFor)
	b := consumeN(t, d2, 3, waitFor)
	expectNoDelivery(t, d1)
	expectNoDelivery(t, d2)
	mustOK(t, ch.Ack(a[0].DeliveryTag, false), "ack")
	consumeN(t, d1, 1, waitFor)
	expectNoDelivery(t, d2)
	_ = b
}

// TestQosGlobal: a global prefetch is shared by all consumers of the
// channel.
func TestQosGlobal(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 1; i <= 10; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 10)
	mustOK(t, ch.Qos(4, 0, true), "qos global")
	d1 := consume(t, ch, q, false, nil)
	d2 := consume(t, ch, q, false, nil)
	got := 0
	deadline := time.After(waitFor)
	for got < 4 {
		select {
		case <-d1:
			got++
		case <-d2:
			got++
		case <-deadline:
			t.Fatalf("%d deliveries in flight, want 4", got)
		}
	}
	// Bounded wait: a fifth delivery would break the shared limit.
	select {
	case x := <-d1:
		t.Fatalf("fifth delivery %s over a global prefetch of 4", x.Body)
	case x := <-d2:
		t.Fatalf("fifth delivery %s over a global prefetch of 4", x.Body)
	case <-time.After(quietFor):
	}
	waitMessages(t, ch, q, 6)
}

// TestUnackedReturnOnClose: messages delivered but not acked go back to
// the queue, redelivered, when their channel or their connection closes.
func TestUnackedReturnOnClose(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"channel", "connection"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			_, ch := open(t)
			q := name(t, "")
			declareQueue(t, ch, q, nil)
			publish(t, ch, "", q, text("a"))
			publish(t, ch, "", q, text("b"))
			c2, cons := open(t)
			d := consume(t, cons, q, false, nil)
			consumeN(t, d, 2, waitFor)
			if how == "channel" {
				mustOK(t, cons.Close(), "close channel")
			} else {
				mustOK(t, c2.Close(), "close connection")
			}
			waitMessages(t, ch, q, 2)
			got := getN(t, ch, q, 2, true)
			equalStrings(t, "returned", bodies(got), []string{"a", "b"})
			if !got[0].Redelivered || !got[1].Redelivered {
				t.Fatal("returned messages not flagged redelivered")
			}
		})
	}
}

// TestCancelUnknownTag: basic.cancel for a tag that is not a consumer is
// answered with cancel-ok, as the spec asks.
func TestCancelUnknownTag(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	mustOK(t, ch.Cancel("e2e-no-such-consumer", false), "basic.cancel of an unknown tag")
	expectOpen(t, ch)
}

// TestAckAllWithTagZero: ack (and nack) with delivery tag 0 and multiple
// settle everything outstanding on the channel.
func TestAckAllWithTagZero(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 1; i <= 6; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 6)
	getN(t, ch, q, 3, false)
	mustOK(t, ch.Ack(0, true), "ack 0 multiple")
	getN(t, ch, q, 3, false)
	mustOK(t, ch.Nack(0, true, true), "nack 0 multiple requeue")
	got := getN(t, ch, q, 3, true)
	equalStrings(t, "requeued", bodies(got), []string{"m4", "m5", "m6"})
	expectCount(t, ch, q, 0)
}

// TestQosPrefetchSize: a non-zero prefetch_size is not implemented by
// RabbitMQ: 540, a connection error.
func TestQosPrefetchSize(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	err := ch.Qos(0, 4096, false)
	expectError(t, err, codeNotImplemented, "NOT_IMPLEMENTED - prefetch_size!=0 (4096)")
	expectConnClose(t, c, codeNotImplemented, "NOT_IMPLEMENTED - prefetch_size!=0 (4096)")
}

// TestAckAfterCancel: cancelling a consumer does not settle or requeue its
// unacked deliveries; they can still be acked on the channel.
func TestAckAfterCancel(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("a"))
	publish(t, ch, "", q, text("b"))
	d, err := ch.Consume(q, "c", false, false, false, false, nil)
	mustOK(t, err, "consume")
	ds := consumeN(t, d, 2, waitFor)
	mustOK(t, ch.Cancel("c", false), "cancel")
	expectCount(t, ch, q, 0) // still unacked, not requeued
	mustOK(t, ch.Ack(ds[0].DeliveryTag, false), "ack a after cancel")
	mustOK(t, ch.Nack(ds[1].DeliveryTag, false, true), "nack b after cancel")
	got := getN(t, ch, q, 1, true)
	equalStrings(t, "requeued", bodies(got), []string{"b"})
	expectOpen(t, ch)
}

// TestPurgeKeepsUnacked: queue.purge removes ready messages only; unacked
// ones stay with their consumer and can still be requeued.
func TestPurgeKeepsUnacked(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for _, b := range []string{"a", "b", "c"} {
		publish(t, ch, "", q, text(b))
	}
	waitMessages(t, ch, q, 3)
	d := getN(t, ch, q, 1, false)[0]
	n, err := ch.QueuePurge(q, false)
	mustOK(t, err, "purge")
	if n != 2 {
		t.Fatalf("purged %d, want the 2 ready messages", n)
	}
	mustOK(t, ch.Nack(d.DeliveryTag, false, true), "requeue the unacked one")
	equalStrings(t, "left", bodies(getN(t, ch, q, 1, true)), []string{"a"})
}

// TestQosRaised: raising the prefetch of a consuming channel lets more
// deliveries through at once; prefetch 0 means unlimited.
func TestQosRaised(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 1; i <= 10; i++ {
		publish(t, ch, "", q, text(fmt.Sprint("m", i)))
	}
	waitMessages(t, ch, q, 10)
	mustOK(t, ch.Qos(1, 0, false), "qos 1")
	d := consume(t, ch, q, false, nil)
	consumeN(t, d, 1, waitFor)
	expectNoDelivery(t, d)
	// A new basic.qos applies to consumers started after it; RabbitMQ also
	// applies it to the running consumer's limit on the channel.
	mustOK(t, ch.Qos(0, 0, false), "qos 0")
	d2 := consume(t, ch, q, false, nil)
	consumeN(t, d2, 9, waitFor)
}

// TestPublishThenClose: messages published without confirms right before
// a channel.close or connection.close are all enqueued, in order: the
// server handles a channel's frames in order and close comes last.
func TestPublishThenClose(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for _, how := range []string{"channel", "connection"} {
		c2, pub := open(t)
		for i := 0; i < 200; i++ {
			publish(t, pub, "", q, text(fmt.Sprint(how, i)))
		}
		if how == "channel" {
			mustOK(t, pub.Close(), "channel.close")
		} else {
			mustOK(t, c2.Close(), "connection.close")
		}
		// None may be lost (RabbitMQ enqueues asynchronously, so poll).
		waitMessages(t, ch, q, 200)
		got := getN(t, ch, q, 200, true)
		if string(got[0].Body) != how+"0" || string(got[199].Body) != how+"199" {
			t.Fatalf("%s: first %q last %q", how, got[0].Body, got[199].Body)
		}
	}
}

// TestAckMultipleBeyondLast: ack with multiple for a tag that was never
// delivered is 406, even when lower tags are outstanding.
func TestAckMultipleBeyondLast(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("a"))
	publish(t, ch, "", q, text("b"))
	getN(t, ch, q, 2, false) // tags 1 and 2
	mustOK(t, ch.Ack(5, true), "send ack 5 multiple")
	expectChannelClose(t, ch, codePreconditionFail, "PRECONDITION_FAILED - unknown delivery tag 5")
}

// TestConsumerArgumentErrors: consumer arguments are validated like queue
// arguments.
func TestConsumerArgumentErrors(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	_, err := ch.Consume(q, "", false, false, false, false, amqp.Table{"x-priority": "high"})
	expectChannelError(t, ch, err, codePreconditionFail,
		"PRECONDITION_FAILED - invalid arg 'x-priority' for queue '"+q+`' in vhost '/': "expected integer, got longstr"`)
}
