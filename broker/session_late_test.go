package broker

import (
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/classic"
	"github.com/warrenmq/warren/queue/queuetest"
)

// startDuplicatingServer starts a broker whose quorum type is classic
// reached late (queuetest.Late): every session operation completes on
// another goroutine after a random delay, and each queue's first delivery
// is sent twice, as after a leader change.
func startDuplicatingServer(t *testing.T) (*Server, *queuetest.Late) {
	inner, err := classic.OpenType(classic.TypeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lt := &queuetest.Late{Inner: inner, TypeName: queue.TypeQuorum, Duplicate: true}
	return startServer(t, func(c *Config) { c.extraTypes = []queue.Type{lt} }), lt
}

// nextDelivery returns the next delivery, failing after a deadline.
func nextDelivery(t *testing.T, ds <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-ds:
		if !ok {
			t.Fatal("deliveries ended")
		}
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	return amqp.Delivery{}
}

// TestLateQueueResendNotShown: through a queue that answers late and
// resends a delivery, a publisher gets every confirm once, in order, and
// a consumer sees every message once, in order, never the resend; a
// message it requeues still comes back, redelivered.
func TestLateQueueResendNotShown(t *testing.T) {
	s, lt := startDuplicatingServer(t)
	c := dial(t, s)
	pch := openChannel(t, c)
	if _, err := pch.QueueDeclare("late-dup", false, false, false, false, amqp.Table{"x-queue-type": queue.TypeQuorum}); err != nil {
		t.Fatal(err)
	}
	cch := openChannel(t, c)
	if err := cch.Qos(5, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := cch.Consume("late-dup", "k", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	acks := pch.NotifyPublish(make(chan amqp.Confirmation, 64))
	const n = 20
	publish := func(body string) {
		t.Helper()
		if err := pch.Publish("", "late-dup", false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		publish(strconv.Itoa(i))
	}
	for i := range n {
		d := nextDelivery(t, ds)
		if string(d.Body) != strconv.Itoa(i) || d.Redelivered {
			t.Fatalf("delivery %d: %q (redelivered %v), want %d, first time", i, d.Body, d.Redelivered, i)
		}
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(1); i <= n; i++ {
		select {
		case cf := <-acks:
			if !cf.Ack || cf.DeliveryTag != i {
				t.Fatalf("confirm %+v, want ack %d", cf, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no confirm for publish %d", i)
		}
	}
	eventually(t, "the queue resends a delivery", func() bool { return lt.Duplicates() == 1 })
	// The resend was posted before this message's delivery, on the same
	// session, so it has been dropped by the time this one arrives.
	publish("end")
	d := nextDelivery(t, ds)
	if string(d.Body) != "end" || d.Redelivered {
		t.Fatalf("after the resend got %q (redelivered %v), want \"end\", first time", d.Body, d.Redelivered)
	}
	if err := d.Nack(false, true); err != nil {
		t.Fatal(err)
	}
	d = nextDelivery(t, ds)
	if string(d.Body) != "end" || !d.Redelivered {
		t.Fatalf("after a requeue got %q (redelivered %v), want \"end\" redelivered", d.Body, d.Redelivered)
	}
	if err := d.Ack(false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the queue is empty", func() bool {
		q, err := pch.QueueDeclarePassive("late-dup", false, false, false, false, amqp.Table{"x-queue-type": queue.TypeQuorum})
		return err == nil && q.Messages == 0
	})
}

// TestLateQueueChannelCloseLosesNothing: closing a channel while a queue
// that answers late still has deliveries on their way to it puts every
// message back: what the channel held is requeued by its release, and
// what had not reached it yet by the session's close.
func TestLateQueueChannelCloseLosesNothing(t *testing.T) {
	s, _ := startDuplicatingServer(t)
	c := dial(t, s)
	pch := openChannel(t, c)
	args := amqp.Table{"x-queue-type": queue.TypeQuorum}
	if _, err := pch.QueueDeclare("late-close", false, false, false, false, args); err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := range n {
		if err := pch.Publish("", "late-close", false, false, amqp.Publishing{Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "every message is in the queue", func() bool {
		q, err := pch.QueueDeclarePassive("late-close", false, false, false, false, args)
		return err == nil && q.Messages == n
	})
	cch := openChannel(t, c)
	ds, err := cch.Consume("late-close", "k", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	nextDelivery(t, ds) // some are with the channel, others on their way
	if err := cch.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every message is back in the queue", func() bool {
		q, err := pch.QueueDeclarePassive("late-close", false, false, false, false, args)
		return err == nil && q.Messages == n && q.Consumers == 0
	})
}

// TestLateQueueTxCommitWaitsForQueues: tx.commit-ok comes once the
// queues have taken the transaction's publishes, as in RabbitMQ, so a
// count read after it sees them even through a queue that answers late.
func TestLateQueueTxCommitWaitsForQueues(t *testing.T) {
	inner, err := classic.OpenType(classic.TypeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	lt := &queuetest.Late{Inner: inner, TypeName: queue.TypeQuorum, MaxDelay: 20 * time.Millisecond}
	s := startServer(t, func(c *Config) { c.extraTypes = []queue.Type{lt} })
	ch := openChannel(t, dial(t, s))
	args := amqp.Table{"x-queue-type": queue.TypeQuorum}
	if _, err := ch.QueueDeclare("late-tx", false, false, false, false, args); err != nil {
		t.Fatal(err)
	}
	if err := ch.Tx(); err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := range n {
		if err := ch.Publish("", "late-tx", false, false, amqp.Publishing{Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.TxCommit(); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive("late-tx", false, false, false, false, args)
	if err != nil {
		t.Fatal(err)
	}
	if q.Messages != n {
		t.Fatalf("after tx.commit-ok the queue holds %d messages, want %d", q.Messages, n)
	}
}
