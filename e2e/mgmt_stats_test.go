package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// queueJSON GETs one queue of vhost "/" as the API shows it.
func queueJSON(admin *apiClient, q string) map[string]any {
	var v map[string]any
	admin.getJSON("/api/queues/%2F/"+url.PathEscape(q), &v)
	return v
}

// TestMgmtQueuePolicyFields: a queue's policy, operator_policy and
// effective_policy_definition name the policies in force and merge their
// definitions (the operator's max-length, the lower, wins), in the
// listing and for the queue alone; a queue no policy matches has null,
// null and {}.
func TestMgmtQueuePolicyFields(t *testing.T) {
	admin := mgmtSetup(t)
	_, ch := open(t)
	matched, other := name(t, "matched"), name(t, "other")
	for _, q := range []string{matched, other} {
		declareQueue(t, ch, q, nil)
		t.Cleanup(func() { deleteQueue(q) })
	}
	pattern := "^" + matched + "$"
	const pol, opPol = "/api/policies/%2F/e2e-stats-pol", "/api/operator-policies/%2F/e2e-stats-op"
	t.Cleanup(func() { admin.do("DELETE", pol, nil); admin.do("DELETE", opPol, nil) })
	admin.must(http.StatusCreated, "PUT", pol, map[string]any{"pattern": pattern, "apply-to": "queues",
		"definition": map[string]any{"max-length": 10, "message-ttl": 60000}})
	admin.must(http.StatusCreated, "PUT", opPol, map[string]any{"pattern": pattern, "apply-to": "queues",
		"definition": map[string]any{"max-length": 3}})

	wantMatched := `{"max-length":3,"message-ttl":60000}`
	check := func(q map[string]any, wantPol, wantOp any, wantDef string) bool {
		def, _ := json.Marshal(q["effective_policy_definition"])
		return q["policy"] == wantPol && q["operator_policy"] == wantOp && string(def) == wantDef
	}
	// RabbitMQ applies policies asynchronously: poll.
	mgmtWait(t, "the policies on the queue", func() bool {
		return check(queueJSON(admin, matched), "e2e-stats-pol", "e2e-stats-op", wantMatched)
	})
	if q := queueJSON(admin, other); !check(q, nil, nil, "{}") {
		t.Fatalf("unmatched queue: policy %v, operator_policy %v, effective %v", q["policy"], q["operator_policy"], q["effective_policy_definition"])
	}
	var list []map[string]any
	admin.getJSON("/api/queues/%2F?columns=name,policy,operator_policy,effective_policy_definition", &list)
	seen := 0
	for _, q := range list {
		switch q["name"] {
		case matched:
			seen++
			if !check(q, "e2e-stats-pol", "e2e-stats-op", wantMatched) {
				t.Errorf("listed %s = %v", matched, q)
			}
		case other:
			seen++
			if !check(q, nil, nil, "{}") {
				t.Errorf("listed %s = %v", other, q)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("listing held %d of the 2 queues", seen)
	}
	admin.must(http.StatusNoContent, "DELETE", opPol, nil)
	mgmtWait(t, "the operator policy to be gone", func() bool {
		return check(queueJSON(admin, matched), "e2e-stats-pol", nil, `{"max-length":10,"message-ttl":60000}`)
	})
}

// statsWait polls cond for up to 30 s: RabbitMQ's figures lag by its
// 5 s statistics interval, and a rate needs two samples.
func statsWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// num reads a number at a dotted path of a decoded JSON object (-1 when
// it is missing).
func num(v map[string]any, path string) float64 {
	var cur any = v
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return -1
		}
		cur = m[k]
	}
	if f, ok := cur.(float64); ok {
		return f
	}
	return -1
}

// findBy returns the object of a list whose key has value want.
func findBy(list []map[string]any, key string, want any) map[string]any {
	for _, it := range list {
		if it[key] == want {
			return it
		}
	}
	return nil
}

// TestMgmtMessageStats: a queue, its exchange, the publishing and the
// consuming channels and the connection count exactly what clients did
// (5 confirmed publishes through an exchange, 2 basic.get with ack, 3
// deliveries acked, 1 basic.get-empty), each figure with its rate.
func TestMgmtMessageStats(t *testing.T) {
	admin := mgmtSetup(t)
	pubConn := dialConfig(t, amqp.Config{Properties: amqp.Table{"connection_name": "e2e-stats-pub"}})
	pub := pubConn.channel(t)
	q, x := name(t, "q"), name(t, "x")
	declareQueue(t, pub, q, nil)
	declareExchange(t, pub, x, "direct", nil)
	t.Cleanup(func() { deleteQueue(q); deleteExchange(x) })
	mustOK(t, pub.QueueBind(q, "k", x, false, nil), "queue.bind")
	mustOK(t, pub.Confirm(false), "confirm.select")
	confirms := pub.NotifyPublish(make(chan amqp.Confirmation, 5))
	for i := range 5 {
		publish(t, pub, x, "k", text(fmt.Sprint(i)))
	}
	for range 5 {
		if c := <-confirms; !c.Ack {
			t.Fatalf("publish nacked: %+v", c)
		}
	}
	_, cons := open(t)
	for _, d := range getN(t, cons, q, 2, false) {
		mustOK(t, d.Ack(false), "basic.ack")
	}
	for _, d := range consumeN(t, consume(t, cons, q, false, nil), 3, waitFor) {
		mustOK(t, d.Ack(false), "basic.ack")
	}
	_, ok, err := cons.Get(q, false)
	mustOK(t, err, "basic.get")
	if ok {
		t.Fatal("basic.get on the drained queue got a message")
	}

	wantQueue := map[string]float64{"publish": 5, "get": 2, "get_no_ack": 0, "deliver": 3, "deliver_no_ack": 0,
		"deliver_get": 5, "ack": 5, "redeliver": 0, "get_empty": 1}
	statsWait(t, "the queue's message_stats", func() bool {
		last := queueJSON(admin, q)
		for k, want := range wantQueue {
			if num(last, "message_stats."+k) != want || num(last, "message_stats."+k+"_details.rate") < 0 {
				return false
			}
		}
		for _, k := range []string{"messages_details", "messages_ready_details", "messages_unacknowledged_details"} {
			if d, _ := last[k].(map[string]any); d == nil || d["rate"] == nil {
				return false
			}
		}
		return true
	})

	statsWait(t, "the exchange's message_stats", func() bool {
		var ex map[string]any
		admin.getJSON("/api/exchanges/%2F/"+url.PathEscape(x), &ex)
		return num(ex, "message_stats.publish_in") == 5 && num(ex, "message_stats.publish_out") == 5 &&
			num(ex, "message_stats.publish_in_details.rate") >= 0
	})

	statsWait(t, "the publisher's channel and connection", func() bool {
		var conns, chans []map[string]any
		admin.getJSON("/api/connections", &conns)
		c := findBy(conns, "user_provided_name", "e2e-stats-pub")
		if c == nil || num(c, "recv_oct") <= 0 || num(c, "send_oct") <= 0 || num(c, "recv_oct_details.rate") < 0 {
			return false
		}
		admin.getJSON("/api/connections/"+url.PathEscape(c["name"].(string))+"/channels", &chans)
		return len(chans) == 1 && num(chans[0], "message_stats.publish") == 5 &&
			num(chans[0], "message_stats.confirm") == 5 && num(chans[0], "message_stats.publish_details.rate") >= 0
	})

	var ov map[string]any
	admin.getJSON("/api/overview", &ov)
	if ov["rates_mode"] != "basic" || num(ov, "message_stats.publish") < 5 || num(ov, "message_stats.ack") < 5 ||
		num(ov, "message_stats.deliver_get_details.rate") < 0 || num(ov, "queue_totals.messages_details.rate") == -1 ||
		num(ov, "queue_totals.messages_ready_details.rate") == -1 || num(ov, "queue_totals.messages_unacknowledged_details.rate") == -1 {
		t.Fatalf("overview: rates_mode %v, message_stats %v, queue_totals %v", ov["rates_mode"], ov["message_stats"], ov["queue_totals"])
	}
}

// TestMgmtMessageRates: while a client publishes to a queue a consumer
// drains, the queue's, its exchange's, the connection's and the node's
// rates are above 0; once it stops, the queue's and the exchange's fall
// back to 0.
func TestMgmtMessageRates(t *testing.T) {
	admin := mgmtSetup(t)
	c := dialConfig(t, amqp.Config{Properties: amqp.Table{"connection_name": "e2e-rates-pub"}})
	pub := c.channel(t)
	q, x := name(t, "q"), name(t, "x")
	declareQueue(t, pub, q, nil)
	declareExchange(t, pub, x, "fanout", nil)
	t.Cleanup(func() { deleteQueue(q); deleteExchange(x) })
	mustOK(t, pub.QueueBind(q, "", x, false, nil), "queue.bind")
	_, cons := open(t)
	deliveries := consume(t, cons, q, true, nil)
	go func() {
		for range deliveries {
		}
	}()

	rising := func() bool {
		for range 20 {
			publish(t, pub, x, "", text("tick"))
			time.Sleep(5 * time.Millisecond)
		}
		var qv, ex, ov map[string]any
		var conns []map[string]any
		qv = queueJSON(admin, q)
		admin.getJSON("/api/exchanges/%2F/"+url.PathEscape(x), &ex)
		admin.getJSON("/api/overview", &ov)
		admin.getJSON("/api/connections", &conns)
		conn := findBy(conns, "user_provided_name", "e2e-rates-pub")
		return num(qv, "message_stats.publish_details.rate") > 0 && num(qv, "message_stats.deliver_get_details.rate") > 0 &&
			num(ex, "message_stats.publish_in_details.rate") > 0 && num(ov, "message_stats.publish_details.rate") > 0 &&
			num(ov, "message_stats.deliver_get_details.rate") > 0 && conn != nil && num(conn, "recv_oct_details.rate") > 0
	}
	statsWait(t, "rates above 0 while publishing", rising)
	statsWait(t, "the queue's and exchange's rates to fall back to 0", func() bool {
		var ex map[string]any
		qv := queueJSON(admin, q)
		admin.getJSON("/api/exchanges/%2F/"+url.PathEscape(x), &ex)
		return num(qv, "message_stats.publish_details.rate") == 0 && num(qv, "message_stats.deliver_get_details.rate") == 0 &&
			num(ex, "message_stats.publish_in_details.rate") == 0
	})
}

// TestMgmtMessageRateSamples: with msg_rates_age and msg_rates_incr (and
// the lengths_ pair), a queue's and the overview's details carry samples
// every incr seconds, newest first, the newest the figure itself; a range
// RabbitMQ refuses is 400.
func TestMgmtMessageRateSamples(t *testing.T) {
	admin := mgmtSetup(t)
	_, ch := open(t)
	q := name(t, "q")
	declareQueue(t, ch, q, nil)
	t.Cleanup(func() { deleteQueue(q) })
	for range 3 {
		publish(t, ch, "", q, text("m"))
	}
	const rng = "?msg_rates_age=60&msg_rates_incr=1&lengths_age=60&lengths_incr=1"
	checkSamples := func(details map[string]any, want float64) bool {
		samples, _ := details["samples"].([]any)
		if len(samples) < 2 {
			return false
		}
		var prev float64
		for i, s := range samples {
			sm, _ := s.(map[string]any)
			ts := num(sm, "timestamp")
			if ts <= 0 || int64(ts)%1000 != 0 || (i > 0 && ts >= prev) {
				t.Fatalf("samples not every second, newest first: %v", samples)
			}
			prev = ts
		}
		first, _ := samples[0].(map[string]any)
		_, hasAvg := details["avg_rate"]
		return num(first, "sample") == want && hasAvg
	}
	statsWait(t, "the queue's samples", func() bool {
		var v map[string]any
		admin.getJSON("/api/queues/%2F/"+url.PathEscape(q)+rng, &v)
		ms, _ := v["message_stats"].(map[string]any)
		pd, _ := ms["publish_details"].(map[string]any)
		md, _ := v["messages_details"].(map[string]any)
		return ms != nil && num(ms, "publish") == 3 && checkSamples(pd, 3) && checkSamples(md, 3)
	})
	statsWait(t, "the overview's samples", func() bool {
		var ov map[string]any
		admin.getJSON("/api/overview"+rng, &ov)
		ms, _ := ov["message_stats"].(map[string]any)
		pd, _ := ms["publish_details"].(map[string]any)
		return pd != nil && checkSamples(pd, num(ms, "publish"))
	})
	admin.expectError(400, "GET", "/api/overview?msg_rates_age=10&msg_rates_incr=0", nil,
		"bad_request", "Invalid range parameters: age 10, incr 0")
	admin.expectError(400, "GET", "/api/queues/%2F/"+url.PathEscape(q)+"?lengths_age=1000&lengths_incr=1", nil,
		"bad_request", "Invalid range parameters: age 1000, incr 1")
}
