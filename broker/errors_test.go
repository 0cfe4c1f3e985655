package broker

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// expectClose publishes through f and returns the channel's close error.
func expectChannelClose(t *testing.T, ch *amqp.Channel, f func() error) *amqp.Error {
	t.Helper()
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := f(); err != nil {
		if e, ok := err.(*amqp.Error); ok {
			return e
		}
		t.Fatal(err)
	}
	select {
	case e := <-closed:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed")
	}
	return nil
}

func TestPublishErrors(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	setup := openChannel(t, c)
	if err := setup.ExchangeDeclare("internal-x", "fanout", false, false, true, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cases := []struct {
		name string
		x    string
		msg  amqp.Publishing
		imm  bool
		code int
		text string
	}{
		{"no exchange", "missing", amqp.Publishing{}, false, amqp.NotFound,
			"NOT_FOUND - no exchange 'missing' in vhost '/'"},
		{"internal", "internal-x", amqp.Publishing{}, false, amqp.AccessRefused,
			"ACCESS_REFUSED - cannot publish to internal exchange 'internal-x' in vhost '/'"},
		{"user_id", "", amqp.Publishing{UserId: "bob"}, false, amqp.PreconditionFailed,
			"PRECONDITION_FAILED - user_id property set to 'bob' but authenticated user was 'guest'"},
		{"immediate", "", amqp.Publishing{}, true, amqp.NotImplemented,
			"NOT_IMPLEMENTED - immediate=true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := c
			if tc.code == amqp.NotImplemented {
				conn = dial(t, s)
			}
			ch := openChannel(t, conn)
			var e *amqp.Error
			if tc.code == amqp.NotImplemented {
				closed := conn.NotifyClose(make(chan *amqp.Error, 1))
				ch.PublishWithContext(ctx, tc.x, "k", false, tc.imm, tc.msg)
				e = <-closed
			} else {
				e = expectChannelClose(t, ch, func() error {
					return ch.PublishWithContext(ctx, tc.x, "k", false, tc.imm, tc.msg)
				})
			}
			if e == nil || e.Code != tc.code || e.Reason != tc.text {
				t.Fatalf("got %#v, want %d %q", e, tc.code, tc.text)
			}
		})
	}
}

func TestQueueDeleteCancelsConsumers(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	ch.QueueDeclare("doomed", false, false, false, false, nil)
	cancels := ch.NotifyCancel(make(chan string, 1))
	if _, err := ch.Consume("doomed", "ctag-1", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	other := openChannel(t, c)
	if _, err := other.QueueDelete("doomed", false, false, false); err != nil {
		t.Fatal(err)
	}
	select {
	case tag := <-cancels:
		if tag != "ctag-1" {
			t.Fatalf("cancel %q", tag)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no basic.cancel")
	}
}

func TestConsumeErrors(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	ch.QueueDeclare("cq", false, false, false, false, nil)
	if _, err := ch.Consume("cq", "dup", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	closed := c.NotifyClose(make(chan *amqp.Error, 1))
	ch.Consume("cq", "dup", false, false, false, false, nil)
	e := <-closed
	if e == nil || e.Code != amqp.NotAllowed || e.Reason != "NOT_ALLOWED - attempt to reuse consumer tag 'dup'" {
		t.Fatalf("got %#v", e)
	}

	c2 := dial(t, s)
	ch2 := openChannel(t, c2)
	err := ch2.Qos(1, 1, false)
	if e, ok := err.(*amqp.Error); !ok || e.Code != amqp.NotImplemented || e.Reason != "NOT_IMPLEMENTED - prefetch_size!=0 (1)" {
		t.Fatalf("qos %#v", err)
	}
}
