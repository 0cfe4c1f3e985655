package e2e

import (
	"errors"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestDurableRestart: across a broker restart durable exchanges, durable
// queues, their bindings and persistent messages survive; transient
// queues, transient exchanges and non-persistent messages do not.
func TestDurableRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	url, stop := ownBrokerStop(t, warrenOptions{DataDir: dir})
	c := dialURL(t, url, amqp.Config{})
	ch := c.channel(t)
	mustOK(t, ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 16))
	x, tx := name(t, "x"), name(t, "transient-x")
	q, tq := name(t, "q"), name(t, "transient-q")
	mustOK(t, ch.ExchangeDeclare(x, "direct", true, false, false, false, nil), "durable exchange")
	mustOK(t, ch.ExchangeDeclare(tx, "direct", false, false, false, false, nil), "transient exchange")
	_, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-message-ttl": int32(600000)})
	mustOK(t, err, "durable queue")
	_, err = ch.QueueDeclare(tq, false, false, false, false, nil)
	mustOK(t, err, "transient queue")
	mustOK(t, ch.QueueBind(q, "k", x, false, nil), "bind")
	publish(t, ch, x, "k", amqp.Publishing{DeliveryMode: amqp.Persistent, MessageId: "p1", Body: []byte("persistent-1")})
	publish(t, ch, x, "k", amqp.Publishing{DeliveryMode: amqp.Transient, Body: []byte("transient")})
	publish(t, ch, x, "k", amqp.Publishing{DeliveryMode: amqp.Persistent, Headers: amqp.Table{"h": "v"}, Body: []byte("persistent-2")})
	if acked := waitConfirms(t, confirms, 3); acked != 3 {
		t.Fatalf("%d of 3 publishes acked", acked)
	}
	// One persistent message is delivered but not acked at shutdown: it
	// must survive too, flagged redelivered.
	d := getN(t, ch, q, 1, false)[0]
	if string(d.Body) != "persistent-1" {
		t.Fatalf("got %q first", d.Body)
	}
	stop()

	url, _ = ownBrokerStop(t, warrenOptions{DataDir: dir})
	c = dialURL(t, url, amqp.Config{})
	ch = c.channel(t)
	got, err := ch.QueueDeclarePassive(q, true, false, false, false, amqp.Table{"x-message-ttl": int32(600000)})
	mustOK(t, err, "durable queue after restart")
	if got.Messages != 2 {
		t.Fatalf("durable queue holds %d messages after restart, want the 2 persistent ones", got.Messages)
	}
	// Its arguments survived: an inequivalent redeclare is refused.
	probe := c.channel(t)
	_, err = probe.QueueDeclare(q, true, false, false, false, nil)
	var e *amqp.Error
	if !errors.As(err, &e) || e.Code != codePreconditionFail {
		t.Fatalf("redeclare without x-message-ttl after restart: %v, want 406", err)
	}
	ds := getN(t, ch, q, 2, true)
	equalStrings(t, "survivors", bodies(ds), []string{"persistent-1", "persistent-2"})
	if ds[0].MessageId != "p1" || ds[1].Headers["h"] != "v" || ds[1].DeliveryMode != amqp.Persistent {
		t.Fatalf("properties lost: %+v / %+v", ds[0].MessageId, ds[1].Headers)
	}
	if !ds[0].Redelivered {
		t.Fatal("the message unacked at shutdown is not flagged redelivered")
	}
	mustOK(t, ch.ExchangeDeclarePassive(x, "direct", true, false, false, false, nil), "durable exchange after restart")
	publish(t, ch, x, "k", text("binding survived"))
	equalStrings(t, "via binding", bodies(getN(t, ch, q, 1, true)), []string{"binding survived"})

	ch2 := c.channel(t)
	_, err = ch2.QueueDeclarePassive(tq, false, false, false, false, nil)
	expectChannelError(t, ch2, err, codeNotFound, "NOT_FOUND - no queue '"+tq+"' in vhost '/'")
	ch3 := c.channel(t)
	err = ch3.ExchangeDeclarePassive(tx, "direct", false, false, false, false, nil)
	expectChannelError(t, ch3, err, codeNotFound, "NOT_FOUND - no exchange '"+tx+"' in vhost '/'")
}
