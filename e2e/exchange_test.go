package e2e

import (
	"sort"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// confirmChannel opens a channel in confirm mode and returns it with its
// confirmation stream.
func confirmChannel(t testing.TB, c *conn) (*channel, chan amqp.Confirmation) {
	t.Helper()
	ch := c.channel(t)
	mustOK(t, ch.Confirm(false), "confirm.select")
	return ch, ch.NotifyPublish(make(chan amqp.Confirmation, 1024))
}

// waitConfirms waits for n publisher confirms and returns how many were
// acks (the rest were nacks).
func waitConfirms(t testing.TB, confirms <-chan amqp.Confirmation, n int) (acked int) {
	t.Helper()
	deadline := time.After(waitFor)
	for i := 0; i < n; i++ {
		select {
		case c := <-confirms:
			if c.Ack {
				acked++
			}
		case <-deadline:
			t.Fatalf("got %d of %d confirms", i, n)
		}
	}
	return acked
}

// nextConfirm returns the next publisher confirm, failing after waitFor.
func nextConfirm(t testing.TB, confirms <-chan amqp.Confirmation) amqp.Confirmation {
	t.Helper()
	select {
	case c := <-confirms:
		return c
	case <-time.After(waitFor):
		t.Fatal("no publisher confirm")
		return amqp.Confirmation{}
	}
}

// routingCase publishes msgs (routing key, headers, body) to an exchange
// whose queues are bound as given, and checks which bodies each queue got.
type routedMsg struct {
	key     string
	headers amqp.Table
	body    string
}

func checkRouting(t *testing.T, kind string, bindings map[string][]amqp.Table, keys map[string][]string, msgs []routedMsg, want map[string][]string) {
	t.Helper()
	c := dial(t)
	ch, confirms := confirmChannel(t, c)
	x := name(t, "x")
	declareExchange(t, ch, x, kind, nil)
	for q := range want {
		qn := name(t, q)
		declareQueue(t, ch, qn, nil)
		for _, k := range keys[q] {
			mustOK(t, ch.QueueBind(qn, k, x, false, nil), "queue.bind")
		}
		for _, a := range bindings[q] {
			mustOK(t, ch.QueueBind(qn, "", x, false, a), "queue.bind")
		}
	}
	for _, m := range msgs {
		publish(t, ch, x, m.key, amqp.Publishing{Headers: m.headers, Body: []byte(m.body)})
	}
	if acked := waitConfirms(t, confirms, len(msgs)); acked != len(msgs) {
		t.Fatalf("%d of %d publishes acked", acked, len(msgs))
	}
	for q, bs := range want {
		qn := name(t, q)
		waitMessages(t, ch, qn, len(bs))
		got := bodies(getN(t, ch, qn, len(bs), true))
		sort.Strings(got)
		w := append([]string(nil), bs...)
		sort.Strings(w)
		equalStrings(t, "messages in "+q, got, w)
	}
}

func TestDirectRouting(t *testing.T) {
	t.Parallel()
	checkRouting(t, "direct", nil,
		map[string][]string{"q1": {"k1"}, "q2": {"k1", "k2"}, "q3": {"k2"}},
		[]routedMsg{{key: "k1", body: "m1"}, {key: "k2", body: "m2"}, {key: "k3", body: "m3"}, {key: "", body: "m4"}},
		map[string][]string{"q1": {"m1"}, "q2": {"m1", "m2"}, "q3": {"m2"}})
}

func TestFanoutRouting(t *testing.T) {
	t.Parallel()
	checkRouting(t, "fanout", nil,
		map[string][]string{"q1": {""}, "q2": {"ignored"}},
		[]routedMsg{{key: "a", body: "m1"}, {key: "", body: "m2"}},
		map[string][]string{"q1": {"m1", "m2"}, "q2": {"m1", "m2"}})
}

func TestTopicRouting(t *testing.T) {
	t.Parallel()
	checkRouting(t, "topic", nil,
		map[string][]string{
			"star-mid":  {"a.*.c"},
			"a-hash":    {"a.#"},
			"hash":      {"#"},
			"star-b":    {"*.b.*"},
			"hash-c":    {"#.c"},
			"a-hash-c":  {"a.#.c"},
			"exact":     {"a.b.c"},
			"one-word":  {"*"},
			"two-hash":  {"#.#"},
			"none-here": {"z.*"},
		},
		[]routedMsg{
			{key: "a.b.c", body: "abc"}, {key: "a.c", body: "ac"}, {key: "a", body: "a"},
			{key: "x.b.y", body: "xby"}, {key: "a.b.b.c", body: "abbc"},
		},
		map[string][]string{
			"star-mid":  {"abc"},
			"a-hash":    {"abc", "ac", "a", "abbc"},
			"hash":      {"abc", "ac", "a", "xby", "abbc"},
			"star-b":    {"abc", "xby"},
			"hash-c":    {"abc", "ac", "abbc"},
			"a-hash-c":  {"abc", "ac", "abbc"},
			"exact":     {"abc"},
			"one-word":  {"a"},
			"two-hash":  {"abc", "ac", "a", "xby", "abbc"},
			"none-here": {},
		})
}

func TestHeadersRouting(t *testing.T) {
	t.Parallel()
	checkRouting(t, "headers",
		map[string][]amqp.Table{
			"all":         {{"x-match": "all", "a": "1", "b": "2"}},
			"default-all": {{"a": "1", "b": "2"}},
			"any":         {{"x-match": "any", "a": "1", "b": "2"}},
			"all-with-x":  {{"x-match": "all-with-x", "a": "1", "x-foo": "bar"}},
			"any-with-x":  {{"x-match": "any-with-x", "x-foo": "bar"}},
			"all-skips-x": {{"x-match": "all", "a": "1", "x-foo": "bar"}},
			"any-skips-x": {{"x-match": "any", "b": "2", "x-foo": "bar"}},
		},
		nil,
		[]routedMsg{
			{headers: amqp.Table{"a": "1", "b": "2"}, body: "ab"},
			{headers: amqp.Table{"a": "1"}, body: "a"},
			{headers: amqp.Table{"b": "2", "c": "3"}, body: "bc"},
			{headers: nil, body: "none"},
			{headers: amqp.Table{"a": "1", "x-foo": "bar"}, body: "ax"},
			{headers: amqp.Table{"x-foo": "bar"}, body: "x"},
			{headers: amqp.Table{"a": "2"}, body: "a2"},
		},
		map[string][]string{
			"all":         {"ab"},
			"default-all": {"ab"},
			"any":         {"ab", "a", "bc", "ax"},
			"all-with-x":  {"ax"},
			"any-with-x":  {"ax", "x"},
			"all-skips-x": {"ab", "a", "ax"},
			"any-skips-x": {"ab", "bc"},
		})
}

// TestDefaultExchange: every queue is reachable through "" by its name,
// and the default exchange cannot be bound to, declared or deleted.
func TestDefaultExchange(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("hello"))
	equalStrings(t, "bodies", bodies(getN(t, ch, q, 1, true)), []string{"hello"})

	err := ch.QueueBind(q, q, "", false, nil)
	expectChannelError(t, ch, err, codeAccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")

	ch = c.channel(t)
	err = ch.ExchangeDelete("", false, false)
	expectChannelError(t, ch, err, codeAccessRefused, "ACCESS_REFUSED - operation not permitted on the default exchange")
}

// TestBuiltinExchanges: the amq.* exchanges exist with their types.
func TestBuiltinExchanges(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	for x, kind := range map[string]string{
		"amq.direct": "direct", "amq.fanout": "fanout", "amq.topic": "topic",
		"amq.headers": "headers", "amq.match": "headers",
	} {
		mustOK(t, ch.ExchangeDeclarePassive(x, kind, true, false, false, false, nil), "passive declare "+x)
		// Redeclaring with the same properties is fine too.
		mustOK(t, ch.ExchangeDeclare(x, kind, true, false, false, false, nil), "declare "+x)
	}
}

// TestExchangeErrors covers the channel exceptions of exchange.declare and
// exchange.delete.
func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	x := name(t, "x")
	c, setup := open(t)
	declareExchange(t, setup, x, "direct", nil)
	q := name(t, "q")
	declareQueue(t, setup, q, nil)
	mustOK(t, setup.QueueBind(q, "k", x, false, nil), "queue.bind")

	for _, tc := range []struct {
		name string
		call func(ch *channel) error
		code int
		text string
	}{
		{"reserved-prefix", func(ch *channel) error {
			return ch.ExchangeDeclare("amq.e2e-reserved", "direct", false, false, false, false, nil)
		}, codeAccessRefused, "ACCESS_REFUSED - exchange name 'amq.e2e-reserved' contains reserved prefix 'amq.*'"},
		{"passive-missing", func(ch *channel) error {
			return ch.ExchangeDeclarePassive(x+".missing", "direct", false, false, false, false, nil)
		}, codeNotFound, "NOT_FOUND - no exchange '" + x + ".missing' in vhost '/'"},
		{"other-type", func(ch *channel) error {
			return ch.ExchangeDeclare(x, "fanout", false, false, false, false, nil)
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '" + x + "' in vhost '/': received 'fanout' but current is 'direct'"},
		{"other-durable", func(ch *channel) error {
			return ch.ExchangeDeclare(x, "direct", true, false, false, false, nil)
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '" + x + "' in vhost '/': received 'true' but current is 'false'"},
		{"other-auto-delete", func(ch *channel) error {
			return ch.ExchangeDeclare(x, "direct", false, true, false, false, nil)
		}, codePreconditionFail, "PRECONDITION_FAILED - inequivalent arg 'auto_delete' for exchange '" + x + "' in vhost '/': received 'true' but current is 'false'"},
		{"delete-if-unused", func(ch *channel) error {
			return ch.ExchangeDelete(x, true, false)
		}, codePreconditionFail, "PRECONDITION_FAILED - exchange '" + x + "' in vhost '/' in use"},
		{"delete-system", func(ch *channel) error {
			return ch.ExchangeDelete("amq.direct", false, false)
		}, codeAccessRefused, "ACCESS_REFUSED - deletion of system exchange 'amq.direct' in vhost '/' not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := c.channel(t)
			expectChannelError(t, ch, tc.call(ch), tc.code, tc.text)
		})
	}
	// The exchange survived the failed delete.
	mustOK(t, setup.ExchangeDeclarePassive(x, "direct", false, false, false, false, nil), "passive declare")
}

// TestUnknownExchangeType: RabbitMQ 4 answers an unknown exchange type
// with a channel error 406 (3.x closed the connection with 503).
func TestUnknownExchangeType(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x closes the connection with 503 COMMAND_INVALID")
	_, ch := open(t)
	err := ch.ExchangeDeclare(name(t, ""), "e2e-nonsense", false, false, false, false, nil)
	expectChannelError(t, ch, err, codePreconditionFail, "PRECONDITION_FAILED - unknown exchange type 'e2e-nonsense'")
}

// TestExchangeToExchange: a message published to a source exchange reaches
// queues bound to a destination exchange; with a cycle it is still
// delivered once per queue.
func TestExchangeToExchange(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	src, dst := name(t, "src"), name(t, "dst")
	declareExchange(t, ch, src, "topic", nil)
	declareExchange(t, ch, dst, "direct", nil)
	q := name(t, "q")
	declareQueue(t, ch, q, nil)
	mustOK(t, ch.QueueBind(q, "k.1", dst, false, nil), "queue.bind")
	mustOK(t, ch.ExchangeBind(dst, "k.*", src, false, nil), "exchange.bind")
	// A cycle: dst routes everything back to src.
	mustOK(t, ch.ExchangeBind(src, "k.1", dst, false, nil), "exchange.bind back")

	publish(t, ch, src, "k.1", text("once"))
	publish(t, ch, src, "k.2", text("nowhere"))
	publish(t, ch, dst, "k.1", text("direct"))
	d := consume(t, ch, q, true, nil)
	equalStrings(t, "bodies", bodies(consumeN(t, d, 2, waitFor)), []string{"once", "direct"})
	expectNoDelivery(t, d)

	mustOK(t, ch.ExchangeUnbind(dst, "k.*", src, false, nil), "exchange.unbind")
	publish(t, ch, src, "k.1", text("after-unbind"))
	expectNoDelivery(t, d)
}

// TestAlternateExchange: what the exchange cannot route goes to its
// alternate exchange, and a mandatory publish routed there is not returned.
func TestAlternateExchange(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	ae, x := name(t, "ae"), name(t, "x")
	declareExchange(t, ch, ae, "fanout", nil)
	declareExchange(t, ch, x, "direct", amqp.Table{"alternate-exchange": ae})
	qx, qae := name(t, "qx"), name(t, "qae")
	declareQueue(t, ch, qx, nil)
	declareQueue(t, ch, qae, nil)
	mustOK(t, ch.QueueBind(qx, "known", x, false, nil), "bind")
	mustOK(t, ch.QueueBind(qae, "", ae, false, nil), "bind")
	returns := ch.NotifyReturn(make(chan amqp.Return, 4))

	publish(t, ch, x, "known", text("routed"))
	mustOK(t, ch.Publish(x, "unknown", true, false, text("to-ae")), "publish")
	equalStrings(t, "qx", bodies(getN(t, ch, qx, 1, true)), []string{"routed"})
	equalStrings(t, "qae", bodies(getN(t, ch, qae, 1, true)), []string{"to-ae"})
	select {
	case r := <-returns:
		t.Fatalf("message routed via the alternate exchange was returned: %d %s", r.ReplyCode, r.ReplyText)
	case <-time.After(quietFor): // bounded: a return would have come by now
	}
}

// TestCCAndBCC: CC and BCC headers add routing keys; BCC is removed from
// the delivered message, CC is kept.
func TestCCAndBCC(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	x := name(t, "x")
	declareExchange(t, ch, x, "direct", nil)
	qs := map[string]string{"k1": name(t, "q1"), "k2": name(t, "q2"), "k3": name(t, "q3")}
	for k, q := range qs {
		declareQueue(t, ch, q, nil)
		mustOK(t, ch.QueueBind(q, k, x, false, nil), "bind")
	}
	publish(t, ch, x, "k1", amqp.Publishing{
		Headers: amqp.Table{"CC": []interface{}{"k2"}, "BCC": []interface{}{"k3"}, "other": "kept"},
		Body:    []byte("m"),
	})
	for k, q := range qs {
		d := getN(t, ch, q, 1, true)[0]
		if string(d.Body) != "m" || d.RoutingKey != "k1" {
			t.Fatalf("%s got %q with routing key %q, want m via k1", k, d.Body, d.RoutingKey)
		}
		if _, ok := d.Headers["BCC"]; ok {
			t.Fatalf("%s: BCC header delivered: %v", k, d.Headers)
		}
		cc, ok := d.Headers["CC"].([]interface{})
		if !ok || len(cc) != 1 || cc[0] != "k2" || d.Headers["other"] != "kept" {
			t.Fatalf("%s: headers %v, want CC [k2] and other=kept", k, d.Headers)
		}
	}
}

// TestInternalExchange: publishing to an internal exchange is refused with
// 403, but it routes what reaches it through an exchange binding.
func TestInternalExchange(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	xi, x := name(t, "internal"), name(t, "x")
	mustOK(t, ch.ExchangeDeclare(xi, "fanout", false, false, true, false, nil), "declare internal")
	t.Cleanup(func() { deleteExchange(xi) })
	declareExchange(t, ch, x, "fanout", nil)
	mustOK(t, ch.ExchangeBind(xi, "", x, false, nil), "exchange.bind")
	q := name(t, "q")
	declareQueue(t, ch, q, nil)
	mustOK(t, ch.QueueBind(q, "", xi, false, nil), "bind")
	publish(t, ch, x, "", text("via-binding"))
	equalStrings(t, "bodies", bodies(getN(t, ch, q, 1, true)), []string{"via-binding"})

	publish(t, ch, xi, "", text("direct"))
	expectChannelClose(t, ch, codeAccessRefused, "ACCESS_REFUSED - cannot publish to internal exchange '"+xi+"' in vhost '/'")
}

// TestAutoDeleteExchange: an auto-delete exchange lives until its last
// binding is removed, then it is gone.
func TestAutoDeleteExchange(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	x := name(t, "x")
	mustOK(t, ch.ExchangeDeclare(x, "direct", false, true, false, false, nil), "declare")
	t.Cleanup(func() { deleteExchange(x) })
	q1, q2 := name(t, "q1"), name(t, "q2")
	declareQueue(t, ch, q1, nil)
	declareQueue(t, ch, q2, nil)
	mustOK(t, ch.QueueBind(q1, "a", x, false, nil), "bind")
	mustOK(t, ch.QueueBind(q2, "b", x, false, nil), "bind")
	mustOK(t, ch.QueueUnbind(q1, "a", x, nil), "unbind")
	mustOK(t, ch.ExchangeDeclarePassive(x, "direct", false, true, false, false, nil), "exchange with one binding left")
	mustOK(t, ch.QueueUnbind(q2, "b", x, nil), "unbind")
	err := ch.ExchangeDeclarePassive(x, "direct", false, true, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")
	_ = c
}

// TestHeadersBindingErrors: a headers binding with an x-match other than
// all, any, all-with-x or any-with-x is refused with 406.
func TestHeadersBindingErrors(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	x, q := name(t, "x"), name(t, "q")
	declareExchange(t, ch, x, "headers", nil)
	declareQueue(t, ch, q, nil)
	err := ch.QueueBind(q, "", x, false, amqp.Table{"x-match": "most"})
	expectChannelError(t, ch, err, codePreconditionFail,
		`PRECONDITION_FAILED - Invalid x-match field value <<"most">>; expected all, any, all-with-x, or any-with-x`)
	ch = c.channel(t)
	err = ch.QueueBind(q, "", x, false, amqp.Table{"x-match": int32(1)})
	expectChannelError(t, ch, err, codePreconditionFail,
		`PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr`)
}

// TestTopicEdgeCases: empty routing keys and empty words. An empty key has
// no words: "#" matches it, "*" does not; "a..b" has an empty middle word
// that "*" matches.
func TestTopicEdgeCases(t *testing.T) {
	t.Parallel()
	checkRouting(t, "topic", nil,
		map[string][]string{
			"hash":      {"#"},
			"star":      {"*"},
			"empty":     {""},
			"a-star-b":  {"a.*.b"},
			"a-hash-b":  {"a.#.b"},
			"star-star": {"*.*"},
			"hash-star": {"#.*"},
		},
		[]routedMsg{{key: "", body: "empty"}, {key: "a..b", body: "a..b"}, {key: ".", body: "dot"}, {key: "w", body: "w"}},
		map[string][]string{
			"hash":      {"empty", "a..b", "dot", "w"},
			"star":      {"w"},
			"empty":     {"empty"},
			"a-star-b":  {"a..b"},
			"a-hash-b":  {"a..b"},
			"star-star": {"dot"},
			"hash-star": {"a..b", "dot", "w"},
		})
}

// TestDeleteRemovesBindings: deleting an exchange or a queue removes its
// bindings; redeclaring either does not bring them back.
func TestDeleteRemovesBindings(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	x, q, marker := name(t, "x"), name(t, "q"), name(t, "marker")
	declareExchange(t, ch, x, "fanout", nil)
	declareQueue(t, ch, q, nil)
	declareQueue(t, ch, marker, nil)
	mustOK(t, ch.QueueBind(q, "", x, false, nil), "bind")
	mustOK(t, ch.QueueBind(marker, "", x, false, nil), "bind marker")

	mustOK(t, ch.ExchangeDelete(x, false, false), "delete exchange")
	mustOK(t, ch.ExchangeDeclare(x, "fanout", false, false, false, false, nil), "redeclare exchange")
	mustOK(t, ch.QueueBind(marker, "", x, false, nil), "rebind marker")
	publish(t, ch, x, "", text("after exchange delete"))
	getN(t, ch, marker, 1, true)
	expectCount(t, ch, q, 0)

	mustOK(t, ch.QueueBind(q, "", x, false, nil), "bind again")
	_, err := ch.QueueDelete(q, false, false, false)
	mustOK(t, err, "delete queue")
	declareQueue(t, ch, q, nil)
	publish(t, ch, x, "", text("after queue delete"))
	getN(t, ch, marker, 1, true)
	expectCount(t, ch, q, 0)
}

// TestAlternateExchangeUnroutable: when the alternate exchange cannot
// route either, a mandatory message is returned 312.
func TestAlternateExchangeUnroutable(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	ae, x := name(t, "ae"), name(t, "x")
	declareExchange(t, ch, ae, "direct", nil)
	declareExchange(t, ch, x, "direct", amqp.Table{"alternate-exchange": ae})
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	mustOK(t, ch.Publish(x, "k", true, false, text("lost")), "publish")
	select {
	case r := <-returns:
		if r.ReplyCode != codeNoRoute || r.ReplyText != "NO_ROUTE" || r.Exchange != x || r.RoutingKey != "k" {
			t.Fatalf("return %d %q %q %q", r.ReplyCode, r.ReplyText, r.Exchange, r.RoutingKey)
		}
	case <-time.After(waitFor):
		t.Fatal("no basic.return")
	}
}

// TestAutoDeleteExchangeCascade: an auto-delete exchange also goes when
// its last binding disappears because the bound queue was deleted, or
// because its last exchange-to-exchange binding was removed.
func TestAutoDeleteExchangeCascade(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	x, q := name(t, "x"), name(t, "q")
	mustOK(t, ch.ExchangeDeclare(x, "fanout", false, true, false, false, nil), "declare")
	t.Cleanup(func() { deleteExchange(x) })
	declareQueue(t, ch, q, nil)
	mustOK(t, ch.QueueBind(q, "", x, false, nil), "bind")
	_, err := ch.QueueDelete(q, false, false, false)
	mustOK(t, err, "delete queue")
	err = ch.ExchangeDeclarePassive(x, "fanout", false, true, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no exchange '"+x+"' in vhost '/'")

	ch = c.channel(t)
	src, dst := name(t, "src"), name(t, "dst")
	mustOK(t, ch.ExchangeDeclare(src, "fanout", false, true, false, false, nil), "declare")
	t.Cleanup(func() { deleteExchange(src) })
	declareExchange(t, ch, dst, "fanout", nil)
	mustOK(t, ch.ExchangeBind(dst, "", src, false, nil), "exchange.bind")
	mustOK(t, ch.ExchangeUnbind(dst, "", src, false, nil), "exchange.unbind")
	err = ch.ExchangeDeclarePassive(src, "fanout", false, true, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no exchange '"+src+"' in vhost '/'")
}

// TestAlternateExchangeViaBinding: an exchange reached through an
// exchange-to-exchange binding that cannot route uses its own alternate
// exchange.
func TestAlternateExchangeViaBinding(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	src, mid, ae := name(t, "src"), name(t, "mid"), name(t, "ae")
	declareExchange(t, ch, ae, "fanout", nil)
	declareExchange(t, ch, src, "fanout", nil)
	declareExchange(t, ch, mid, "direct", amqp.Table{"alternate-exchange": ae})
	mustOK(t, ch.ExchangeBind(mid, "", src, false, nil), "exchange.bind")
	qmid, qae := name(t, "qmid"), name(t, "qae")
	declareQueue(t, ch, qmid, nil)
	declareQueue(t, ch, qae, nil)
	mustOK(t, ch.QueueBind(qmid, "known", mid, false, nil), "bind")
	mustOK(t, ch.QueueBind(qae, "", ae, false, nil), "bind")
	publish(t, ch, src, "known", text("routed"))
	publish(t, ch, src, "unknown", text("alternate"))
	equalStrings(t, "mid", bodies(getN(t, ch, qmid, 1, true)), []string{"routed"})
	equalStrings(t, "ae", bodies(getN(t, ch, qae, 1, true)), []string{"alternate"})
	expectCount(t, ch, qae, 0)
}
