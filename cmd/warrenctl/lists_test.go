package main

import (
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestListQueues: the default columns, chosen columns (by spaces or
// commas), the banner and its absence with -q, the JSON formatter with
// the columns as keys, and refused columns and vhosts.
func TestListQueues(t *testing.T) {
	ch := channel(t)
	if _, err := ch.QueueDeclare("lq.durable", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("lq.quorum", true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { warrenctl("delete_queue", "lq.durable"); warrenctl("delete_queue", "lq.quorum") })
	publishConfirmed(t, ch, "lq.durable", 3)

	out := mustCtl(t, "list_queues")
	lines := strings.Split(out, "\n")
	if lines[0] != "Timeout: 60.0 seconds ..." || lines[1] != "Listing queues for vhost / ..." {
		t.Fatalf("banner: %q", lines[:2])
	}
	rows := parseTable(t, strings.Join(lines[2:], "\n"))
	if r, ok := findRow(rows, "name", "lq.durable"); !ok || r["messages"] != "3" || len(r) != 2 {
		t.Fatalf("list_queues: row %v in\n%s", r, out)
	}

	r, ok := tableRow(t, "name", "lq.quorum", "list_queues", "name,durable", "type", "messages_ready", "consumers", "state")
	if !ok || r["durable"] != "true" || r["type"] != "quorum" || r["messages_ready"] != "0" || r["consumers"] != "0" || r["state"] != "running" {
		t.Fatalf("list_queues columns: %v", r)
	}
	if out := mustCtl(t, "-q", "--no-table-headers", "list_queues"); strings.Contains(out, "messages") || !strings.Contains(out, "lq.durable") {
		t.Fatalf("--no-table-headers: %q", out)
	}

	found := false
	for _, o := range jsonRows(t, "list_queues", "name", "messages", "arguments") {
		if len(o) != 3 {
			t.Fatalf("json row %v: want keys name, messages, arguments", o)
		}
		if o["name"] == "lq.quorum" {
			found = o["messages"] == float64(0) && o["arguments"].(map[string]any)["x-queue-type"] == "quorum"
		}
	}
	if !found {
		t.Fatal("list_queues --formatter json: lq.quorum with 0 messages and its arguments not listed")
	}

	wantFail(t, exitUsage, "Info key(s) nope,pid are not supported", "list_queues", "name", "nope", "pid")
	wantFail(t, exitDataErr, "Virtual host 'no-such-vhost' does not exist", "list_queues", "-p", "no-such-vhost")
}

// TestListExchangesAndBindings: an exchange declared over AMQP and its
// binding to a queue, in table and JSON form.
func TestListExchangesAndBindings(t *testing.T) {
	ch := channel(t)
	if err := ch.ExchangeDeclare("xb.topic", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("xb.q", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("xb.q", "a.#", "xb.topic", false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.ExchangeDelete("xb.topic", false, false) })

	if r, ok := tableRow(t, "name", "xb.topic", "list_exchanges", "name", "type", "durable", "internal"); !ok ||
		r["type"] != "topic" || r["durable"] != "true" || r["internal"] != "false" {
		t.Fatalf("list_exchanges: %v", r)
	}
	if r, ok := tableRow(t, "source_name", "xb.topic", "list_bindings"); !ok || r["source_kind"] != "exchange" ||
		r["destination_name"] != "xb.q" || r["destination_kind"] != "queue" || r["routing_key"] != "a.#" || r["arguments"] != "[]" {
		t.Fatalf("list_bindings: %v", r)
	}
	found := false
	for _, o := range jsonRows(t, "list_bindings", "source_name", "destination_name", "routing_key") {
		found = found || (o["source_name"] == "xb.topic" && o["destination_name"] == "xb.q" && o["routing_key"] == "a.#")
	}
	if !found {
		t.Fatal("list_bindings --formatter json: the binding is missing")
	}
}

// TestConnectionVerbs: a client's connection, channel and consumer are
// listed, and close_connection closes it with 320 and the explanation.
func TestConnectionVerbs(t *testing.T) {
	conn, err := amqp.DialConfig(amqpURL, amqp.Config{Properties: amqp.Table{"connection_name": "ctl-conn"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(5, 0, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("cc.q", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume("cc.q", "cc-tag", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	var name string
	eventually(t, "list_connections shows the connection", func() bool {
		r, ok := tableRow(t, "user_provided_name", "ctl-conn", "list_connections", "name", "user", "user_provided_name", "state")
		name = r["name"]
		return ok && r["user"] == "guest" && r["state"] == "running"
	})
	if r, ok := tableRow(t, "connection", name, "list_channels", "connection", "user", "consumer_count", "prefetch_count"); !ok ||
		r["user"] != "guest" || r["consumer_count"] != "1" || r["prefetch_count"] != "5" {
		t.Fatalf("list_channels: %v", r)
	}
	if r, ok := tableRow(t, "consumer_tag", "cc-tag", "list_consumers"); !ok || r["queue_name"] != "cc.q" ||
		r["ack_required"] != "true" || r["prefetch_count"] != "5" || r["active"] != "true" || !strings.HasPrefix(r["channel_pid"], name) {
		t.Fatalf("list_consumers: %v", r)
	}

	mustCtl(t, "close_connection", name, "maintenance window")
	select {
	case e := <-closed:
		if e == nil || e.Code != amqp.ConnectionForced || !strings.Contains(e.Reason, "maintenance window") {
			t.Fatalf("connection closed with %v, want 320 with the explanation", e)
		}
	case <-deadline(t):
		t.Fatal("close_connection: the client's connection stayed open")
	}
	wantFail(t, exitDataErr, `Connection "no such connection" does not exist`, "close_connection", "no such connection", "x")
}
