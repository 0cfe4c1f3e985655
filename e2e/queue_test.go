package e2e

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestServerNamedQueue: queue.declare with an empty name gets an
// amq.gen- name from the server, usable like any other.
func TestServerNamedQueue(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	mustOK(t, err, "queue.declare")
	if !strings.HasPrefix(q.Name, "amq.gen-") || len(q.Name) <= len("amq.gen-") {
		t.Fatalf("server-named queue %q, want amq.gen-…", q.Name)
	}
	publish(t, ch, "", q.Name, text("x"))
	equalStrings(t, "bodies", bodies(getN(t, ch, q.Name, 1, true)), []string{"x"})
}

// TestDeclareOkCounts: declare-ok carries the ready-message count and the
// consumer count.
func TestDeclareOkCounts(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 0; i < 3; i++ {
		publish(t, ch, "", q, text("m"))
	}
	waitMessages(t, ch, q, 3)
	cons := c.channel(t)
	mustOK(t, cons.Qos(1, 0, false), "basic.qos")
	d := consume(t, cons, q, false, nil)
	consumeN(t, d, 1, waitFor) // one unacked: no longer counted as ready
	deadline := time.Now().Add(waitFor)
	for {
		got, err := ch.QueueDeclare(q, false, false, false, false, nil)
		mustOK(t, err, "queue.declare")
		if got.Messages == 2 && got.Consumers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("declare-ok messages=%d consumers=%d, want 2 1", got.Messages, got.Consumers)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestQueueDeclareErrors covers the channel exceptions of queue.declare.
func TestQueueDeclareErrors(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "q")
	declareQueue(t, setup, q, amqp.Table{"x-message-ttl": int32(1000)})
	vq := "queue '" + q + "' in vhost '/'"
	for _, tc := range []struct {
		name string
		call func(ch *channel) error
		code int
		text string
	}{
		{"passive-missing", func(ch *channel) error {
			_, err := ch.QueueDeclarePassive(q+".missing", false, false, false, false, nil)
			return err
		}, codeNotFound, "NOT_FOUND - no queue '" + q + ".missing' in vhost '/'"},
		{"reserved-prefix", func(ch *channel) error {
			_, err := ch.QueueDeclare("amq.e2e-reserved", false, false, false, false, nil)
			return err
		}, codeAccessRefused, "ACCESS_REFUSED - queue name 'amq.e2e-reserved' contains reserved prefix 'amq.*'"},
		{"other-durable", func(ch *channel) error {
			_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-message-ttl": int32(1000)})
			return err
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'durable' for " + vq + ": received 'true' but current is 'false'"},
		{"other-auto-delete", func(ch *channel) error {
			_, err := ch.QueueDeclare(q, false, true, false, false, amqp.Table{"x-message-ttl": int32(1000)})
			return err
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for " + vq + ": received 'true' but current is 'false'"},
		{"other-arg-value", func(ch *channel) error {
			_, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-message-ttl": int32(2000)})
			return err
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for " + vq + ": received '2000' but current is '1000'"},
		{"missing-arg", func(ch *channel) error {
			_, err := ch.QueueDeclare(q, false, false, false, false, nil)
			return err
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for " + vq + ": received none but current is the value '1000' of type 'signedint'"},
		// RabbitMQ 3.10 and 4.x alike (rabbit_amqqueue:check_queue_type).
		{"unknown-queue-type", func(ch *channel) error {
			_, err := ch.QueueDeclare(q+".typed", true, false, false, false, amqp.Table{"x-queue-type": "fancy"})
			return err
		}, codePreconditionFail, "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '" + q + ".typed' in vhost '/': \"unsupported queue type 'fancy'\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			expectChannelError(t, ch, tc.call(ch), tc.code, tc.text)
		})
	}
	// A redeclare with the same properties (and a passive one) is fine.
	_, err := setup.QueueDeclare(q, false, false, false, false, amqp.Table{"x-message-ttl": int32(1000)})
	mustOK(t, err, "equivalent redeclare")
}

// TestExclusiveQueue: an exclusive queue belongs to its connection: other
// connections get 405 for declare, passive declare, consume, delete, get,
// purge and bind;
// it is deleted when its connection closes.
func TestExclusiveQueue(t *testing.T) {
	t.Parallel()
	owner, och := open(t)
	q := name(t, "")
	_, err := och.QueueDeclare(q, false, false, true, false, nil)
	mustOK(t, err, "declare exclusive")
	locked := "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + q + "' in vhost '/'. " +
		"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."

	other := dial(t)
	for _, tc := range []struct {
		name string
		call func(ch *channel) error
	}{
		{"declare", func(ch *channel) error {
			_, err := ch.QueueDeclare(q, false, false, true, false, nil)
			return err
		}},
		{"passive", func(ch *channel) error {
			_, err := ch.QueueDeclarePassive(q, false, false, true, false, nil)
			return err
		}},
		{"consume", func(ch *channel) error {
			_, err := ch.Consume(q, "", false, false, false, false, nil)
			return err
		}},
		{"delete", func(ch *channel) error {
			_, err := ch.QueueDelete(q, false, false, false)
			return err
		}},
		{"get", func(ch *channel) error {
			_, _, err := ch.Get(q, true)
			return err
		}},
		{"purge", func(ch *channel) error {
			_, err := ch.QueuePurge(q, false)
			return err
		}},
		{"bind", func(ch *channel) error {
			return ch.QueueBind(q, "k", "amq.direct", false, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := other.channel(t)
			expectChannelError(t, ch, tc.call(ch), codeResourceLocked, locked)
		})
	}

	// The owner can use it from any of its channels.
	ch2 := owner.channel(t)
	publish(t, ch2, "", q, text("mine"))
	equalStrings(t, "bodies", bodies(getN(t, ch2, q, 1, true)), []string{"mine"})

	mustOK(t, owner.Close(), "close owner")
	probe := other.channel(t)
	deadline := time.Now().Add(waitFor)
	for {
		_, err := probe.QueueDeclarePassive(q, false, false, false, false, nil)
		if err != nil {
			expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("exclusive queue still there after its connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAutoDeleteQueue: an auto-delete queue survives until it has had a
// consumer and the last consumer is gone.
func TestAutoDeleteQueue(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	_, err := ch.QueueDeclare(q, false, true, false, false, nil)
	mustOK(t, err, "declare auto-delete")
	t.Cleanup(func() { deleteQueue(q) })
	_, err = ch.QueueDeclarePassive(q, false, true, false, false, nil)
	mustOK(t, err, "auto-delete queue without consumers yet")

	cons := c.channel(t)
	_, err = cons.Consume(q, "c1", false, false, false, false, nil)
	mustOK(t, err, "consume")
	_, err = cons.Consume(q, "c2", false, false, false, false, nil)
	mustOK(t, err, "consume")
	mustOK(t, cons.Cancel("c1", false), "cancel c1")
	_, err = ch.QueueDeclarePassive(q, false, true, false, false, nil)
	mustOK(t, err, "auto-delete queue with one consumer left")
	mustOK(t, cons.Cancel("c2", false), "cancel c2")
	deadline := time.Now().Add(waitFor)
	for {
		_, err := ch.QueueDeclarePassive(q, false, true, false, false, nil)
		if err != nil {
			expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("auto-delete queue still there after its last consumer went")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBindUnbind: bindings route while they exist; binding to a missing
// exchange or queue is 404; unbinding what is not bound is fine.
func TestBindUnbind(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	x, q := name(t, "x"), name(t, "q")
	declareExchange(t, ch, x, "direct", nil)
	declareQueue(t, ch, q, nil)
	mustOK(t, ch.QueueBind(q, "k", x, false, nil), "bind")
	mustOK(t, ch.QueueBind(q, "k", x, false, nil), "bind again")
	publish(t, ch, x, "k", text("bound"))
	equalStrings(t, "bodies", bodies(getN(t, ch, q, 1, true)), []string{"bound"})
	mustOK(t, ch.QueueUnbind(q, "k", x, nil), "unbind")
	mustOK(t, ch.QueueUnbind(q, "never-bound", x, nil), "unbind what was never bound")
	publish(t, ch, x, "k", text("unbound"))
	publish(t, ch, "", q, text("marker"))
	equalStrings(t, "bodies", bodies(getN(t, ch, q, 1, true)), []string{"marker"})

	ch1 := c.channel(t)
	err := ch1.QueueBind(q, "k", x+".missing", false, nil)
	expectChannelError(t, ch1, err, codeNotFound, "NOT_FOUND - no exchange '"+x+".missing' in vhost '/'")
	ch2 := c.channel(t)
	err = ch2.QueueBind(q+".missing", "k", x, false, nil)
	expectChannelError(t, ch2, err, codeNotFound, "NOT_FOUND - no queue '"+q+".missing' in vhost '/'")
}

// TestPurge: queue.purge answers with the number of messages removed.
func TestPurge(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 0; i < 5; i++ {
		publish(t, ch, "", q, text("m"))
	}
	waitMessages(t, ch, q, 5)
	n, err := ch.QueuePurge(q, false)
	mustOK(t, err, "purge")
	if n != 5 {
		t.Fatalf("purge count %d, want 5", n)
	}
	n, err = ch.QueuePurge(q, false)
	mustOK(t, err, "purge")
	if n != 0 {
		t.Fatalf("second purge count %d, want 0", n)
	}
}

// TestQueueDelete: if-unused and if-empty refuse with 406; delete answers
// with the message count; deleting a missing queue succeeds with 0.
func TestQueueDelete(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	for i := 0; i < 3; i++ {
		publish(t, ch, "", q, text("m"))
	}
	waitMessages(t, ch, q, 3)
	cons := c.channel(t)
	_, err := cons.Consume(q, "c", false, false, false, false, nil)
	mustOK(t, err, "consume")
	// The consumer holds the messages unacked; cancel it after the
	// if-unused check and let them return.
	ch1 := c.channel(t)
	_, err = ch1.QueueDelete(q, true, false, false)
	expectChannelError(t, ch1, err, codePreconditionFail, "PRECONDITION_FAILED - queue '"+q+"' in vhost '/' in use")
	mustOK(t, cons.Close(), "close consumer channel")
	waitMessages(t, ch, q, 3)

	ch2 := c.channel(t)
	_, err = ch2.QueueDelete(q, false, true, false)
	expectChannelError(t, ch2, err, codePreconditionFail, "PRECONDITION_FAILED - queue '"+q+"' in vhost '/' not empty")

	n, err := ch.QueueDelete(q, true, false, false)
	mustOK(t, err, "delete")
	if n != 3 {
		t.Fatalf("delete-ok message count %d, want 3", n)
	}
	n, err = ch.QueueDelete(q, false, false, false)
	mustOK(t, err, "delete a missing queue")
	if n != 0 {
		t.Fatalf("delete-ok for a missing queue counts %d, want 0", n)
	}
}

// TestPassiveIgnoresProperties: a passive declare only checks existence;
// the type, flags and arguments it carries are ignored.
func TestPassiveIgnoresProperties(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-max-length": int32(5)})
	_, err := ch.QueueDeclarePassive(q, true, true, true, false, amqp.Table{"x-max-length": int32(9)})
	mustOK(t, err, "passive queue declare with other properties")
	mustOK(t, ch.ExchangeDeclarePassive("amq.direct", "fanout", false, true, true, false, nil), "passive exchange declare with other properties")
	expectOpen(t, ch)
}

// TestAckAfterQueueDeleted: deliveries outstanding when their queue is
// deleted can still be acked without error.
func TestAckAfterQueueDeleted(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("orphan"))
	cancels := ch.NotifyCancel(make(chan string, 1))
	d := consume(t, ch, q, false, nil)
	m := consumeN(t, d, 1, waitFor)[0]
	other := c.channel(t)
	_, err := other.QueueDelete(q, false, false, false)
	mustOK(t, err, "delete")
	select {
	case <-cancels:
	case <-time.After(waitFor):
		t.Fatal("no basic.cancel after the queue was deleted")
	}
	mustOK(t, ch.Ack(m.DeliveryTag, false), "ack")
	expectOpen(t, ch)
}

// TestNoWait: with no-wait set the server sends no reply to declare, bind,
// consume, cancel, purge and delete; a reply the client is not waiting for
// would break the next synchronous call. (amqp091-go's Confirm(noWait)
// still waits for select-ok, so confirm.select is not covered here.)
func TestNoWait(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	x, x2, q := name(t, "x"), name(t, "x2"), name(t, "q")
	t.Cleanup(func() { deleteExchange(x); deleteExchange(x2); deleteQueue(q) })
	mustOK(t, ch.ExchangeDeclare(x, "direct", false, false, false, true, nil), "exchange.declare nowait")
	mustOK(t, ch.ExchangeDeclare(x2, "fanout", false, false, false, true, nil), "exchange.declare nowait")
	_, err := ch.QueueDeclare(q, false, false, false, true, nil)
	mustOK(t, err, "queue.declare nowait")
	mustOK(t, ch.QueueBind(q, "k", x, true, nil), "queue.bind nowait")
	mustOK(t, ch.ExchangeBind(x, "k", x2, true, nil), "exchange.bind nowait")
	publish(t, ch, x2, "k", text("one"))
	publish(t, ch, x2, "k", text("two"))
	// A synchronous call now must get its own reply.
	waitMessages(t, ch, q, 2)
	d, err := ch.Consume(q, "nw", false, false, false, true, nil)
	mustOK(t, err, "basic.consume nowait")
	ds := consumeN(t, d, 2, waitFor)
	mustOK(t, ch.Ack(ds[1].DeliveryTag, true), "ack")
	mustOK(t, ch.Cancel("nw", true), "basic.cancel nowait")
	publish(t, ch, "", q, text("three"))
	_, err = ch.QueuePurge(q, true)
	mustOK(t, err, "queue.purge nowait")
	waitMessages(t, ch, q, 0)
	mustOK(t, ch.ExchangeUnbind(x, "k", x2, true, nil), "exchange.unbind nowait")
	_, err = ch.QueueDelete(q, false, false, true)
	mustOK(t, err, "queue.delete nowait")
	mustOK(t, ch.ExchangeDelete(x2, false, true), "exchange.delete nowait")
	// A synchronous call on the same channel is answered after the no-wait
	// methods before it are done (another channel has no such order).
	mustOK(t, ch.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil), "passive exchange.declare")
	probe := c.channel(t)
	_, err = probe.QueueDeclarePassive(q, false, false, false, false, nil)
	expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")

	expectOpen(t, ch)
}

// TestExclusiveMismatch: redeclaring a queue with the other exclusive flag
// is 405, even on the owning connection; an exclusive queue outlives the
// channel that declared it.
func TestExclusiveMismatch(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	excl, plain := name(t, "excl"), name(t, "plain")
	_, err := ch.QueueDeclare(excl, false, false, true, false, nil)
	mustOK(t, err, "declare exclusive")
	declareQueue(t, ch, plain, nil)
	mustOK(t, ch.Close(), "close the declaring channel")
	locked := func(q string) string {
		return "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '" + q + "' in vhost '/'. " +
			"It could be originally declared on another connection or the exclusive property value does not match that of the original declaration."
	}
	ch1 := c.channel(t)
	_, err = ch1.QueueDeclarePassive(excl, false, false, true, false, nil)
	mustOK(t, err, "exclusive queue after its channel closed")
	_, err = ch1.QueueDeclare(excl, false, false, false, false, nil)
	expectChannelError(t, ch1, err, codeResourceLocked, locked(excl))
	ch2 := c.channel(t)
	_, err = ch2.QueueDeclare(plain, false, false, true, false, nil)
	expectChannelError(t, ch2, err, codeResourceLocked, locked(plain))
}
