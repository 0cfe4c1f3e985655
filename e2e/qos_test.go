package e2e

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestQosGlobalHoldsNoAckConsumer: a channel-wide prefetch (basic.qos
// global=true, as RabbitMQ 3.x reads it) that is used up holds back the
// channel's no-ack consumers too; once the unacked delivery is acked,
// they get their messages.
func TestQosGlobalHoldsNoAckConsumer(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	acked, noAck := name(t, "acked"), name(t, "noack")
	declareQueue(t, ch, acked, nil)
	declareQueue(t, ch, noAck, nil)
	publish(t, ch, "", acked, text("held"))
	waitMessages(t, ch, acked, 1)
	mustOK(t, ch.Qos(1, 0, true), "basic.qos global 1")
	held := consumeN(t, consume(t, ch, acked, false, nil), 1, waitFor)[0]
	for i := 1; i <= 3; i++ {
		publish(t, ch, "", noAck, text(fmt.Sprint("n", i)))
	}
	waitMessages(t, ch, noAck, 3)
	free := consume(t, ch, noAck, true, nil)
	expectNoDelivery(t, free)
	mustOK(t, ch.Ack(held.DeliveryTag, false), "basic.ack")
	equalStrings(t, "no-ack deliveries", bodies(consumeN(t, free, 3, waitFor)), []string{"n1", "n2", "n3"})
}

// TestQosGlobalFairAcrossQueues: when an ack frees channel-wide credit,
// every queue waiting for it gets its chance, so one busy queue cannot
// starve another consumer of the same channel.
func TestQosGlobalFairAcrossQueues(t *testing.T) {
	t.Parallel()
	const backlog, acks = 150, 100
	c, ch := open(t)
	qs := []string{name(t, "a"), name(t, "b")}
	pub := c.channel(t)
	for _, q := range qs {
		declareQueue(t, pub, q, nil)
		for i := 0; i < backlog; i++ {
			publish(t, pub, "", q, text("m"))
		}
	}
	for _, q := range qs {
		waitMessages(t, pub, q, backlog)
	}
	mustOK(t, ch.Qos(1, 0, true), "basic.qos global 1")
	var ds [2]<-chan amqp.Delivery
	for i, q := range qs {
		ds[i] = consume(t, ch, q, false, nil)
	}
	var got [2]int
	deadline := time.After(4 * waitFor)
	for got[0]+got[1] < acks {
		var d amqp.Delivery
		select {
		case d = <-ds[0]:
			got[0]++
		case d = <-ds[1]:
			got[1]++
		case <-deadline:
			t.Fatalf("only %v deliveries with a global prefetch of 1", got)
		}
		mustOK(t, ch.Ack(d.DeliveryTag, false), "basic.ack")
	}
	t.Logf("deliveries per queue over %d acks: %v", acks, got)
	// Either queue should win each freed credit about half the time; a
	// fifth of the deliveries is far below what chance allows.
	if got[0] < acks/5 || got[1] < acks/5 {
		t.Fatalf("deliveries per queue %v over %d acks: one queue starved the other", got, acks)
	}
}
