package e2e

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// deathWant is one expected x-death entry.
type deathWant struct {
	count       int64
	reason      string
	queue       string
	exchange    string
	routingKeys []string
	origExpiry  string // original-expiration, "" when absent
}

// checkDeaths asserts the x-death header and the x-first-death-* (and, on
// RabbitMQ 4, x-last-death-*) headers of a dead-lettered delivery exactly
// as RabbitMQ writes them. since bounds the time field.
func checkDeaths(t *testing.T, d amqp.Delivery, since time.Time, want []deathWant, first, last deathWant) {
	t.Helper()
	deaths, ok := d.Headers["x-death"].([]interface{})
	if !ok || len(deaths) != len(want) {
		t.Fatalf("x-death = %#v, want %d entries", d.Headers["x-death"], len(want))
	}
	for i, w := range want {
		e, ok := deaths[i].(amqp.Table)
		if !ok {
			t.Fatalf("x-death[%d] = %#v, not a table", i, deaths[i])
		}
		keys := []string{"count", "reason", "queue", "time", "exchange", "routing-keys"}
		if w.origExpiry != "" {
			keys = append(keys, "original-expiration")
			if e["original-expiration"] != w.origExpiry {
				t.Errorf("x-death[%d] original-expiration = %#v, want %q", i, e["original-expiration"], w.origExpiry)
			}
		}
		if len(e) != len(keys) {
			t.Errorf("x-death[%d] has fields %v, want exactly %v", i, e, keys)
		}
		if e["count"] != w.count {
			t.Errorf("x-death[%d] count = %#v (%T), want int64 %d", i, e["count"], e["count"], w.count)
		}
		if e["reason"] != w.reason || e["queue"] != w.queue || e["exchange"] != w.exchange {
			t.Errorf("x-death[%d] reason/queue/exchange = %#v/%#v/%#v, want %q/%q/%q",
				i, e["reason"], e["queue"], e["exchange"], w.reason, w.queue, w.exchange)
		}
		rks, _ := e["routing-keys"].([]interface{})
		var got []string
		for _, k := range rks {
			s, _ := k.(string)
			got = append(got, s)
		}
		equalStrings(t, "x-death routing-keys", got, w.routingKeys)
		ts, ok := e["time"].(time.Time)
		if !ok {
			t.Errorf("x-death[%d] time = %#v (%T), want a timestamp", i, e["time"], e["time"])
		} else if ts.Before(since.Truncate(time.Second)) || ts.After(time.Now().Add(time.Second)) {
			t.Errorf("x-death[%d] time = %s, want between %s and now", i, ts, since)
		}
	}
	for k, v := range map[string]string{
		"x-first-death-reason": first.reason, "x-first-death-queue": first.queue, "x-first-death-exchange": first.exchange,
	} {
		if d.Headers[k] != v {
			t.Errorf("%s = %#v, want %q", k, d.Headers[k], v)
		}
	}
	if isRabbit3(t) {
		return // x-last-death-* arrived in RabbitMQ 3.13
	}
	for k, v := range map[string]string{
		"x-last-death-reason": last.reason, "x-last-death-queue": last.queue, "x-last-death-exchange": last.exchange,
	} {
		if d.Headers[k] != v {
			t.Errorf("%s = %#v, want %q", k, d.Headers[k], v)
		}
	}
}

// dlxSetup declares a fanout dead-letter exchange with one queue bound and
// returns the exchange name, the queue name and a consumer on it.
func dlxSetup(t *testing.T, ch *channel) (string, string, <-chan amqp.Delivery) {
	t.Helper()
	dlx, dlq := name(t, "dlx"), name(t, "dlq")
	declareExchange(t, ch, dlx, "fanout", nil)
	declareQueue(t, ch, dlq, nil)
	mustOK(t, ch.QueueBind(dlq, "", dlx, false, nil), "bind dlq")
	return dlx, dlq, consume(t, ch, dlq, true, nil)
}

// TestDeadLetterRejected: messages rejected or nacked without requeue go
// to the dead-letter exchange with reason "rejected".
func TestDeadLetterRejected(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	dlx, _, dead := dlxSetup(t, ch)
	q := name(t, "q")
	declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx})
	since := time.Now()
	work := c.channel(t)
	publish(t, work, "", q, amqp.Publishing{Body: []byte("r1"), Headers: amqp.Table{"keep": "me"}})
	publish(t, work, "", q, text("r2"))
	ds := getN(t, work, q, 2, false)
	mustOK(t, work.Reject(ds[0].DeliveryTag, false), "reject")
	mustOK(t, work.Nack(ds[1].DeliveryTag, false, false), "nack")
	got := consumeN(t, dead, 2, waitFor)
	equalStrings(t, "dead-lettered", bodies(got), []string{"r1", "r2"})
	death := deathWant{count: 1, reason: "rejected", queue: q, exchange: "", routingKeys: []string{q}}
	for _, d := range got {
		checkDeaths(t, d, since, []deathWant{death}, death, death)
		if d.RoutingKey != q || d.Exchange != dlx {
			t.Errorf("delivered via %q/%q, want %q/%q", d.Exchange, d.RoutingKey, dlx, q)
		}
	}
	if got[0].Headers["keep"] != "me" {
		t.Errorf("original headers lost: %v", got[0].Headers)
	}
	// Requeued rejections are not dead-lettered.
	publish(t, work, "", q, text("r3"))
	d := getN(t, work, q, 1, false)[0]
	mustOK(t, work.Reject(d.DeliveryTag, true), "reject requeue")
	expectNoDelivery(t, dead)
}

// TestDeadLetterRoutingKey: x-dead-letter-routing-key replaces the routing
// key; x-death still records the original one.
func TestDeadLetterRoutingKey(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	dlx, dlq := name(t, "dlx"), name(t, "dlq")
	declareExchange(t, ch, dlx, "direct", nil)
	declareQueue(t, ch, dlq, nil)
	mustOK(t, ch.QueueBind(dlq, "dead", dlx, false, nil), "bind")
	x := name(t, "x")
	declareExchange(t, ch, x, "direct", nil)
	q := name(t, "q")
	declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "dead"})
	mustOK(t, ch.QueueBind(q, "orig", x, false, nil), "bind")
	since := time.Now()
	publish(t, ch, x, "orig", text("m"))
	d := getN(t, ch, q, 1, false)[0]
	mustOK(t, ch.Reject(d.DeliveryTag, false), "reject")
	got := getN(t, ch, dlq, 1, true)[0]
	if got.RoutingKey != "dead" {
		t.Fatalf("dead-lettered with routing key %q, want dead", got.RoutingKey)
	}
	death := deathWant{count: 1, reason: "rejected", queue: q, exchange: x, routingKeys: []string{"orig"}}
	checkDeaths(t, got, since, []deathWant{death}, death, death)
}

// TestDeadLetterExpired: messages that expire (queue TTL or per-message
// expiration) are dead-lettered with reason "expired"; a per-message
// expiration is recorded as original-expiration and removed.
func TestDeadLetterExpired(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	dlx, _, dead := dlxSetup(t, ch)
	qttl, qplain := name(t, "ttl"), name(t, "plain")
	declareQueue(t, ch, qttl, amqp.Table{"x-dead-letter-exchange": dlx, "x-message-ttl": int32(50)})
	declareQueue(t, ch, qplain, amqp.Table{"x-dead-letter-exchange": dlx})
	since := time.Now()
	publish(t, ch, "", qttl, text("queue-ttl"))
	got := consumeN(t, dead, 1, waitFor)[0]
	death := deathWant{count: 1, reason: "expired", queue: qttl, exchange: "", routingKeys: []string{qttl}}
	checkDeaths(t, got, since, []deathWant{death}, death, death)

	publish(t, ch, "", qplain, amqp.Publishing{Body: []byte("msg-ttl"), Expiration: "40"})
	d := consumeN(t, dead, 1, waitFor)[0]
	if string(d.Body) != "msg-ttl" || d.Expiration != "" {
		t.Fatalf("dead-lettered %q with expiration %q, want msg-ttl without expiration", d.Body, d.Expiration)
	}
	death = deathWant{count: 1, reason: "expired", queue: qplain, exchange: "", routingKeys: []string{qplain}, origExpiry: "40"}
	checkDeaths(t, d, since, []deathWant{death}, death, death)
}

// TestDeadLetterMaxLen: with drop-head overflow the dropped messages are
// dead-lettered with reason "maxlen"; with reject-publish-dlx the refused
// publish is nacked and dead-lettered.
func TestDeadLetterMaxLen(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	dlx, _, dead := dlxSetup(t, ch)
	qhead, qrej := name(t, "head"), name(t, "rejdlx")
	declareQueue(t, ch, qhead, amqp.Table{"x-dead-letter-exchange": dlx, "x-max-length": int32(1)})
	declareQueue(t, ch, qrej, amqp.Table{"x-dead-letter-exchange": dlx, "x-max-length": int32(1), "x-overflow": "reject-publish-dlx"})
	since := time.Now()
	publish(t, ch, "", qhead, text("old"))
	publish(t, ch, "", qhead, text("new"))
	got := consumeN(t, dead, 1, waitFor)[0]
	if string(got.Body) != "old" {
		t.Fatalf("dead-lettered %q, want the head (old)", got.Body)
	}
	death := deathWant{count: 1, reason: "maxlen", queue: qhead, exchange: "", routingKeys: []string{qhead}}
	checkDeaths(t, got, since, []deathWant{death}, death, death)
	equalStrings(t, "kept", bodies(getN(t, ch, qhead, 1, true)), []string{"new"})

	cch, confirms := confirmChannel(t, c)
	publish(t, cch, "", qrej, text("first"))
	publish(t, cch, "", qrej, text("refused"))
	c1, c2 := nextConfirm(t, confirms), nextConfirm(t, confirms)
	if !c1.Ack || c2.Ack {
		t.Fatalf("confirms ack=%v,%v, want ack then nack", c1.Ack, c2.Ack)
	}
	got = consumeN(t, dead, 1, waitFor)[0]
	if string(got.Body) != "refused" {
		t.Fatalf("dead-lettered %q, want the refused publish", got.Body)
	}
	death = deathWant{count: 1, reason: "maxlen", queue: qrej, exchange: "", routingKeys: []string{qrej}}
	checkDeaths(t, got, since, []deathWant{death}, death, death)
	equalStrings(t, "kept", bodies(getN(t, ch, qrej, 1, true)), []string{"first"})
}

// TestDeadLetterCount: a message dead-lettered again from the same queue
// for the same reason bumps that entry's count; a new queue adds an
// entry in front, and x-first-death-* keeps the first.
func TestDeadLetterCount(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q, retry := name(t, "work"), name(t, "retry")
	// work dead-letters to retry; retry dead-letters back to work.
	declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": retry})
	declareQueue(t, ch, retry, amqp.Table{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q})
	since := time.Now()
	publish(t, ch, "", q, text("m"))
	for i := 0; i < 2; i++ {
		d := getN(t, ch, q, 1, false)[0]
		mustOK(t, ch.Reject(d.DeliveryTag, false), "reject from work")
		d = getN(t, ch, retry, 1, false)[0]
		mustOK(t, ch.Reject(d.DeliveryTag, false), "reject from retry")
	}
	d := getN(t, ch, q, 1, true)[0]
	first := deathWant{reason: "rejected", queue: q, exchange: ""}
	last := deathWant{reason: "rejected", queue: retry, exchange: ""}
	checkDeaths(t, d, since, []deathWant{
		{count: 2, reason: "rejected", queue: retry, exchange: "", routingKeys: []string{retry}},
		{count: 2, reason: "rejected", queue: q, exchange: "", routingKeys: []string{q}},
	}, first, last)
}

// TestDeadLetterCycleDropped: a message that expires in a queue whose
// dead-letter target is that same queue is dropped instead of cycling
// forever; a missing dead-letter exchange drops silently too.
func TestDeadLetterCycleDropped(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	q := name(t, "cycle")
	declareQueue(t, ch, q, amqp.Table{"x-message-ttl": int32(30), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": q})
	cch, confirms := confirmChannel(t, c)
	publish(t, cch, "", q, text("round and round"))
	waitConfirms(t, confirms, 1)
	waitMessages(t, ch, q, 0)
	// Bounded wait: a cycling message would keep reappearing.
	d := consume(t, ch, q, true, nil)
	expectNoDelivery(t, d)

	missing := name(t, "to-missing")
	declareQueue(t, ch, missing, amqp.Table{"x-dead-letter-exchange": name(t, "no-such-dlx")})
	publish(t, ch, "", missing, text("m"))
	m := getN(t, ch, missing, 1, false)[0]
	mustOK(t, ch.Reject(m.DeliveryTag, false), "reject")
	expectCount(t, ch, missing, 0)
	expectOpen(t, ch)
}

// TestDeadLetterWithCC: without a dead-letter routing key a message is
// dead-lettered with all its routing keys, CC included, and x-death lists
// them.
func TestDeadLetterWithCC(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	dlx, side := name(t, "dlx"), name(t, "side")
	declareExchange(t, ch, dlx, "direct", nil)
	declareQueue(t, ch, side, nil)
	mustOK(t, ch.QueueBind(side, "cc-key", dlx, false, nil), "bind side")
	x, q := name(t, "x"), name(t, "q")
	declareExchange(t, ch, x, "direct", nil)
	declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx})
	mustOK(t, ch.QueueBind(q, "main", x, false, nil), "bind")
	since := time.Now()
	publish(t, ch, x, "main", amqp.Publishing{Headers: amqp.Table{"CC": []interface{}{"cc-key"}}, Body: []byte("m")})
	d := getN(t, ch, q, 1, false)[0]
	mustOK(t, ch.Reject(d.DeliveryTag, false), "reject")
	got := getN(t, ch, side, 1, true)[0]
	death := deathWant{count: 1, reason: "rejected", queue: q, exchange: x, routingKeys: []string{"main", "cc-key"}}
	checkDeaths(t, got, since, []deathWant{death}, death, death)
}

// TestDeadLetterBCCNotRecorded: BCC keys route the original publish but
// are neither delivered nor recorded in x-death.
func TestDeadLetterBCCNotRecorded(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	dlx, dlq := name(t, "dlx"), name(t, "dlq")
	declareExchange(t, ch, dlx, "fanout", nil)
	declareQueue(t, ch, dlq, nil)
	mustOK(t, ch.QueueBind(dlq, "", dlx, false, nil), "bind")
	x, q := name(t, "x"), name(t, "q")
	declareExchange(t, ch, x, "direct", nil)
	declareQueue(t, ch, q, amqp.Table{"x-dead-letter-exchange": dlx})
	mustOK(t, ch.QueueBind(q, "bcc-key", x, false, nil), "bind")
	since := time.Now()
	publish(t, ch, x, "main", amqp.Publishing{Headers: amqp.Table{"BCC": []interface{}{"bcc-key"}}, Body: []byte("m")})
	d := getN(t, ch, q, 1, false)[0]
	if _, ok := d.Headers["BCC"]; ok {
		t.Fatalf("BCC delivered: %v", d.Headers)
	}
	mustOK(t, ch.Reject(d.DeliveryTag, false), "reject")
	got := getN(t, ch, dlq, 1, true)[0]
	death := deathWant{count: 1, reason: "rejected", queue: q, exchange: x, routingKeys: []string{"main"}}
	checkDeaths(t, got, since, []deathWant{death}, death, death)
}
