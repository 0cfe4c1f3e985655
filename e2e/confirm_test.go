package e2e

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestConfirmEveryPublish: in confirm mode every publish is acked, in
// sequence-number order (acks may coalesce with multiple; amqp091-go
// expands them), whether routed to a queue, to several, or to none.
func TestConfirmEveryPublish(t *testing.T) {
	t.Parallel()
	c, _ := open(t)
	ch, confirms := confirmChannel(t, c)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	durable := name(t, "durable")
	_, err := ch.QueueDeclare(durable, true, false, false, false, nil)
	mustOK(t, err, "declare durable")
	t.Cleanup(func() { deleteQueue(durable) })
	const n = 200
	for i := 1; i <= n; i++ {
		key := q
		switch i % 4 {
		case 1:
			key = durable
		case 2:
			key = name(t, "unroutable")
		}
		mode := amqp.Transient
		if i%3 == 0 {
			mode = amqp.Persistent
		}
		if seq := ch.GetNextPublishSeqNo(); seq != uint64(i) {
			t.Fatalf("next publish seq %d, want %d", seq, i)
		}
		publish(t, ch, "", key, amqp.Publishing{DeliveryMode: mode, Body: []byte(fmt.Sprint(i))})
	}
	deadline := time.After(waitFor)
	for i := 1; i <= n; i++ {
		select {
		case cf := <-confirms:
			if cf.DeliveryTag != uint64(i) || !cf.Ack {
				t.Fatalf("confirm #%d: tag %d ack=%v", i, cf.DeliveryTag, cf.Ack)
			}
		case <-deadline:
			t.Fatalf("got %d of %d confirms", i-1, n)
		}
	}
}

// TestConfirmReturnBeforeAck: an unroutable mandatory publish in confirm
// mode is returned before it is acked.
func TestConfirmReturnBeforeAck(t *testing.T) {
	t.Parallel()
	c, _ := open(t)
	ch := c.channel(t)
	mustOK(t, ch.Confirm(false), "confirm.select")
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	acks, nacks := ch.NotifyConfirm(make(chan uint64, 1), make(chan uint64, 1))
	mustOK(t, ch.Publish("", name(t, "nobody"), true, false, text("m")), "publish")
	select {
	case r := <-returns:
		if r.ReplyCode != codeNoRoute {
			t.Fatalf("return code %d", r.ReplyCode)
		}
	case tag := <-acks:
		t.Fatalf("ack %d before the return", tag)
	case <-time.After(waitFor):
		t.Fatal("no return")
	}
	select {
	case tag := <-acks:
		if tag != 1 {
			t.Fatalf("ack tag %d, want 1", tag)
		}
	case tag := <-nacks:
		t.Fatalf("nack %d for an unroutable message, want ack", tag)
	case <-time.After(waitFor):
		t.Fatal("no ack after the return")
	}
}

// TestConfirmModeConflicts: confirm.select is idempotent, and the tx/confirm
// modes exclude each other with 406.
func TestConfirmModeConflicts(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	mustOK(t, ch.Confirm(false), "confirm.select")
	mustOK(t, ch.Confirm(false), "confirm.select again")
	err := ch.Tx()
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")

	ch = c.channel(t)
	mustOK(t, ch.Tx(), "tx.select")
	err = ch.Confirm(false)
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
}
