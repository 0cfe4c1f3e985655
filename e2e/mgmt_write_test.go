package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The management API changes objects over an AMQP connection of the
// caller's own, so the broker's permission checks, equivalence rules and
// error texts apply; these tests check both the change and the refusal.

// mgmtUserIn creates a user with management and the given permissions
// on "/" and returns its client.
func mgmtUserIn(t *testing.T, admin *apiClient, name string, perms map[string]string) *apiClient {
	t.Helper()
	mgmtUser(t, admin, name, "pw", "management")
	admin.must(http.StatusCreated, "PUT", "/api/permissions/%2F/"+name, perms)
	return admin.as(name, "pw")
}

// TestMgmtDeclareExchange: PUT declares (201, then 204), the broker's
// equivalence and permission refusals are 400 and 401, DELETE honours
// if-unused.
func TestMgmtDeclareExchange(t *testing.T) {
	admin := mgmtSetup(t)
	const path = "/api/exchanges/%2F/mw-x"
	t.Cleanup(func() { admin.do("DELETE", path, nil); admin.do("DELETE", "/api/queues/%2F/mw-xq", nil) })
	admin.must(http.StatusCreated, "PUT", path, map[string]any{"type": "fanout", "durable": true,
		"arguments": map[string]any{"x-note": "n"}})
	admin.must(http.StatusNoContent, "PUT", path, map[string]any{"type": "fanout", "durable": "true",
		"arguments": map[string]any{"x-note": "n"}})
	var x struct {
		Type      string         `json:"type"`
		Durable   bool           `json:"durable"`
		Arguments map[string]any `json:"arguments"`
	}
	admin.getJSON(path, &x)
	if x.Type != "fanout" || !x.Durable || x.Arguments["x-note"] != "n" {
		t.Fatalf("GET exchange = %+v", x)
	}
	admin.expectError(400, "PUT", path, map[string]any{"type": "direct", "durable": true,
		"arguments": map[string]any{"x-note": "n"}}, "bad_request",
		"inequivalent arg 'type' for exchange 'mw-x' in vhost '/': received 'direct' but current is 'fanout'")
	admin.expectError(401, "PUT", "/api/exchanges/%2F/amq.mw", map[string]any{"type": "direct"},
		"not_authorised", "Access refused.")
	admin.expectError(404, "PUT", "/api/exchanges/no-such-vhost/x", map[string]any{"type": "direct"},
		"not_found", "vhost_not_found")
	reader := mgmtUserIn(t, admin, "mw-reader", map[string]string{"configure": "", "write": ".*", "read": ".*"})
	reader.expectError(401, "PUT", "/api/exchanges/%2F/mw-x2", map[string]any{"type": "direct"},
		"not_authorised", "Access refused.")
	reader.expectError(401, "DELETE", path, nil, "not_authorised", "Access refused.")

	admin.must(http.StatusCreated, "PUT", "/api/queues/%2F/mw-xq", map[string]any{})
	admin.must(http.StatusCreated, "POST", "/api/bindings/%2F/e/mw-x/q/mw-xq", map[string]any{})
	admin.expectError(400, "DELETE", path+"?if-unused=true", nil, "bad_request", "exchange 'mw-x' in vhost '/' in use")
	admin.must(http.StatusNoContent, "DELETE", path, nil)
	admin.expectError(404, "DELETE", path, nil, "Object Not Found", "Not Found")
	admin.expectError(404, "GET", path, nil, "Object Not Found", "Not Found")
}

// queueView is a queue as the API shows it.
type queueView struct {
	Name      string         `json:"name"`
	Type      string         `json:"type"`
	Durable   bool           `json:"durable"`
	Arguments map[string]any `json:"arguments"`
	Messages  float64        `json:"messages"`
}

// TestMgmtDeclareQueue: PUT declares a classic or quorum queue with its
// arguments, DELETE honours if-empty and if-unused, contents purges.
func TestMgmtDeclareQueue(t *testing.T) {
	admin := mgmtSetup(t)
	const path = "/api/queues/%2F/mw-q"
	t.Cleanup(func() { admin.do("DELETE", path, nil); admin.do("DELETE", "/api/queues/%2F/mw-qq", nil) })
	admin.must(http.StatusCreated, "PUT", path, map[string]any{"durable": "true", "auto_delete": false,
		"arguments": map[string]any{"x-max-length": 5}})
	admin.must(http.StatusNoContent, "PUT", path, map[string]any{"durable": true,
		"arguments": map[string]any{"x-max-length": 5}})
	var q queueView
	admin.getJSON(path, &q)
	if !q.Durable || q.Type != "classic" || q.Arguments["x-max-length"] != float64(5) {
		t.Fatalf("GET queue = %+v", q)
	}
	admin.expectError(400, "PUT", path, map[string]any{"durable": false, "arguments": map[string]any{"x-max-length": 5}},
		"bad_request", "inequivalent arg 'durable' for queue 'mw-q' in vhost '/': received 'false' but current is 'true'")
	admin.expectError(400, "PUT", path, map[string]any{"durable": "yes"}, "bad_request", []any{"not_boolean", "yes"})
	admin.expectError(400, "PUT", "/api/queues/%2F/"+strings.Repeat("q", 300), map[string]any{}, "bad_request",
		"queue should be less than 255 bytes, actually was 300\n")
	admin.expectError(404, "PUT", "/api/queues/no-such-vhost/q", map[string]any{}, "not_found", "vhost_not_found")

	admin.must(http.StatusCreated, "PUT", "/api/queues/%2F/mw-qq", map[string]any{"durable": true,
		"arguments": map[string]any{"x-queue-type": "quorum"}})
	admin.getJSON("/api/queues/%2F/mw-qq", &q)
	if q.Type != "quorum" {
		t.Fatalf("GET quorum queue = %+v", q)
	}

	reader := mgmtUserIn(t, admin, "mw-qreader", map[string]string{"configure": "", "write": ".*", "read": ".*"})
	reader.expectError(401, "PUT", "/api/queues/%2F/mw-q2", map[string]any{}, "not_authorised", "Access refused.")
	reader.expectError(401, "DELETE", path, nil, "not_authorised", "Access refused.")

	admin.must(http.StatusOK, "POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{"routing_key": "mw-q",
		"properties": map[string]any{}, "payload": "m", "payload_encoding": "string"})
	admin.expectError(400, "DELETE", path+"?if-empty=true", nil, "bad_request", "queue 'mw-q' in vhost '/' not empty")
	admin.must(http.StatusNoContent, "DELETE", path+"/contents", nil)
	admin.getJSON(path, &q)
	if q.Messages != 0 {
		t.Fatalf("after a purge the queue holds %v messages", q.Messages)
	}
	admin.expectError(404, "DELETE", "/api/queues/%2F/mw-none/contents", nil, "Object Not Found", "Not Found")

	conn, err := amqp.Dial(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.Consume("mw-q", "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	admin.expectError(400, "DELETE", path+"?if-unused=true", nil, "bad_request", "queue 'mw-q' in vhost '/' in use")
	admin.must(http.StatusNoContent, "DELETE", path+"?if-empty=true", nil)
	admin.expectError(404, "DELETE", path, nil, "Object Not Found", "Not Found")
}

// bindingView is a binding as the API lists it.
type bindingView struct {
	Source        string         `json:"source"`
	Destination   string         `json:"destination"`
	RoutingKey    string         `json:"routing_key"`
	Arguments     map[string]any `json:"arguments"`
	PropertiesKey string         `json:"properties_key"`
}

// TestMgmtBindings: POST binds (201 with the binding's location), the
// binding is listed and deleted by its properties key.
func TestMgmtBindings(t *testing.T) {
	admin := mgmtSetup(t)
	t.Cleanup(func() {
		admin.do("DELETE", "/api/exchanges/%2F/mw-bx", nil)
		admin.do("DELETE", "/api/exchanges/%2F/mw-bx2", nil)
		admin.do("DELETE", "/api/queues/%2F/mw-bq", nil)
	})
	admin.must(http.StatusCreated, "PUT", "/api/exchanges/%2F/mw-bx", map[string]any{"type": "topic"})
	admin.must(http.StatusCreated, "PUT", "/api/exchanges/%2F/mw-bx2", map[string]any{"type": "fanout"})
	admin.must(http.StatusCreated, "PUT", "/api/queues/%2F/mw-bq", map[string]any{})

	for _, c := range []struct{ d, dest string }{{"q", "mw-bq"}, {"e", "mw-bx2"}} {
		path := "/api/bindings/%2F/e/mw-bx/" + c.d + "/" + c.dest
		status, hdr, body := admin.do("POST", path, map[string]any{"routing_key": "a.*", "arguments": map[string]any{"x-a": 1}})
		if status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, status, body)
		}
		var bs []bindingView
		admin.getJSON(path, &bs)
		if len(bs) != 1 || bs[0].RoutingKey != "a.*" || bs[0].Arguments["x-a"] != float64(1) {
			t.Fatalf("GET %s = %+v", path, bs)
		}
		// The location ends with the properties key, escaped.
		loc := hdr.Get("Location")
		last, err := url.PathUnescape(loc[strings.LastIndex(loc, "/")+1:])
		if err != nil || last != bs[0].PropertiesKey {
			t.Fatalf("Location %q does not name the binding %q", loc, bs[0].PropertiesKey)
		}
		admin.must(http.StatusNoContent, "DELETE", path+"/"+bs[0].PropertiesKey, nil)
		admin.expectError(404, "DELETE", path+"/"+bs[0].PropertiesKey, nil, "Object Not Found", "Not Found")
		admin.getJSON(path, &bs)
		if len(bs) != 0 {
			t.Fatalf("after DELETE: %+v", bs)
		}
	}
	// The default routing key is "".
	admin.must(http.StatusCreated, "POST", "/api/bindings/%2F/e/mw-bx/q/mw-bq", map[string]any{})
	admin.must(http.StatusNoContent, "DELETE", "/api/bindings/%2F/e/mw-bx/q/mw-bq/~", nil)

	admin.expectError(404, "POST", "/api/bindings/%2F/e/mw-none/q/mw-bq", map[string]any{}, "not_found",
		"no exchange 'mw-none' in vhost '/'")
	admin.expectError(404, "POST", "/api/bindings/%2F/e/mw-bx/q/mw-none", map[string]any{}, "not_found",
		"no queue 'mw-none' in vhost '/'")
	noWrite := mgmtUserIn(t, admin, "mw-bnowrite", map[string]string{"configure": ".*", "write": "", "read": ".*"})
	noWrite.expectError(401, "POST", "/api/bindings/%2F/e/mw-bx/q/mw-bq", map[string]any{}, "not_authorised", "Access refused.")
}

// expectErrorLike checks a refusal whose reason matches a regular
// expression (where RabbitMQ versions word it differently).
func (c *apiClient) expectErrorLike(status int, method, path string, body any, kind, reason string) {
	c.t.Helper()
	got, _, out := c.do(method, path, body)
	var e apiErrorBody
	json.Unmarshal(out, &e)
	if got != status || e.Error != kind || !regexp.MustCompile(reason).MatchString(fmt.Sprint(e.Reason)) {
		c.t.Fatalf("%s %s as %s: %d %s, want %d %s %s", method, path, c.user, got, out, status, kind, reason)
	}
}

// message is a message as a get answers it.
type message struct {
	Payload         string          `json:"payload"`
	PayloadBytes    int             `json:"payload_bytes"`
	PayloadEncoding string          `json:"payload_encoding"`
	Redelivered     bool            `json:"redelivered"`
	Exchange        string          `json:"exchange"`
	RoutingKey      string          `json:"routing_key"`
	MessageCount    int             `json:"message_count"`
	Properties      json.RawMessage `json:"properties"`
}

// getMessages POSTs a get and decodes the messages.
func getMessages(t *testing.T, api *apiClient, queue string, body map[string]any) []message {
	t.Helper()
	out := api.must(http.StatusOK, "POST", "/api/queues/%2F/"+queue+"/get", body)
	var ms []message
	if err := json.Unmarshal(out, &ms); err != nil {
		t.Fatalf("get: %v in %s", err, out)
	}
	return ms
}

// TestMgmtPublishAndGet: publish answers whether the message was routed;
// get fetches with each ack mode, encoding and truncation.
func TestMgmtPublishAndGet(t *testing.T) {
	admin := mgmtSetup(t)
	const q = "mw-pq"
	t.Cleanup(func() { admin.do("DELETE", "/api/queues/%2F/"+q, nil) })
	admin.must(http.StatusCreated, "PUT", "/api/queues/%2F/"+q, map[string]any{})
	pub := func(payload, enc string, props map[string]any) string {
		return string(admin.must(http.StatusOK, "POST", "/api/exchanges/%2F/amq.default/publish",
			map[string]any{"routing_key": q, "properties": props, "payload": payload, "payload_encoding": enc}))
	}
	if got := pub("hello", "string", map[string]any{"delivery_mode": 2, "content_type": "text/plain",
		"headers": map[string]any{"h": "v"}}); got != `{"routed":true}` {
		t.Fatalf("publish = %s", got)
	}
	if got := string(admin.must(http.StatusOK, "POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{
		"routing_key": "mw-nowhere", "properties": map[string]any{}, "payload": "x", "payload_encoding": "string"})); got != `{"routed":false}` {
		t.Fatalf("unroutable publish = %s", got)
	}
	ack := func(mode string) map[string]any {
		return map[string]any{"count": 5, "ackmode": mode, "encoding": "auto"}
	}
	ms := getMessages(t, admin, q, ack("ack_requeue_true"))
	if len(ms) != 1 || ms[0].Payload != "hello" || ms[0].PayloadEncoding != "string" || ms[0].PayloadBytes != 5 ||
		ms[0].Redelivered || ms[0].RoutingKey != q || ms[0].Exchange != "" || ms[0].MessageCount != 0 {
		t.Fatalf("get = %+v", ms)
	}
	var props map[string]any
	if err := json.Unmarshal(ms[0].Properties, &props); err != nil || props["delivery_mode"] != float64(2) ||
		props["content_type"] != "text/plain" || props["headers"].(map[string]any)["h"] != "v" {
		t.Fatalf("properties = %s", ms[0].Properties)
	}
	// A get that requeues what it took rejects it as the request ends,
	// and a queue on another node takes the reject a moment later (as
	// RabbitMQ's cast does), so the next get tries again until the
	// message is back.
	getOnceBack := func(body map[string]any) []message {
		var ms []message
		eventually(t, "the requeued message back", func() bool {
			ms = getMessages(t, admin, q, body)
			return len(ms) > 0
		})
		return ms
	}
	// Requeued by the first get; the second sees it redelivered.
	ms = getOnceBack(ack("reject_requeue_true"))
	if len(ms) != 1 || !ms[0].Redelivered {
		t.Fatalf("second get = %+v", ms)
	}
	ms = getOnceBack(map[string]any{"count": "1", "ackmode": "ack_requeue_true", "encoding": "base64", "truncate": 2})
	if len(ms) != 1 || ms[0].Payload != "aGU=" || ms[0].PayloadEncoding != "base64" || ms[0].PayloadBytes != 5 {
		t.Fatalf("base64 truncated get = %+v", ms)
	}
	pub("AP8=", "base64", map[string]any{})
	// This get takes the messages for good: first wait until both are
	// in the queue.
	eventually(t, "two messages in the queue", func() bool {
		var info struct {
			Messages int `json:"messages"`
		}
		return json.Unmarshal(admin.must(http.StatusOK, "GET", "/api/queues/%2F/"+q, nil), &info) == nil && info.Messages == 2
	})
	ms = getMessages(t, admin, q, ack("ack_requeue_false"))
	if len(ms) != 2 || ms[1].Payload != "AP8=" || ms[1].PayloadEncoding != "base64" || ms[1].PayloadBytes != 2 ||
		string(ms[1].Properties) != "[]" {
		t.Fatalf("get of binary payload = %+v", ms)
	}
	if ms := getMessages(t, admin, q, ack("ack_requeue_false")); len(ms) != 0 {
		t.Fatalf("get after ack_requeue_false = %+v", ms)
	}

	admin.expectError(400, "POST", "/api/queues/%2F/"+q+"/get", map[string]any{"count": 1}, "bad_request",
		"[{key_missing,ackmode},{key_missing,encoding}]")
	admin.expectError(400, "POST", "/api/queues/%2F/"+q+"/get", map[string]any{"count": 1, "ackmode": "ack_requeue_true",
		"encoding": "utf16"}, "bad_request", "Unsupported encoding. Please use auto or base64.")
	admin.expectError(400, "POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{"payload": "x"}, "bad_request",
		"[{key_missing,routing_key},\n {key_missing,properties},\n {key_missing,payload_encoding}]")
	admin.expectError(400, "POST", "/api/exchanges/%2F/mw-none/publish", map[string]any{"routing_key": "k",
		"properties": map[string]any{}, "payload": "x", "payload_encoding": "string"}, "bad_request",
		"404 NOT_FOUND - no exchange 'mw-none' in vhost '/'")
	admin.expectError(404, "POST", "/api/queues/%2F/mw-none/get", ack("ack_requeue_true"), "not_found",
		"NOT_FOUND - no queue 'mw-none' in vhost '/'")

	writer := mgmtUserIn(t, admin, "mw-writer", map[string]string{"configure": "", "write": ".*", "read": ""})
	// RabbitMQ 3.10 says "access to queue", 3.12 and later (and Warren)
	// "read access to queue".
	writer.expectErrorLike(401, "POST", "/api/queues/%2F/"+q+"/get", ack("ack_requeue_true"), "not_authorised",
		`^ACCESS_REFUSED - (read )?access to queue 'mw-pq' in vhost '/' refused for user 'mw-writer'$`)
	reader := mgmtUserIn(t, admin, "mw-preader", map[string]string{"configure": "", "write": "", "read": ".*"})
	// A publish answers every channel error 400 "CODE TEXT".
	reader.expectErrorLike(400, "POST", "/api/exchanges/%2F/amq.default/publish", map[string]any{"routing_key": q,
		"properties": map[string]any{}, "payload": "x", "payload_encoding": "string"}, "bad_request",
		`^403 ACCESS_REFUSED - (write )?access to exchange 'amq.default' in vhost '/' refused for user 'mw-preader'$`)
}

// TestMgmtAliveness: the aliveness test round-trips a message through
// its queue in the vhost.
func TestMgmtAliveness(t *testing.T) {
	admin := mgmtSetup(t)
	t.Cleanup(func() { admin.do("DELETE", "/api/queues/%2F/aliveness-test", nil) })
	for range 2 {
		if got := string(admin.must(http.StatusOK, "GET", "/api/aliveness-test/%2F", nil)); got != `{"status":"ok"}` {
			t.Fatalf("aliveness = %s", got)
		}
	}
	admin.expectError(404, "GET", "/api/aliveness-test/no-such-vhost", nil, "Object Not Found", "Not Found")
	mgmtUser(t, admin, "mw-alive", "pw", "management")
	admin.as("mw-alive", "pw").expectError(401, "GET", "/api/aliveness-test/%2F", nil, "not_authorised",
		"User not authorised to access virtual host")
}
