package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// mgmtWait polls cond until it holds or the deadline passes (RabbitMQ's
// management listings lag its events by up to its stats interval).
func mgmtWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestMgmtCloseConnection is amqp091-go's scenario: a client names its
// connection, the API lists it, DELETE closes it with 320 and the
// X-Reason text, the client sees that close, and it recovers: it dials
// again under the same name and carries on.
func TestMgmtCloseConnection(t *testing.T) {
	admin := mgmtSetup(t)
	cfg := amqp.Config{Properties: amqp.Table{"connection_name": "mgmt-close-test"}}
	conn, err := amqp.DialConfig(brokerURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume(q.Name, "mgmt-tag", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))

	var name string
	mgmtWait(t, "the connection to be listed", func() bool {
		var cs []map[string]any
		admin.getJSON("/api/connections", &cs)
		for _, c := range cs {
			if c["user_provided_name"] == "mgmt-close-test" {
				name = c["name"].(string)
				props, _ := c["client_properties"].(map[string]any)
				if c["user"] != "guest" || c["vhost"] != "/" || c["protocol"] != "AMQP 0-9-1" || props["connection_name"] != "mgmt-close-test" {
					t.Fatalf("connection = %v", c)
				}
				return true
			}
		}
		return false
	})
	mgmtWait(t, "the channel and consumer to be listed", func() bool {
		var chs, cons []map[string]any
		admin.getJSON("/api/connections/"+url.PathEscape(name)+"/channels", &chs)
		admin.getJSON("/api/consumers/%2F", &cons)
		found := slices.ContainsFunc(cons, func(c map[string]any) bool {
			qv, _ := c["queue"].(map[string]any)
			return c["consumer_tag"] == "mgmt-tag" && qv["name"] == q.Name && c["ack_required"] == true
		})
		return len(chs) == 1 && chs[0]["number"] == 1.0 && found
	})
	admin.expectError(404, "DELETE", "/api/connections/"+url.PathEscape("no such connection"), nil, "Object Not Found", "Not Found")

	status, _, body := admin.doWith("DELETE", "/api/connections/"+url.PathEscape(name), map[string]string{"X-Reason": "testing the API"})
	if status != http.StatusNoContent {
		t.Fatalf("DELETE connection: %d %s", status, body)
	}
	select {
	case e := <-closed:
		if e == nil || e.Code != amqp.ConnectionForced || e.Reason != "CONNECTION_FORCED - testing the API" {
			t.Fatalf("client saw %v, want 320 CONNECTION_FORCED - testing the API", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the client never saw its connection closed")
	}

	// The client recovers as an application does: it dials again under
	// the same name and carries on, and the API lists the new connection.
	again, err := amqp.DialConfig(brokerURL, cfg)
	if err != nil {
		t.Fatalf("reconnect after the forced close: %v", err)
	}
	defer again.Close()
	ch2, err := again.Channel()
	if err != nil {
		t.Fatal(err)
	}
	q2, err := ch2.QueueDeclare("", false, true, true, false, nil)
	mustOK(t, err, "declare after reconnecting")
	mustOK(t, ch2.Publish("", q2.Name, false, false, amqp.Publishing{Body: []byte("recovered")}), "publish after reconnecting")
	mgmtWait(t, "the message published after reconnecting", func() bool {
		m, ok, err := ch2.Get(q2.Name, true)
		return err == nil && ok && string(m.Body) == "recovered"
	})
	mgmtWait(t, "the new connection to be listed under its name", func() bool {
		var cs []map[string]any
		admin.getJSON("/api/connections", &cs)
		return slices.ContainsFunc(cs, func(c map[string]any) bool {
			return c["user_provided_name"] == "mgmt-close-test" && c["name"] != name
		})
	})
}

// TestMgmtQueuesAndExchanges: queues with their depths, exchanges and
// bindings as clients declared them; paging, sorting and columns.
func TestMgmtQueuesAndExchanges(t *testing.T) {
	admin := mgmtSetup(t)
	conn, err := amqp.Dial(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"mgmt-q-a", "mgmt-q-b", "mgmt-q-c"} {
		if _, err := ch.QueueDeclare(n, false, false, false, false, amqp.Table{"x-max-length": int32(100)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.do("DELETE", "/api/queues/%2F/"+n, nil) })
	}
	if err := ch.ExchangeDeclare("mgmt-x", "topic", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.do("DELETE", "/api/exchanges/%2F/mgmt-x", nil) })
	if err := ch.QueueBind("mgmt-q-a", "k.#", "mgmt-x", false, nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := ch.Publish("", "mgmt-q-b", false, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	mgmtWait(t, "mgmt-q-b's depth", func() bool {
		var q map[string]any
		admin.getJSON("/api/queues/%2F/mgmt-q-b", &q)
		return q["messages"] == 3.0 && q["messages_ready"] == 3.0 && q["messages_unacknowledged"] == 0.0
	})
	var q map[string]any
	admin.getJSON("/api/queues/%2F/mgmt-q-a", &q)
	args, _ := json.Marshal(q["arguments"])
	if q["name"] != "mgmt-q-a" || q["vhost"] != "/" || q["durable"] != false || q["type"] != "classic" || string(args) != `{"x-max-length":100}` {
		t.Fatalf("queue = %v", q)
	}
	admin.expectError(404, "GET", "/api/queues/%2F/no-such-queue", nil, "Object Not Found", "Not Found")
	admin.expectError(404, "GET", "/api/queues/no-such-vhost", nil, "Object Not Found", "Not Found")

	var x map[string]any
	admin.getJSON("/api/exchanges/%2F/mgmt-x", &x)
	if x["type"] != "topic" || x["durable"] != false || x["internal"] != false {
		t.Fatalf("exchange = %v", x)
	}
	admin.getJSON("/api/exchanges/%2F/amq.default", &x)
	if x["name"] != "" || x["type"] != "direct" {
		t.Fatalf("default exchange = %v", x)
	}
	var bs []map[string]any
	admin.getJSON("/api/exchanges/%2F/mgmt-x/bindings/source", &bs)
	if len(bs) != 1 || bs[0]["destination"] != "mgmt-q-a" || bs[0]["routing_key"] != "k.#" || bs[0]["destination_type"] != "queue" {
		t.Fatalf("source bindings = %v", bs)
	}
	props := bs[0]["properties_key"].(string)
	admin.getJSON("/api/bindings/%2F/e/mgmt-x/q/mgmt-q-a", &bs)
	if len(bs) != 1 {
		t.Fatalf("bindings between = %v", bs)
	}
	admin.must(200, "GET", "/api/bindings/%2F/e/mgmt-x/q/mgmt-q-a/"+url.PathEscape(props), nil)
	admin.getJSON("/api/queues/%2F/mgmt-q-a/bindings", &bs)
	if len(bs) != 2 || bs[0]["source"] != "" || bs[1]["source"] != "mgmt-x" {
		t.Fatalf("queue bindings = %v (want the default exchange's, then mgmt-x's)", bs)
	}

	// Paging, filtering, sorting and columns.
	var p struct {
		TotalCount    int              `json:"total_count"`
		FilteredCount int              `json:"filtered_count"`
		ItemCount     int              `json:"item_count"`
		Page          int              `json:"page"`
		PageCount     int              `json:"page_count"`
		PageSize      int              `json:"page_size"`
		Items         []map[string]any `json:"items"`
	}
	admin.getJSON("/api/queues/%2F?page=1&page_size=2&name=mgmt-q-&sort=name&sort_reverse=true&columns=name,messages", &p)
	if p.FilteredCount != 3 || p.ItemCount != 2 || p.PageCount != 2 || p.PageSize != 2 || p.Page != 1 ||
		p.Items[0]["name"] != "mgmt-q-c" || p.Items[1]["name"] != "mgmt-q-b" || len(p.Items[1]) != 2 || p.Items[1]["messages"] != 3.0 {
		t.Fatalf("page = %+v", p)
	}
	admin.getJSON("/api/queues/%2F?page=1&name=^mgmt-q-[ab]$&use_regex=true", &p)
	if p.FilteredCount != 2 {
		t.Fatalf("regex filter = %+v", p)
	}
	admin.expectError(400, "GET", "/api/queues?page=0", nil, "invalid_pagination_parameters",
		"Invalid pagination parameters: page number 0, page size undefined")
	admin.expectError(400, "GET", "/api/queues?page=1&page_size=501", nil, "invalid_pagination_parameters",
		"Invalid pagination parameters: page number 1, page size 501")
}

// TestMgmtOverviewAndDefinitions: the overview's fields dashboards read,
// and definitions exported and imported through the API.
func TestMgmtOverviewAndDefinitions(t *testing.T) {
	admin := mgmtSetup(t)
	var o map[string]any
	admin.getJSON("/api/overview", &o)
	for _, k := range []string{"management_version", "rabbitmq_version", "cluster_name", "node", "object_totals",
		"queue_totals", "listeners", "contexts", "exchange_types"} {
		if _, ok := o[k]; !ok {
			t.Errorf("overview lacks %s: %v", k, o)
		}
	}
	totals, _ := o["object_totals"].(map[string]any)
	if _, ok := totals["queues"].(float64); !ok {
		t.Errorf("object_totals = %v", totals)
	}
	listeners, _ := o["listeners"].([]any)
	if !slices.ContainsFunc(listeners, func(l any) bool { return l.(map[string]any)["protocol"] == "amqp" }) {
		t.Errorf("listeners = %v", listeners)
	}
	admin.must(200, "GET", "/api/health/checks/alarms", nil)
	admin.must(200, "GET", "/api/health/checks/protocol-listener/amqp", nil)
	var ns []map[string]any
	admin.getJSON("/api/nodes", &ns)
	if len(ns) == 0 || ns[0]["name"] != o["node"] {
		t.Fatalf("nodes = %v, overview node %v", ns, o["node"])
	}

	doc := `{"vhosts":[{"name":"d-vh"}],"users":[{"name":"d-u","password":"d-pw","tags":"management"}],
	  "permissions":[{"user":"d-u","vhost":"d-vh","configure":".*","write":".*","read":".*"}],
	  "queues":[{"name":"d-q","vhost":"d-vh","durable":true,"auto_delete":false,"arguments":{}}]}`
	t.Cleanup(func() { admin.do("DELETE", "/api/vhosts/d-vh", nil); admin.do("DELETE", "/api/users/d-u", nil) })
	status, _, body := admin.do("POST", "/api/definitions", doc)
	if status != http.StatusNoContent && status != http.StatusCreated {
		t.Fatalf("POST definitions: %d %s", status, body)
	}
	admin.as("d-u", "d-pw").must(200, "GET", "/api/queues/d-vh/d-q", nil)
	var d map[string]json.RawMessage
	admin.getJSON("/api/definitions", &d)
	for _, k := range []string{"users", "vhosts", "permissions", "queues", "exchanges", "bindings"} {
		if _, ok := d[k]; !ok {
			t.Fatalf("definitions lack %s", k)
		}
	}
	if !strings.Contains(string(d["queues"]), `"d-q"`) {
		t.Fatalf("exported queues = %s", d["queues"])
	}
	var vd map[string]json.RawMessage
	admin.getJSON("/api/definitions/d-vh", &vd)
	if _, ok := vd["users"]; ok || !strings.Contains(string(vd["queues"]), `"d-q"`) {
		t.Fatalf("vhost definitions = %s", vd)
	}
	admin.expectError(400, "POST", "/api/definitions", "notjson", "bad_request", "failed_to_parse_json")
}
