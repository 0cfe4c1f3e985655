package e2e

import (
	"fmt"
	"testing"
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
