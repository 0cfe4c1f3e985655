package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

const replyTo = "amq.rabbitmq.reply-to"

// TestDirectReplyTo: an RPC round trip through amq.rabbitmq.reply-to. The
// server side sees a rewritten, routable reply-to and answers through the
// default exchange; the client gets the reply on its no-ack consumer.
func TestDirectReplyTo(t *testing.T) {
	t.Parallel()
	_, srv := open(t)
	q := name(t, "rpc")
	declareQueue(t, srv, q, nil)
	requests := consume(t, srv, q, false, nil)

	cc, client := open(t)
	replies, err := client.Consume(replyTo, "", true, false, false, false, nil)
	mustOK(t, err, "consume "+replyTo)
	for i := 0; i < 3; i++ {
		corr := fmt.Sprint("req-", i)
		publish(t, client, "", q, amqp.Publishing{ReplyTo: replyTo, CorrelationId: corr, Body: []byte(fmt.Sprint(i))})
		req := consumeN(t, requests, 1, waitFor)[0]
		if !strings.HasPrefix(req.ReplyTo, replyTo+".") {
			t.Fatalf("request reply-to %q, want %s.…", req.ReplyTo, replyTo)
		}
		if i == 0 {
			// The pseudo-queue can be declared (passively) while its
			// consumer is there: no messages, one consumer.
			probe := cc.channel(t)
			got, err := probe.QueueDeclarePassive(req.ReplyTo, false, false, false, false, nil)
			mustOK(t, err, "passive declare of the reply queue")
			if got.Messages != 0 || got.Consumers != 1 {
				t.Fatalf("reply queue declare-ok messages=%d consumers=%d, want 0 1", got.Messages, got.Consumers)
			}
		}
		publish(t, srv, "", req.ReplyTo, amqp.Publishing{CorrelationId: req.CorrelationId, Body: append([]byte("re:"), req.Body...)})
		mustOK(t, req.Ack(false), "ack request")
		rep := consumeN(t, replies, 1, waitFor)[0]
		if rep.CorrelationId != corr || string(rep.Body) != fmt.Sprint("re:", i) {
			t.Fatalf("reply %q correlation %q, want re:%d %s", rep.Body, rep.CorrelationId, i, corr)
		}
	}
}

// TestDirectReplyToErrors: publishing with reply-to amq.rabbitmq.reply-to
// needs a reply consumer on the channel, which must be no-ack and unique.
func TestDirectReplyToErrors(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	publish(t, ch, "", name(t, "nowhere"), amqp.Publishing{ReplyTo: replyTo, Body: []byte("x")})
	expectChannelClose(t, ch, codePreconditionFail, "PRECONDITION_FAILED - fast reply consumer does not exist")

	ch = c.channel(t)
	_, err := ch.Consume(replyTo, "", false, false, false, false, nil)
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - reply consumer cannot acknowledge")

	ch = c.channel(t)
	_, err = ch.Consume(replyTo, "one", true, false, false, false, nil)
	mustOK(t, err, "consume "+replyTo)
	_, err = ch.Consume(replyTo, "two", true, false, false, false, nil)
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - reply consumer already set")
}

// TestValidatedUserID: a user_id property must name the authenticated
// user; it is delivered unchanged.
func TestValidatedUserID(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, amqp.Publishing{UserId: "guest", Body: []byte("me")})
	d := getN(t, ch, q, 1, true)[0]
	if d.UserId != "guest" {
		t.Fatalf("user_id delivered as %q, want guest", d.UserId)
	}
	bad := c.channel(t)
	publish(t, bad, "", q, amqp.Publishing{UserId: "mallory", Body: []byte("not me")})
	expectChannelClose(t, bad, codePreconditionFail, "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'")
	waitMessages(t, ch, q, 0)
}

// consumerTimeoutText is RabbitMQ's reason for closing a channel whose
// delivery was not acknowledged in time.
func consumerTimeoutText(ms int) string {
	return fmt.Sprintf("PRECONDITION_FAILED - delivery acknowledgement on channel 1 timed out. "+
		"Timeout value used: %d ms. This timeout value can be configured, see consumers doc guide to learn more", ms)
}

// TestConsumerTimeout: a broker with a short consumer_timeout closes the
// channel of a consumer that holds a delivery too long, with 406, and the
// message goes back to the queue. Against an external broker set
// WARREN_E2E_CONSUMER_TIMEOUT_MS to its consumer_timeout to run it.
func TestConsumerTimeout(t *testing.T) {
	t.Parallel()
	url, ms := "", 1000
	if external {
		v, err := strconv.Atoi(os.Getenv("WARREN_E2E_CONSUMER_TIMEOUT_MS"))
		if err != nil || v <= 0 || v > 10000 {
			t.Skip("external broker: set WARREN_E2E_CONSUMER_TIMEOUT_MS to its consumer_timeout (at most 10000)")
		}
		url, ms = brokerURL, v
	} else {
		url = ownBroker(t, warrenOptions{ConsumerTimeout: time.Duration(ms) * time.Millisecond})
	}
	c := dialURL(t, url, amqp.Config{})
	ch := c.channel(t) // channel 1: the text names it
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	other := c.channel(t)
	publish(t, other, "", q, text("held"))
	d := consume(t, ch, q, false, nil)
	consumeN(t, d, 1, waitFor)
	start := time.Now()
	select {
	case e := <-ch.closed:
		expectError(t, e, codePreconditionFail, consumerTimeoutText(ms))
	case <-time.After(time.Duration(ms)*time.Millisecond + 2*waitFor):
		t.Fatalf("channel not closed within %d ms + %s", ms, 2*waitFor)
	}
	if el := time.Since(start); el < time.Duration(ms)*time.Millisecond/2 {
		t.Fatalf("closed after %s, well before the %d ms timeout", el, ms)
	}
	if c.IsClosed() {
		t.Fatal("consumer timeout closed the connection, want only the channel")
	}
	got := getN(t, other, q, 1, true)[0]
	if string(got.Body) != "held" || !got.Redelivered {
		t.Fatalf("after the timeout got %q redelivered=%v, want held redelivered", got.Body, got.Redelivered)
	}
}

// TestConsumerTimeoutArgument: RabbitMQ 4 takes a per-queue timeout from
// the x-consumer-timeout argument.
func TestConsumerTimeoutArgument(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "x-consumer-timeout arrived in RabbitMQ 3.12")
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-consumer-timeout": int32(500)})
	expectConsumerTimeout(t, ch, c.channel(t), q, 500)
}

// expectConsumerTimeout publishes a message to q through other, consumes
// it on ch without acking, and checks that the broker closes ch with 406
// after ms and returns the message to q.
func expectConsumerTimeout(t *testing.T, ch, other *channel, q string, ms int) {
	t.Helper()
	publish(t, other, "", q, text("held"))
	consumeN(t, consume(t, ch, q, false, nil), 1, waitFor)
	select {
	case e := <-ch.closed:
		expectError(t, e, codePreconditionFail, consumerTimeoutText(ms))
	case <-time.After(time.Duration(ms)*time.Millisecond + 2*waitFor):
		t.Fatalf("channel not closed by a consumer timeout of %d ms", ms)
	}
	got := getN(t, other, q, 1, true)[0]
	if string(got.Body) != "held" || !got.Redelivered {
		t.Fatalf("after the timeout got %q redelivered=%v, want held redelivered", got.Body, got.Redelivered)
	}
}

// TestReplyToGoneRequester: a reply to a direct reply-to address whose
// requester has gone is dropped; the replier's channel stays open.
func TestReplyToGoneRequester(t *testing.T) {
	t.Parallel()
	_, srv := open(t)
	q := name(t, "rpc")
	declareQueue(t, srv, q, nil)
	c, client := open(t)
	_, err := client.Consume(replyTo, "", true, false, false, false, nil)
	mustOK(t, err, "consume reply-to")
	publish(t, client, "", q, amqp.Publishing{ReplyTo: replyTo, Body: []byte("req")})
	req := getN(t, srv, q, 1, true)[0]
	mustOK(t, c.Close(), "requester leaves")
	publish(t, srv, "", req.ReplyTo, text("too late"))
	expectOpen(t, srv)
}

// TestDirectReplyToForgedKey: a direct reply-to key that was not handed
// out (its last character changed, cut short, or made up) names no queue:
// a passive declare of it is 404, and a reply published to it is dropped
// without closing the replier's channel. The requester gets only the
// reply sent to its real key, which is published after the forged ones
// on the same channel, so any forged one routed would arrive first.
func TestDirectReplyToForgedKey(t *testing.T) {
	t.Parallel()
	_, srv := open(t)
	q := name(t, "rpc")
	declareQueue(t, srv, q, nil)
	cc, client := open(t)
	replies, err := client.Consume(replyTo, "", true, false, false, false, nil)
	mustOK(t, err, "consume "+replyTo)
	publish(t, client, "", q, amqp.Publishing{ReplyTo: replyTo, Body: []byte("req")})
	key := getN(t, srv, q, 1, true)[0].ReplyTo
	last := "A"
	if strings.HasSuffix(key, last) {
		last = "B"
	}
	for _, forged := range []string{key[:len(key)-1] + last, key[:len(key)-4], replyTo + ".made-up"} {
		probe := cc.channel(t)
		_, err := probe.QueueDeclarePassive(forged, false, false, false, false, nil)
		expectChannelError(t, probe, err, codeNotFound, fmt.Sprintf("NOT_FOUND - no queue '%s' in vhost '/'", forged))
		publish(t, srv, "", forged, text("forged "+forged))
	}
	publish(t, srv, "", key, text("real"))
	if got := consumeN(t, replies, 1, waitFor)[0]; string(got.Body) != "real" {
		t.Fatalf("requester got %q, want only the reply to its own key", got.Body)
	}
	expectOpen(t, srv)
}
