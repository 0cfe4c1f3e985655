package e2e

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestQueueMessageTTL: with x-message-ttl messages that wait longer than
// the TTL are dropped; a TTL of 0 still hands a message to a waiting
// consumer.
func TestQueueMessageTTL(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "ttl")
	declareQueue(t, ch, q, amqp.Table{"x-message-ttl": int32(50)})
	cch, confirms := confirmChannel(t, c)
	publish(t, cch, "", q, text("short-lived"))
	waitConfirms(t, confirms, 1) // enqueued, so a count of 0 below means expired
	waitMessages(t, ch, q, 0)
	_, ok, err := ch.Get(q, true)
	mustOK(t, err, "get")
	if ok {
		t.Fatal("expired message delivered")
	}

	q0 := name(t, "zero")
	declareQueue(t, ch, q0, amqp.Table{"x-message-ttl": int32(0)})
	cons := c.channel(t)
	d := consume(t, cons, q0, true, nil)
	publish(t, ch, "", q0, text("now"))
	equalStrings(t, "delivered", bodies(consumeN(t, d, 1, waitFor)), []string{"now"})
	mustOK(t, cons.Close(), "close consumer")
	publish(t, ch, "", q0, text("nobody-waiting"))
	waitMessages(t, ch, q0, 0)
}

// TestPerMessageExpiration: the expiration property expires a message; the
// shorter of it and the queue TTL wins; an invalid one is 406.
func TestPerMessageExpiration(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	// Confirms make sure all three are in the queue before it is counted.
	mustOK(t, ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 3))
	publish(t, ch, "", q, amqp.Publishing{Body: []byte("brief"), Expiration: "30"})
	publish(t, ch, "", q, amqp.Publishing{Body: []byte("lasting"), Expiration: "60000"})
	publish(t, ch, "", q, text("forever"))
	for range 3 {
		select {
		case c := <-confirms:
			if !c.Ack {
				t.Fatalf("publish %d nacked", c.DeliveryTag)
			}
		case <-time.After(waitFor):
			t.Fatal("publishes not confirmed")
		}
	}
	// Poll until the brief one is gone; the others stay.
	deadline := time.Now().Add(waitFor)
	for {
		got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		mustOK(t, err, "passive")
		if got.Messages == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue holds %d, want 2 after the 30 ms message expired", got.Messages)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ds := getN(t, ch, q, 2, true)
	equalStrings(t, "left", bodies(ds), []string{"lasting", "forever"})
	if ds[0].Expiration != "60000" {
		t.Fatalf("expiration property delivered as %q, want 60000", ds[0].Expiration)
	}

	for _, tc := range []struct{ expiration, text string }{
		{"abc", `PRECONDITION_FAILED - invalid expiration 'abc': no_integer`},
		{"-1", `PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}`},
		{"10x", `PRECONDITION_FAILED - invalid expiration '10x': {leftover_string,"x"}`},
	} {
		bad := c.channel(t)
		publish(t, bad, "", q, amqp.Publishing{Body: []byte("x"), Expiration: tc.expiration})
		expectChannelClose(t, bad, codePreconditionFail, tc.text)
	}
}

// TestQueueExpires: a queue with x-expires is deleted after being unused
// for that long, and not while it has a consumer.
func TestQueueExpires(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q, used := name(t, "idle"), name(t, "used")
	declareQueue(t, ch, q, amqp.Table{"x-expires": int32(100)})
	declareQueue(t, ch, used, amqp.Table{"x-expires": int32(100)})
	cons := c.channel(t)
	consume(t, cons, used, true, nil)
	// Poll more slowly than the 100 ms expiry: a declare, even a passive
	// one, counts as use and restarts the queue's expiry timer.
	deadline := time.Now().Add(waitFor)
	for {
		time.Sleep(250 * time.Millisecond)
		probe := c.channel(t)
		_, err := probe.QueueDeclarePassive(q, false, false, false, false, nil)
		if err != nil {
			expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
			break
		}
		_ = probe.Close()
		if time.Now().After(deadline) {
			t.Fatal("idle queue with x-expires 100 still there")
		}
	}
	_, err := ch.QueueDeclarePassive(used, false, false, false, false, nil)
	mustOK(t, err, "queue with a consumer must not expire")
}

// TestInvalidQueueArgs: RabbitMQ validates x- arguments at declare.
func TestInvalidQueueArgs(t *testing.T) {
	t.Parallel()
	c := dial(t)
	q := name(t, "")
	vq := "queue '" + q + "' in vhost '/'"
	for _, tc := range []struct {
		name string
		args amqp.Table
		text string
	}{
		{"negative-ttl", amqp.Table{"x-message-ttl": int32(-1)},
			"PRECONDITION_FAILED - invalid arg 'x-message-ttl' for " + vq + ": {value_negative,-1}"},
		{"zero-expires", amqp.Table{"x-expires": int32(0)},
			"PRECONDITION_FAILED - invalid arg 'x-expires' for " + vq + ": {value_zero,0}"},
		{"ttl-not-a-number", amqp.Table{"x-message-ttl": "soon"},
			"PRECONDITION_FAILED - invalid arg 'x-message-ttl' for " + vq + `: "expected integer, got longstr"`},
		{"bad-overflow", amqp.Table{"x-overflow": "explode"},
			"PRECONDITION_FAILED - invalid arg 'x-overflow' for " + vq + ": invalid_overflow"},
		{"negative-max-length", amqp.Table{"x-max-length": int32(-1)},
			"PRECONDITION_FAILED - invalid arg 'x-max-length' for " + vq + ": {value_negative,-1}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			_, err := ch.QueueDeclare(q, false, false, false, false, tc.args)
			expectChannelError(t, ch, err, codePreconditionFail, tc.text)
		})
	}
}

// TestTTLUnackedAndRequeued: a delivered, unacked message does not expire;
// once requeued past its TTL it expires (and is dead-lettered).
func TestTTLUnackedAndRequeued(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	dlx, _, dead := dlxSetup(t, ch)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-message-ttl": int32(100), "x-dead-letter-exchange": dlx})
	publish(t, ch, "", q, text("held"))
	d := getN(t, ch, q, 1, false)[0]
	// Bounded wait past the TTL: holding it must not expire it.
	expectNoDelivery(t, dead)
	mustOK(t, ch.Nack(d.DeliveryTag, false, true), "requeue")
	got := consumeN(t, dead, 1, waitFor)[0]
	if string(got.Body) != "held" {
		t.Fatalf("dead-lettered %q", got.Body)
	}
	deaths, _ := got.Headers["x-death"].([]interface{})
	if e, _ := deaths[0].(amqp.Table); len(deaths) != 1 || e["reason"] != "expired" {
		t.Fatalf("x-death %v, want one expired entry", got.Headers["x-death"])
	}
}

// TestTTLLowerWins: of the queue's x-message-ttl and the message's
// expiration, the lower applies; expiration "0" expires a message at once
// unless a consumer is waiting.
func TestTTLLowerWins(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	longQ, shortQ := name(t, "long"), name(t, "short")
	declareQueue(t, ch, longQ, amqp.Table{"x-message-ttl": int32(600000)})
	declareQueue(t, ch, shortQ, amqp.Table{"x-message-ttl": int32(30)})
	cch, confirms := confirmChannel(t, c)
	publish(t, cch, "", longQ, amqp.Publishing{Body: []byte("msg-short"), Expiration: "30"})
	publish(t, cch, "", shortQ, amqp.Publishing{Body: []byte("queue-short"), Expiration: "600000"})
	publish(t, cch, "", longQ, amqp.Publishing{Body: []byte("zero"), Expiration: "0"})
	waitConfirms(t, confirms, 3)
	waitMessages(t, ch, longQ, 0)
	waitMessages(t, ch, shortQ, 0)

	cons := c.channel(t)
	d := consume(t, cons, longQ, true, nil)
	publish(t, ch, "", longQ, amqp.Publishing{Body: []byte("zero-with-consumer"), Expiration: "0"})
	equalStrings(t, "delivered", bodies(consumeN(t, d, 1, waitFor)), []string{"zero-with-consumer"})
}
