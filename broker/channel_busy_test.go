package broker

import (
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestSlowDeclareHoldsOnlyItsChannel: while a declare on one channel waits
// seconds for its definitions commit, another channel of the same
// connection publishes, consumes and acks at once; the slow channel's
// methods sent after the declare are answered after it, in order: a
// publish after a nowait declare reaches the queue it declared.
func TestSlowDeclareHoldsOnlyItsChannel(t *testing.T) {
	const commitDelay = 2 * time.Second
	s := startServer(t)
	c := dial(t, s)
	a, b := openChannel(t, c), openChannel(t, c)
	if _, err := b.QueueDeclare("busy-b", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := b.Consume("busy-b", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Confirm(false); err != nil {
		t.Fatal(err)
	}
	bAcks := b.NotifyPublish(make(chan amqp.Confirmation, 64))
	if err := a.Confirm(false); err != nil {
		t.Fatal(err)
	}
	aAcks := a.NotifyPublish(make(chan amqp.Confirmation, 1))
	aReturns := a.NotifyReturn(make(chan amqp.Return, 1))

	l := localOf(t, s)
	st := &scriptedStore{entered: make(chan struct{}), release: make(chan struct{})}
	withTurn(l, func() {
		st.defsStore = l.store
		l.store = st
	})
	defer withTurn(l, func() { l.store = st.defsStore })
	sent := time.Now()
	if _, err := a.QueueDeclare("busy-a", false, false, false, true, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish("", "busy-a", true, false, amqp.Publishing{Body: []byte("after the declare")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the declare never reached its commit")
	}
	time.AfterFunc(commitDelay, func() { close(st.release) })

	start := time.Now()
	const n = 20
	for i := range n {
		publish(t, b, "", "busy-b", amqp.Publishing{Body: []byte(strconv.Itoa(i))})
		d := recvOne(t, ds)
		if string(d.Body) != strconv.Itoa(i) {
			t.Fatalf("delivery %q, want %d", d.Body, i)
		}
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
		select {
		case cf := <-bAcks:
			if !cf.Ack {
				t.Fatalf("publish %d nacked", i)
			}
		case <-time.After(commitDelay):
			t.Fatalf("no confirm for publish %d while the other channel's declare waits", i)
		}
	}
	if took := time.Since(start); took > commitDelay/2 {
		t.Fatalf("%d publishes, deliveries and acks on another channel took %v while a declare waited", n, took)
	}

	select {
	case cf := <-aAcks:
		if !cf.Ack || cf.DeliveryTag != 1 {
			t.Fatalf("confirm %+v, want ack 1", cf)
		}
	case r := <-aReturns:
		t.Fatalf("the publish after the declare was returned: %d %s", r.ReplyCode, r.ReplyText)
	case <-time.After(5 * time.Second):
		t.Fatal("no confirm for the publish after the declare")
	}
	if took := time.Since(sent); took < commitDelay {
		t.Fatalf("the slow channel was answered after %v, before its declare was committed", took)
	}
	q, err := a.QueueDeclarePassive("busy-a", false, false, false, false, nil)
	if err != nil {
		t.Fatalf("passive declare after the slow one: %v", err)
	}
	if q.Messages != 1 {
		t.Fatalf("the queue holds %d messages, want the one published after its nowait declare", q.Messages)
	}
}

// TestCloseEndsWaitingDeclare: a channel.close, or a connection.close,
// that arrives while the channel's declare still waits for its turn to
// commit is answered at once, and the declare it gave up never takes
// effect.
func TestCloseEndsWaitingDeclare(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(c *amqp.Connection, ch *amqp.Channel) error
	}{
		{"channel.close", func(_ *amqp.Connection, ch *amqp.Channel) error { return ch.Close() }},
		{"connection.close", func(c *amqp.Connection, _ *amqp.Channel) error { return c.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			c := dial(t, s)
			ch := openChannel(t, c)
			l := localOf(t, s)
			l.turn <- struct{}{} // another proposal holds the turn
			held := true
			defer func() {
				if held {
					<-l.turn
				}
			}()
			if _, err := ch.QueueDeclare("given-up", false, false, false, true, nil); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- tc.close(c, ch) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s not answered while the declare waits", tc.name)
			}
			<-l.turn
			held = false
			other := openChannel(t, dial(t, s))
			if err := other.ExchangeDeclare("after-given-up", "direct", false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			if queueExists(s, "given-up") {
				t.Fatal("the declare given up took effect")
			}
		})
	}
}

// queueExists reports whether vhost "/" has a queue name.
func queueExists(s *Server, name string) bool {
	v := s.vhost("/")
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.queues[name] != nil
}
