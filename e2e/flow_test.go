package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// publishAll publishes n messages of body to q on ch as fast as the
// connection takes them, and reports on done when it has (or failed).
func publishAll(ch *channel, q string, n int, body []byte, done chan<- error) {
	for range n {
		err := ch.PublishWithContext(context.Background(), "", q, false, false, amqp.Publishing{Body: body})
		if err != nil {
			done <- err
			return
		}
	}
	done <- nil
}

// ackAll acks each delivery of ds until want arrived or the wait runs out,
// and returns how many arrived.
func ackAll(t *testing.T, ds <-chan amqp.Delivery, want int, wait time.Duration) int {
	t.Helper()
	deadline := time.After(wait)
	for got := 0; got < want; got++ {
		select {
		case d, ok := <-ds:
			if !ok {
				return got
			}
			if err := d.Ack(false); err != nil {
				t.Fatalf("ack: %v", err)
			}
		case <-deadline:
			return got
		}
	}
	return want
}

// TestFlowPublisherConsumingItsOwnQueue: a connection that publishes flat
// out into a queue it also consumes from (another channel, manual acks) is
// never stalled by the backlog it builds: its own acks drain the queue, so
// pausing it for the queue's sake would wait forever.
func TestFlowPublisherConsumingItsOwnQueue(t *testing.T) {
	skipWithLateQueues(t, "30,000 publishes and acks each waiting up to 3 ms in turn take longer than the 60 s bound (12,000 finish, unstalled, in 51 s)")
	c, pch := open(t)
	q := name(t, "")
	declareQueue(t, pch, q, nil)
	cch := c.channel(t)
	mustOK(t, cch.Qos(100, 0, false), "basic.qos")
	ds, err := cch.Consume(q, "", false, false, false, false, nil)
	mustOK(t, err, "basic.consume")

	const n = 30000
	done := make(chan error, 1)
	go publishAll(pch, q, n, []byte(strings.Repeat("x", 1024)), done)
	if got := ackAll(t, ds, n, 60*time.Second); got != n {
		t.Fatalf("consumed %d of %d messages published on the consumer's own connection: stalled", got, n)
	}
	mustOK(t, <-done, "publish")
}

// TestFlowBlocksPublisherOfLaggingQueue: a publisher flat out into a queue
// whose consumer lags is paused before the backlog grows without bound, and
// goes on, losing nothing, once the consumer catches up.
func TestFlowBlocksPublisherOfLaggingQueue(t *testing.T) {
	if external {
		t.Skip("Warren differs from RabbitMQ here: RabbitMQ's credit flow slows a publisher when its queue process is busy, not when the backlog grows, so RabbitMQ lets this backlog grow")
	}
	skipWithLateQueues(t, "publishes waiting up to 3 ms each do not build the 8192-message backlog within the 5 s bound")
	_, pch := open(t)
	q := name(t, "")
	declareQueue(t, pch, q, nil)
	_, cch := open(t)
	mustOK(t, cch.Qos(10, 0, false), "basic.qos")
	ds, err := cch.Consume(q, "", false, false, false, false, nil)
	mustOK(t, err, "basic.consume")
	_, probe := open(t)

	// 40000 KiB messages are more than the sockets' buffers hold, so the
	// publisher cannot finish while it is paused.
	const n, high, slack = 40000, 8192, 2048
	done := make(chan error, 1)
	go publishAll(pch, q, n, []byte(strings.Repeat("x", 1024)), done)
	ready := func() int {
		got, err := probe.QueueDeclarePassive(q, false, false, false, false, nil)
		mustOK(t, err, "queue.declare passive")
		return got.Messages
	}
	deadline := time.Now().Add(waitFor)
	for ready() < high {
		if time.Now().After(deadline) {
			t.Fatalf("the backlog never reached %d: %d ready", high, ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(quietFor) // the publisher keeps publishing unless paused
	if got := ready(); got > high+slack {
		t.Fatalf("%d messages ready behind a consumer that takes none: the publisher was not paused", got)
	}
	select {
	case err := <-done:
		t.Fatalf("the publisher finished (%v) while its queue's consumer took nothing", err)
	default:
	}
	if got := ackAll(t, ds, n, 60*time.Second); got != n {
		t.Fatalf("consumed %d of %d: the publisher was not let go", got, n)
	}
	mustOK(t, <-done, "publish")
}
