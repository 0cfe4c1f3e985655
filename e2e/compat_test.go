package e2e

import (
	"errors"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Corner cases where clients depend on Warren behaving exactly as
// RabbitMQ does: crossing channel.close, unbinding what is not there,
// malformed CC/BCC headers, and when a transaction routes.

// TestChannelCloseCrossing: the server closes a channel (404 on a publish
// to a missing exchange) while the client's own channel.close is on the
// way. The server answers the client's close with close-ok, keeps the
// channel until the client's close-ok for its close arrives, and the
// connection and its other channels are unaffected.
func TestChannelCloseCrossing(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	r.openChannel(2)
	x := name(t, "missing")
	var closeArgs args
	closeArgs.u16(codeReplySuccess).shortstr("bye").u16(0).u16(0)
	var all []byte
	all = append(all, publishBytes(1, x, "k")...)
	all = append(all, headerBytes(1, 0)...)
	all = append(all, methodBytes(1, 20, 40, &closeArgs)...) // channel.close, before the 404 is seen
	r.write(all)

	var gotClose, gotCloseOK bool
	for !gotClose || !gotCloseOK {
		f := r.expectAnyMethod(1)
		switch c, m := f.classMethod(); {
		case c == 20 && m == 40 && !gotClose:
			gotClose = true
			want := "NOT_FOUND - no exchange '" + x + "' in vhost '/'"
			if code, text := parseClose(f.payload); code != codeNotFound || text != want {
				t.Fatalf("channel.close %d %q, want %d %q", code, text, codeNotFound, want)
			}
		case c == 20 && m == 41 && !gotCloseOK:
			gotCloseOK = true
		default:
			t.Fatalf("got method %d.%d on channel 1, want one channel.close and one channel.close-ok", c, m)
		}
	}
	r.method(1, 20, 41, nil) // close-ok for the server's close

	// Channel 2 still works: its reply comes after the server has handled
	// the close-ok, so the connection survived it.
	var passive args
	passive.u16(0).shortstr("amq.direct").shortstr("direct").u8(1).table(nil)
	r.method(2, 40, 10, passive.b.Bytes())
	r.expectMethod(2, 40, 11)
	r.openChannel(1) // and the id is free again
}

// TestChannelCloseAfterFailedPublishClient: amqp091-go closing a channel
// right after a publish the server refuses sends channel.close and then
// answers the server's channel.close; the connection stays open.
func TestChannelCloseAfterFailedPublishClient(t *testing.T) {
	t.Parallel()
	c := dial(t)
	other := c.channel(t)
	x := name(t, "missing")
	for i := 0; i < 10; i++ {
		ch := c.channel(t)
		mustOK(t, ch.Publish(x, "k", false, false, text("m")), "basic.publish")
		if err := ch.Close(); err != nil && !errors.Is(err, amqp.ErrClosed) {
			expectError(t, err, codeNotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")
		}
		expectOpen(t, other)
	}
	if c.IsClosed() {
		t.Fatal("connection closed")
	}
}

// TestStrayChannelCloseOk: a channel.close-ok for a channel the client
// already closed (the server answered its close and forgot the channel)
// is a method on a channel that is not open: connection error 504, as in
// RabbitMQ.
func TestStrayChannelCloseOk(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(3)
	var closeArgs args
	closeArgs.u16(codeReplySuccess).shortstr("bye").u16(0).u16(0)
	r.method(3, 20, 40, closeArgs.b.Bytes())
	r.expectMethod(3, 20, 41)
	r.method(3, 20, 41, nil)
	r.expectConnectionClose(codeChannelError, "CHANNEL_ERROR - expected 'channel.open'")
}

// TestUnbindAbsent: queue.unbind and exchange.unbind of a binding that is
// not there succeed, whatever is missing (the source exchange, the
// destination, or only the binding), as RabbitMQ's rabbit_binding:remove
// does; the default exchange is still refused (403), and so is an
// unbind with "" for the queue on a channel that declared none (404).
func TestUnbindAbsent(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "q")
	x := name(t, "x")
	declareQueue(t, setup, q, nil)
	declareExchange(t, setup, x, "direct", nil)
	const refused = "ACCESS_REFUSED - operation not permitted on the default exchange"
	cases := []struct {
		name   string
		unbind func(ch *channel) error
		code   int // 0: unbind-ok
		text   string
	}{
		{"queue missing", func(ch *channel) error { return ch.QueueUnbind(q+".missing", "k", x, nil) }, 0, ""},
		{"exchange missing", func(ch *channel) error { return ch.QueueUnbind(q, "k", x+".missing", nil) }, 0, ""},
		{"both missing", func(ch *channel) error { return ch.QueueUnbind(q+".missing", "k", x+".missing", nil) }, 0, ""},
		{"binding missing", func(ch *channel) error { return ch.QueueUnbind(q, "k", x, nil) }, 0, ""},
		{"exchange-to-exchange, source missing", func(ch *channel) error { return ch.ExchangeUnbind(x, "k", x+".missing", false, nil) }, 0, ""},
		{"exchange-to-exchange, destination missing", func(ch *channel) error { return ch.ExchangeUnbind(x+".missing", "k", x, false, nil) }, 0, ""},
		{"exchange-to-exchange, binding missing", func(ch *channel) error { return ch.ExchangeUnbind(x, "k", "amq.direct", false, nil) }, 0, ""},
		{"default exchange", func(ch *channel) error { return ch.QueueUnbind(q, "k", "", nil) }, codeAccessRefused, refused},
		{"default exchange, queue missing", func(ch *channel) error { return ch.QueueUnbind(q+".missing", "k", "", nil) }, codeAccessRefused, refused},
		{"default exchange as source", func(ch *channel) error { return ch.ExchangeUnbind(x, "k", "", false, nil) }, codeAccessRefused, refused},
		{"default exchange as destination, source missing", func(ch *channel) error { return ch.ExchangeUnbind("", "k", x+".missing", false, nil) }, codeAccessRefused, refused},
		{"no previously declared queue", func(ch *channel) error { return ch.QueueUnbind("", "k", x, nil) }, codeNotFound, "NOT_FOUND - no previously declared queue"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			err := tc.unbind(ch)
			if tc.code == 0 {
				mustOK(t, err, "unbind")
				expectOpen(t, ch)
				return
			}
			expectChannelError(t, ch, err, tc.code, tc.text)
		})
	}
}

// TestUnbindExclusiveQueue: another connection's exclusive queue may be
// "unbound" from what it is not bound to, but its existing bindings are
// refused with 405 and stay.
func TestUnbindExclusiveQueue(t *testing.T) {
	t.Parallel()
	owner := dial(t).channel(t)
	q := name(t, "")
	x := name(t, "x")
	declareExchange(t, owner, x, "direct", nil)
	_, err := owner.QueueDeclare(q, false, false, true, false, nil)
	mustOK(t, err, "declare exclusive queue")
	mustOK(t, owner.QueueBind(q, "k", x, false, nil), "bind")

	c := dial(t)
	ch := c.channel(t)
	mustOK(t, ch.QueueUnbind(q, "other-key", x, nil), "unbind a binding that is not there")
	mustOK(t, ch.QueueUnbind(q, "k", x+".missing", nil), "unbind from a missing exchange")
	err = ch.QueueUnbind(q, "k", x, nil)
	expectChannelError(t, ch, err, codeResourceLocked, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '"+
		q+"' in vhost '/'. It could be originally declared on another connection or the exclusive property value "+
		"does not match that of the original declaration.")

	// The binding is still there: it routes.
	publish(t, owner, x, "k", text("still bound"))
	equalStrings(t, "routed", bodies(getN(t, owner, q, 1, true)), []string{"still bound"})
	mustOK(t, owner.QueueUnbind(q, "k", x, nil), "the owner unbinds")
	mustOK(t, owner.Publish(x, "k", false, false, text("unbound")), "publish")
	waitMessages(t, owner, q, 0)
}

// TestRoutingHeaderNotArray: a CC or BCC header that is not an array
// closes the channel with 406 and RabbitMQ's text naming the header and
// the field type; nothing is routed.
func TestRoutingHeaderNotArray(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "")
	declareQueue(t, setup, q, nil)
	cases := []struct {
		header string
		value  any
		typ    string
	}{
		{"CC", q, "longstr"},
		{"BCC", q, "longstr"},
		{"CC", int32(1), "signedint"},
		{"CC", int64(1), "long"},
		{"CC", 1.5, "double"},
		{"BCC", true, "bool"},
		{"CC", []byte(q), "binary"},
		{"CC", amqp.Table{"k": q}, "table"},
		{"BCC", time.Unix(1700000000, 0), "timestamp"},
		{"CC", nil, "void"},
	}
	for _, tc := range cases {
		t.Run(tc.header+" "+tc.typ, func(t *testing.T) {
			ch := c.channel(t)
			msg := text("m")
			msg.Headers = amqp.Table{tc.header: tc.value}
			publish(t, ch, "", q, msg)
			expectChannelClose(t, ch, codePreconditionFail,
				`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"`+tc.header+`",`+tc.typ+`}`)
		})
	}
	// A valid CC with a malformed BCC is refused too: nothing is routed.
	ch := c.channel(t)
	msg := text("m")
	msg.Headers = amqp.Table{"CC": []any{q}, "BCC": q}
	publish(t, ch, "", q, msg)
	expectChannelClose(t, ch, codePreconditionFail,
		`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"BCC",longstr}`)
	expectCount(t, setup, q, 0)
}

// TestRoutingHeaderElements: in a CC or BCC array only string elements
// are routing keys; elements of other types are skipped, as in RabbitMQ.
func TestRoutingHeaderElements(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	x := name(t, "x")
	declareExchange(t, ch, x, "direct", nil)
	qs := map[string]string{}
	for _, k := range []string{"cc", "bcc", "bin", "num"} {
		qs[k] = name(t, k)
		declareQueue(t, ch, qs[k], nil)
		mustOK(t, ch.QueueBind(qs[k], k, x, false, nil), "bind "+k)
	}
	msg := text("m")
	msg.Headers = amqp.Table{
		"CC":  []any{int32(7), "cc", []byte("bin")},
		"BCC": []any{"bcc", int64(1), amqp.Table{"k": "num"}},
	}
	publish(t, ch, x, "nobody", msg)
	for _, k := range []string{"cc", "bcc"} {
		d := getN(t, ch, qs[k], 1, true)[0]
		if _, ok := d.Headers["BCC"]; ok {
			t.Fatalf("%s: BCC header delivered: %v", k, d.Headers)
		}
	}
	expectCount(t, ch, qs["bin"], 0)
	expectCount(t, ch, qs["num"], 0)
}

// txReturn commits tx and waits for the basic.return the commit causes.
func txReturn(t *testing.T, tx *channel, returns <-chan amqp.Return) amqp.Return {
	t.Helper()
	mustOK(t, tx.TxCommit(), "tx.commit")
	select {
	case r := <-returns:
		return r
	case <-time.After(waitFor):
		t.Fatal("no basic.return after tx.commit")
	}
	return amqp.Return{}
}

// TestTxQueueDeletedBeforeCommit: a transactional publish goes to the
// queues that exist when tx.commit runs; a mandatory one whose queue was
// deleted after the publish is returned (312 NO_ROUTE) at the commit.
func TestTxQueueDeletedBeforeCommit(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	tx := c.channel(t)
	mustOK(t, tx.Tx(), "tx.select")
	returns := tx.NotifyReturn(make(chan amqp.Return, 1))
	mustOK(t, tx.Publish("", q, true, false, text("m")), "basic.publish")
	expectOpen(t, tx) // the publish is handled
	_, err := ch.QueueDelete(q, false, false, false)
	mustOK(t, err, "queue.delete")
	r := txReturn(t, tx, returns)
	if r.ReplyCode != codeNoRoute || r.ReplyText != "NO_ROUTE" || r.RoutingKey != q || string(r.Body) != "m" {
		t.Fatalf("return %d %q key %q body %q, want 312 NO_ROUTE for %s", r.ReplyCode, r.ReplyText, r.RoutingKey, r.Body, q)
	}
}

// TestTxQueueRecreatedBeforeCommit: the queues of a transactional publish
// are looked up by name at the commit, so a queue deleted and declared
// again in between gets the message.
func TestTxQueueRecreatedBeforeCommit(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	tx := c.channel(t)
	mustOK(t, tx.Tx(), "tx.select")
	mustOK(t, tx.Publish("", q, true, false, text("m")), "basic.publish")
	expectOpen(t, tx)
	_, err := ch.QueueDelete(q, false, false, false)
	mustOK(t, err, "queue.delete")
	declareQueue(t, ch, q, nil)
	mustOK(t, tx.TxCommit(), "tx.commit")
	equalStrings(t, "committed", bodies(getN(t, ch, q, 1, true)), []string{"m"})
}

// TestTxRoutedAtPublish: a transactional publish is routed when it
// arrives; a binding made before the commit does not change where it
// goes, so a mandatory publish unroutable then is returned at the commit.
func TestTxRoutedAtPublish(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	x := name(t, "x")
	declareQueue(t, ch, q, nil)
	declareExchange(t, ch, x, "direct", nil)
	tx := c.channel(t)
	mustOK(t, tx.Tx(), "tx.select")
	returns := tx.NotifyReturn(make(chan amqp.Return, 1))
	mustOK(t, tx.Publish(x, "k", true, false, text("m")), "basic.publish")
	expectOpen(t, tx)
	mustOK(t, ch.QueueBind(q, "k", x, false, nil), "queue.bind")
	if r := txReturn(t, tx, returns); r.ReplyCode != codeNoRoute || r.Exchange != x || string(r.Body) != "m" {
		t.Fatalf("return %d from %q body %q, want 312 from %s", r.ReplyCode, r.Exchange, r.Body, x)
	}
	expectCount(t, ch, q, 0)
}

// TestTxTTLFromCommit: a transactional publish reaches its queue at the
// commit, and its expiration counts from then: held in the transaction
// for longer than its TTL, it is still there after the commit, and then
// expires.
func TestTxTTLFromCommit(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	ctl := name(t, "control")
	declareQueue(t, ch, q, nil)
	declareQueue(t, ch, ctl, nil)
	const ttl = "1000" // ms: long enough to check the message after the commit
	tx := c.channel(t)
	mustOK(t, tx.Tx(), "tx.select")
	mustOK(t, tx.Publish("", q, false, false, amqp.Publishing{Body: []byte("held"), Expiration: ttl}), "basic.publish")
	expectOpen(t, tx) // the publish is handled
	// A message published outside the transaction with the same TTL, now:
	// once it has expired, the held one has waited longer than its TTL.
	publish(t, ch, "", ctl, amqp.Publishing{Body: []byte("control"), Expiration: ttl})
	waitMessages(t, ch, ctl, 0)
	mustOK(t, tx.TxCommit(), "tx.commit")
	expectCount(t, ch, q, 1)
	waitMessages(t, ch, q, 0)
}

// TestPublishPropertyChecks: a publish's properties are checked in
// RabbitMQ's order (user_id, then expiration, then the CC and BCC headers,
// then delivery_mode), and a delivery mode other than 1 or 2 is refused.
func TestPublishPropertyChecks(t *testing.T) {
	t.Parallel()
	c, setup := open(t)
	q := name(t, "")
	declareQueue(t, setup, q, nil)
	cases := []struct {
		name string
		msg  amqp.Publishing
		text string
	}{
		{"delivery mode 3", amqp.Publishing{DeliveryMode: 3},
			"PRECONDITION_FAILED - invalid message: {delivery_mode_unknown,3}"},
		{"delivery mode 255", amqp.Publishing{DeliveryMode: 255},
			"PRECONDITION_FAILED - invalid message: {delivery_mode_unknown,255}"},
		{"user_id before expiration", amqp.Publishing{UserId: "someone-else", Expiration: "soon"},
			"PRECONDITION_FAILED - user_id property set to 'someone-else' but authenticated user was 'guest'"},
		{"expiration before CC", amqp.Publishing{Expiration: "soon", Headers: amqp.Table{"CC": "k"}},
			"PRECONDITION_FAILED - invalid expiration 'soon': no_integer"},
		{"CC before delivery mode", amqp.Publishing{DeliveryMode: 3, Headers: amqp.Table{"CC": "k"}},
			`PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"CC",longstr}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			publish(t, ch, "", q, tc.msg)
			expectChannelClose(t, ch, codePreconditionFail, tc.text)
		})
	}
	for _, mode := range []uint8{1, 2} {
		publish(t, setup, "", q, amqp.Publishing{DeliveryMode: mode, Body: []byte("ok")})
	}
	waitMessages(t, setup, q, 2)
}
