package e2e

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestTxPublish: publishes in a transaction reach the queue on commit,
// not before, and never on rollback.
func TestTxPublish(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	tx := c.channel(t)
	mustOK(t, tx.Tx(), "tx.select")
	publish(t, tx, "", q, text("a"))
	publish(t, tx, "", q, text("b"))
	// A synchronous method on the same channel: the server has handled the
	// publishes before it answers, and they must not be in the queue yet.
	expectCount(t, tx, q, 0)
	mustOK(t, tx.TxCommit(), "tx.commit")
	waitMessages(t, ch, q, 2)

	publish(t, tx, "", q, text("c"))
	mustOK(t, tx.TxRollback(), "tx.rollback")
	mustOK(t, tx.TxCommit(), "empty tx.commit")
	expectCount(t, tx, q, 2)
	equalStrings(t, "committed", bodies(getN(t, ch, q, 2, true)), []string{"a", "b"})
}

// TestTxAck: acks in a transaction take effect on commit; rolled-back acks
// leave the messages unacked (they return when the channel closes).
func TestTxAck(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("a"))
	publish(t, ch, "", q, text("b"))
	waitMessages(t, ch, q, 2)

	tx := c.channel(t)
	mustOK(t, tx.Tx(), "tx.select")
	ds := getN(t, tx, q, 2, false)
	mustOK(t, tx.Ack(ds[0].DeliveryTag, false), "ack a")
	mustOK(t, tx.TxRollback(), "tx.rollback")
	mustOK(t, tx.Ack(ds[1].DeliveryTag, false), "ack b")
	mustOK(t, tx.TxCommit(), "tx.commit")
	mustOK(t, tx.Close(), "close")
	// b was acked by the commit; a's ack was rolled back, so a returns.
	waitMessages(t, ch, q, 1)
	got := getN(t, ch, q, 1, true)[0]
	if string(got.Body) != "a" || !got.Redelivered {
		t.Fatalf("got %q redelivered=%v, want a redelivered", got.Body, got.Redelivered)
	}
}

// TestTxWithoutSelect: commit or rollback on a non-transactional channel
// is 406.
func TestTxWithoutSelect(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	err := ch.TxCommit()
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - channel is not transactional")
	ch = c.channel(t)
	err = ch.TxRollback()
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - channel is not transactional")
}

// expectCount asserts q holds n ready messages now, per a passive declare
// on ch.
func expectCount(t *testing.T, ch *channel, q string, n int) {
	t.Helper()
	got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	mustOK(t, err, "passive declare")
	if got.Messages != n {
		t.Fatalf("queue %s holds %d messages, want %d", q, got.Messages, n)
	}
}

// TestTxMandatoryReturn: an unroutable mandatory publish in a transaction
// is returned when the transaction commits, not before.
func TestTxMandatoryReturn(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	mustOK(t, ch.Tx(), "tx.select")
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	mustOK(t, ch.Publish("", name(t, "nobody"), true, false, text("m")), "publish")
	select {
	case r := <-returns:
		t.Fatalf("returned before commit: %d %s", r.ReplyCode, r.ReplyText)
	case <-time.After(quietFor): // bounded: the return must wait for commit
	}
	mustOK(t, ch.TxCommit(), "tx.commit")
	select {
	case r := <-returns:
		if r.ReplyCode != codeNoRoute || string(r.Body) != "m" {
			t.Fatalf("return %d %q", r.ReplyCode, r.Body)
		}
	case <-time.After(waitFor):
		t.Fatal("no return after commit")
	}
}
