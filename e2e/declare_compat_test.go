package e2e

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// malformedUTF8 is RabbitMQ's connection error for a short string that is
// not UTF-8.
const malformedUTF8 = "FRAME_ERROR - Malformed UTF-8 in shortstr"

// TestInvalidUTF8Refused: a queue or exchange name, routing key, exchange
// type or consumer tag that is not UTF-8 closes the connection with 501,
// whichever method carries it.
func TestInvalidUTF8Refused(t *testing.T) {
	t.Parallel()
	const bad = "\xff\xfe"
	q := name(t, "q")
	_, setup := open(t)
	declareQueue(t, setup, q, nil)
	for _, tc := range []struct {
		name string
		call func(ch *channel) error
	}{
		{"queue.declare", func(ch *channel) error {
			_, err := ch.QueueDeclare(q+bad, true, false, false, false, nil)
			return err
		}},
		{"queue.declare-passive", func(ch *channel) error {
			_, err := ch.QueueDeclarePassive(q+bad, false, false, false, false, nil)
			return err
		}},
		{"queue.bind-queue", func(ch *channel) error { return ch.QueueBind(q+bad, "k", "amq.direct", false, nil) }},
		{"queue.bind-exchange", func(ch *channel) error { return ch.QueueBind(q, "k", "amq.direct"+bad, false, nil) }},
		{"queue.bind-key", func(ch *channel) error { return ch.QueueBind(q, "k"+bad, "amq.direct", false, nil) }},
		{"queue.unbind", func(ch *channel) error { return ch.QueueUnbind(q+bad, "k", "amq.direct", nil) }},
		{"queue.purge", func(ch *channel) error { _, err := ch.QueuePurge(q+bad, false); return err }},
		{"queue.delete", func(ch *channel) error { _, err := ch.QueueDelete(q+bad, false, false, false); return err }},
		{"exchange.declare", func(ch *channel) error {
			return ch.ExchangeDeclare(q+bad, "direct", true, false, false, false, nil)
		}},
		{"exchange.declare-type", func(ch *channel) error {
			return ch.ExchangeDeclare(q, "direct"+bad, false, false, false, false, nil)
		}},
		{"exchange.delete", func(ch *channel) error { return ch.ExchangeDelete(q+bad, false, false) }},
		{"exchange.bind", func(ch *channel) error { return ch.ExchangeBind(q+bad, "k", "amq.direct", false, nil) }},
		{"exchange.unbind", func(ch *channel) error { return ch.ExchangeUnbind("amq.topic", "k", q+bad, false, nil) }},
		{"basic.consume", func(ch *channel) error {
			_, err := ch.Consume(q+bad, "", false, false, false, false, nil)
			return err
		}},
		{"basic.consume-tag", func(ch *channel) error {
			_, err := ch.Consume(q, "tag"+bad, false, false, false, false, nil)
			return err
		}},
		{"basic.get", func(ch *channel) error { _, _, err := ch.Get(q+bad, true); return err }},
		{"basic.cancel", func(ch *channel) error { return ch.Cancel("tag"+bad, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ch := open(t)
			expectError(t, tc.call(ch), codeFrameError, malformedUTF8)
			expectConnClose(t, c, codeFrameError, malformedUTF8)
		})
	}
}

// TestInvalidUTF8ConnectionClose: the connection.close for a malformed
// short string names no method, as RabbitMQ's decoder does not.
func TestInvalidUTF8ConnectionClose(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	r.write(queueDeclareBytes(1, name(t, "")+"\xc3"))
	f := r.expectMethod(0, 10, 50)
	code, text := parseClose(f.payload)
	ids := f.payload[7+len(text):]
	if code != codeFrameError || text != malformedUTF8 || len(ids) != 4 || binary.BigEndian.Uint32(ids) != 0 {
		t.Fatalf("connection.close %d %q failing method %x, want %d %q naming no method", code, text, ids, codeFrameError, malformedUTF8)
	}
}

// TestInvalidUTF8InPublishAccepted: basic.publish is not checked, as
// RabbitMQ skips the check for methods that carry content: a routing key
// that is not UTF-8 just routes nowhere.
func TestInvalidUTF8InPublishAccepted(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	publish(t, ch, "", name(t, "")+"\xff", text("x"))
	expectOpen(t, ch)
	if c.IsClosed() {
		t.Fatal("connection closed by a publish with a non-UTF-8 routing key")
	}
}

// TestDeclareStripsCRLF: queue.declare and exchange.declare, active or
// passive, drop carriage returns and line feeds from the name.
func TestDeclareStripsCRLF(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q, x := name(t, "q"), name(t, "x")
	got, err := ch.QueueDeclare("\r"+q[:4]+"\r\n"+q[4:]+"\n", false, false, false, false, nil)
	mustOK(t, err, "queue.declare with CR/LF")
	t.Cleanup(func() { deleteQueue(q) })
	if got.Name != q {
		t.Fatalf("declared queue %q, want %q", got.Name, q)
	}
	got, err = ch.QueueDeclarePassive(q+"\n", false, false, false, false, nil)
	mustOK(t, err, "passive queue.declare with LF")
	if got.Name != q {
		t.Fatalf("passive declare-ok names %q, want %q", got.Name, q)
	}
	mustOK(t, ch.ExchangeDeclare(x+"\r\n", "fanout", false, false, false, false, nil), "exchange.declare with CR/LF")
	t.Cleanup(func() { deleteExchange(x) })
	mustOK(t, ch.ExchangeDeclarePassive(x, "fanout", false, false, false, false, nil), "passive exchange.declare")
	mustOK(t, ch.ExchangeDeclarePassive("\r"+x, "fanout", false, false, false, false, nil), "passive exchange.declare with CR")

	// A name of nothing but CR and LF is a request for a server-named
	// queue, and amq. names are refused once stripped.
	gen, err := ch.QueueDeclare("\r\n", false, false, true, false, nil)
	mustOK(t, err, "queue.declare of CR LF")
	if !strings.HasPrefix(gen.Name, "amq.gen-") {
		t.Fatalf("queue.declare of CR LF named %q, want amq.gen-…", gen.Name)
	}
	_, err = ch.QueueDeclare("amq.\n"+q, false, false, false, false, nil)
	expectChannelError(t, ch, err, codeAccessRefused, "ACCESS_REFUSED - queue name 'amq."+q+"' contains reserved prefix 'amq.*'")
}

// TestBindStripsCRLF: the bind and unbind methods drop carriage returns
// and line feeds from the queue and exchange names.
func TestBindStripsCRLF(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q, x, x2 := name(t, "q"), name(t, "x"), name(t, "x2")
	declareQueue(t, ch, q, nil)
	declareExchange(t, ch, x, "direct", nil)
	declareExchange(t, ch, x2, "fanout", nil)
	mustOK(t, ch.QueueBind(q+"\n", "k", "\r"+x, false, nil), "queue.bind with CR/LF")
	mustOK(t, ch.ExchangeBind(x+"\r\n", "", x2+"\n", false, nil), "exchange.bind with CR/LF")
	publish(t, ch, x2, "k", text("via x2"))
	waitMessages(t, ch, q, 1)
	mustOK(t, ch.ExchangeUnbind(x+"\n", "", "\r"+x2, false, nil), "exchange.unbind with CR/LF")
	mustOK(t, ch.QueueUnbind("\n"+q, "k", x+"\r", nil), "queue.unbind with CR/LF")
	publish(t, ch, x2, "k", text("unbound"))
	publish(t, ch, x, "k", text("unbound"))
	// Publish is asynchronous; the basic.get after them on the same
	// channel sees their result.
	equalStrings(t, "bodies", bodies(getN(t, ch, q, 1, true)), []string{"via x2"})
	if _, ok, err := ch.Get(q, true); err != nil || ok {
		t.Fatalf("after unbinding: get ok=%v err=%v, want an empty queue", ok, err)
	}
}

// TestDeleteStripsCRLF: queue.delete and exchange.delete drop carriage
// returns and line feeds from the name; a name of nothing but CR and LF
// is not the channel's last declared queue.
func TestDeleteStripsCRLF(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q, x := name(t, "q"), name(t, "x")
	declareQueue(t, ch, q, nil)
	declareExchange(t, ch, x, "direct", nil)
	publish(t, ch, "", q, text("m"))
	waitMessages(t, ch, q, 1)
	n, err := ch.QueueDelete("\n", false, false, false)
	mustOK(t, err, "queue.delete of LF")
	if n != 0 {
		t.Fatalf("queue.delete of LF removed %d messages, want 0", n)
	}
	n, err = ch.QueueDelete(q+"\r\n", false, false, false)
	mustOK(t, err, "queue.delete with CR/LF")
	if n != 1 {
		t.Fatalf("queue.delete with CR/LF removed %d messages, want 1", n)
	}
	mustOK(t, ch.ExchangeDelete("\n"+x, false, false), "exchange.delete with LF")
	c := ch.conn
	probe := c.channel(t)
	_, err = probe.QueueDeclarePassive(q, false, false, false, false, nil)
	expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
	probe = c.channel(t)
	err = probe.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil)
	expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")
}

// TestNamesWithCRLFUsedAsSent: queue.purge, basic.get, basic.consume and
// basic.publish do not strip carriage returns and line feeds, so a name
// with them names no existing queue or exchange.
func TestNamesWithCRLFUsedAsSent(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "q")
	declareQueue(t, setup, q, nil)
	missing := "NOT_FOUND - no queue '" + q + "\n' in vhost '/'"
	for _, tc := range []struct {
		name string
		call func(ch *channel) error
	}{
		{"queue.purge", func(ch *channel) error { _, err := ch.QueuePurge(q+"\n", false); return err }},
		{"basic.get", func(ch *channel) error { _, _, err := ch.Get(q+"\n", true); return err }},
		{"basic.consume", func(ch *channel) error {
			_, err := ch.Consume(q+"\n", "", true, false, false, false, nil)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			expectChannelError(t, ch, tc.call(ch), codeNotFound, missing)
		})
	}
	ch := c.channel(t)
	publish(t, ch, "amq.direct\r", q, text("m"))
	expectChannelClose(t, ch, codeNotFound, "NOT_FOUND - no exchange 'amq.direct\r' in vhost '/'")
}

// TestPassiveDeclareRenewsExpires: a passive queue.declare is a use of the
// queue and restarts its x-expires lease; once the declares stop, the queue
// expires.
func TestPassiveDeclareRenewsExpires(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	const expires = 1500 * time.Millisecond
	declareQueue(t, ch, q, amqp.Table{"x-expires": int32(expires.Milliseconds())})
	// Declares spaced well inside the lease, for twice its length: the
	// queue lives only if each one renews it.
	for end := time.Now().Add(2 * expires); time.Now().Before(end); {
		time.Sleep(expires / 3)
		_, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		mustOK(t, err, "passive queue.declare within the lease")
	}
	stopped := time.Now()
	deadline := stopped.Add(expires + waitFor)
	for {
		// Probing renews the lease too: each probe waits past it.
		time.Sleep(expires + expires/2)
		probe := ch.conn.channel(t)
		_, err := probe.QueueDeclarePassive(q, false, false, false, false, nil)
		if err != nil {
			expectChannelError(t, probe, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
			return
		}
		_ = probe.Close()
		if time.Now().After(deadline) {
			t.Fatalf("queue with x-expires %s still there %s after the last declare", expires, time.Since(stopped))
		}
	}
}

// TestNoWaitPassiveDeclareDoesNotRenew: a passive queue.declare with
// nowait reads nothing from the queue and so does not renew x-expires (as
// in RabbitMQ, whose lease is renewed by the declare-ok's counts): the
// queue expires, and the next nowait declare closes the channel.
func TestNoWaitPassiveDeclareDoesNotRenew(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, amqp.Table{"x-expires": int32(600)})
	deadline := time.After(waitFor)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case e := <-ch.closed:
			expectError(t, e, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
			return
		case <-tick.C:
			_, _ = ch.QueueDeclarePassive(q, false, false, false, true, nil)
		case <-deadline:
			t.Fatalf("queue with x-expires 600 ms kept alive for %s by nowait passive declares", waitFor)
		}
	}
}
