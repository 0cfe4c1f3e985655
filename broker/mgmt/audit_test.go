package mgmt

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// auditNode starts a broker with its audit log at the returned path, and
// its API.
func auditNode(t *testing.T) (*broker.Server, *Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(),
		Logger: zap.NewNop(), NodeName: "audit@test", Audit: broker.AuditConfig{File: path}})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	api := New(Config{Broker: b})
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	return b, api, path
}

// auditLines reads the audit log's entries.
func auditLines(t *testing.T, path string) []broker.AuditEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []broker.AuditEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e broker.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// want is an expected audit entry: the object, the outcome, the error's
// start and the changes as JSON ("" for none).
type want struct {
	action, vhost, user, component, name, outcome, errPrefix, changes string
}

// check compares an entry with w and with what every HTTP entry has.
func (w want) check(t *testing.T, step string, e broker.AuditEntry) {
	t.Helper()
	if _, err := time.Parse(time.RFC3339, e.Time); err != nil || !strings.HasSuffix(e.Time, "Z") || len(e.Time) != len("2006-01-02T15:04:05.000Z") {
		t.Errorf("%s: time %q is not RFC 3339 UTC with ms", step, e.Time)
	}
	if e.Who != "guest" || e.Interface != "http" || e.Node != "audit@test" || !strings.HasPrefix(e.From, "127.0.0.1:") {
		t.Errorf("%s: who %q interface %q node %q from %q; want guest, http, audit@test, 127.0.0.1:…", step, e.Who, e.Interface, e.Node, e.From)
	}
	outcome := w.outcome
	if outcome == "" {
		outcome = "ok"
	}
	got := want{e.Action, e.Vhost, e.User, e.Component, e.Name, e.Outcome, "", ""}
	exp := want{w.action, w.vhost, w.user, w.component, w.name, outcome, "", ""}
	if got != exp {
		t.Errorf("%s: entry %+v; want %+v", step, got, exp)
	}
	if !strings.HasPrefix(e.Error, w.errPrefix) || (w.errPrefix == "") != (e.Error == "") {
		t.Errorf("%s: error %q; want one starting %q", step, e.Error, w.errPrefix)
	}
	if w.changes == "" {
		if e.Changes != nil {
			t.Errorf("%s: changes %v; want none", step, e.Changes)
		}
		return
	}
	var wantChanges map[string]any
	if err := json.Unmarshal([]byte(w.changes), &wantChanges); err != nil {
		t.Fatalf("%s: bad expected changes: %v", step, err)
	}
	g, _ := json.Marshal(e.Changes)
	x, _ := json.Marshal(wantChanges)
	if string(g) != string(x) {
		t.Errorf("%s: changes %s; want %s", step, g, x)
	}
}

// TestAuditHTTP: every kind of change through the HTTP API writes
// exactly the expected lines, refusals as refused, and no line holds a
// password or a password hash.
func TestAuditHTTP(t *testing.T) {
	b, api, path := auditNode(t)
	const hash = "kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR"
	steps := []struct {
		method, path, body string
		status             int
		want               []want
	}{
		{"PUT", "/api/users/app", `{"password":"s3cret-pw","tags":"management"}`, 201,
			[]want{{action: "user.put", user: "app", changes: `{"credentials":"password","tags":["management"]}`}}},
		{"PUT", "/api/users/hashed", `{"password_hash":"` + hash + `","hashing_algorithm":"rabbit_password_hashing_sha256","tags":""}`, 201,
			[]want{{action: "user.put", user: "hashed", changes: `{"credentials":"password_hash","tags":[]}`}}},
		{"PUT", "/api/vhosts/v1", `{"description":"d","tags":"a,b"}`, 201, []want{
			{action: "vhost.put", vhost: "v1", changes: `{"default_queue_type":"","description":"d","tags":["a","b"]}`},
			{action: "permission.set", vhost: "v1", user: "guest", changes: `{"configure":".*","read":".*","write":".*"}`}}},
		{"PUT", "/api/permissions/v1/app", `{"configure":"^a","write":".*","read":".*"}`, 201,
			[]want{{action: "permission.set", vhost: "v1", user: "app", changes: `{"configure":"^a","read":".*","write":".*"}`}}},
		{"PUT", "/api/permissions/v1/app", `{"configure":"(?=x)","write":".*","read":".*"}`, 400,
			[]want{{action: "permission.set", vhost: "v1", user: "app", outcome: "refused", errPrefix: "PRECONDITION_FAILED - regular expression '(?=x)' is invalid",
				changes: `{"configure":"(?=x)","read":".*","write":".*"}`}}},
		{"PUT", "/api/topic-permissions/v1/app", `{"exchange":"amq.topic","write":"^w","read":"^r"}`, 201,
			[]want{{action: "topic_permission.set", vhost: "v1", user: "app", changes: `{"exchange":"amq.topic","read":"^r","write":"^w"}`}}},
		{"PUT", "/api/vhost-limits/v1/max-connections", `{"value":10}`, 204,
			[]want{{action: "vhost_limits.set", vhost: "v1", changes: `{"limits":{"max-connections":10}}`}}},
		{"DELETE", "/api/vhost-limits/v1/max-connections", ``, 204,
			[]want{{action: "vhost_limits.set", vhost: "v1", changes: `{"limits":{}}`}}},
		{"PUT", "/api/user-limits/app/max-channels", `{"value":5}`, 204,
			[]want{{action: "user_limits.set", user: "app", changes: `{"limits":{"max-channels":5}}`}}},
		{"PUT", "/api/parameters/federation-upstream/v1/up", `{"value":{"uri":"amqp://u:fedpass@host","prefetch-count":10}}`, 201,
			[]want{{action: "parameter.set", vhost: "v1", component: "federation-upstream", name: "up",
				changes: `{"value":{"prefetch-count":10,"uri":"amqp://u:redacted@host"}}`}}},
		{"DELETE", "/api/parameters/federation-upstream/v1/up", ``, 204,
			[]want{{action: "parameter.clear", vhost: "v1", component: "federation-upstream", name: "up"}}},
		{"PUT", "/api/global-parameters/g1", `{"value":{"a":1}}`, 201,
			[]want{{action: "global_parameter.set", name: "g1", changes: `{"value":{"a":1}}`}}},
		{"DELETE", "/api/global-parameters/g1", ``, 204, []want{{action: "global_parameter.clear", name: "g1"}}},
		{"PUT", "/api/policies/v1/p1", `{"pattern":"^q","definition":{"max-length":10},"apply-to":"queues","priority":1}`, 201,
			[]want{{action: "policy.set", vhost: "v1", name: "p1",
				changes: `{"apply-to":"queues","definition":{"max-length":10},"pattern":"^q","priority":1}`}}},
		{"PUT", "/api/policies/v1/bad", `{"pattern":".*","definition":{"max-length":"ten"}}`, 400,
			[]want{{action: "policy.set", vhost: "v1", name: "bad", outcome: "refused", errPrefix: "Validation failed",
				changes: `{"apply-to":"all","definition":{"max-length":"ten"},"pattern":".*","priority":0}`}}},
		{"DELETE", "/api/policies/v1/p1", ``, 204, []want{{action: "policy.clear", vhost: "v1", name: "p1"}}},
		{"PUT", "/api/operator-policies/v1/op", `{"pattern":".*","definition":{"max-length":100}}`, 201,
			[]want{{action: "operator_policy.set", vhost: "v1", name: "op",
				changes: `{"apply-to":"all","definition":{"max-length":100},"pattern":".*","priority":0}`}}},
		{"DELETE", "/api/operator-policies/v1/op", ``, 204, []want{{action: "operator_policy.clear", vhost: "v1", name: "op"}}},
		{"DELETE", "/api/topic-permissions/v1/app", ``, 204,
			[]want{{action: "topic_permission.clear", vhost: "v1", user: "app", changes: `{"exchange":""}`}}},
		{"POST", "/api/definitions", `{"users":[{"name":"imp","password_hash":"` + hash + `","tags":""}],
			"vhosts":[{"name":"v2"}],"permissions":[{"user":"imp","vhost":"v2","configure":".*","write":".*","read":".*"}],
			"queues":[{"name":"q","vhost":"v2","durable":true,"auto_delete":false,"arguments":{}}]}`, 204,
			[]want{{action: "definitions.import", changes: `{"bindings":0,"exchanges":0,"global_parameters":0,"parameters":0,
				"permissions":1,"policies":0,"queues":1,"topic_permissions":0,"users":1,"vhosts":1}`}}},
		{"POST", "/api/definitions", `{"users":[{"name":"bad","password_hash":"!!","tags":""}]}`, 400,
			[]want{{action: "definitions.import", outcome: "refused", errPrefix: "definitions: ",
				changes: `{"bindings":0,"exchanges":0,"global_parameters":0,"parameters":0,
				"permissions":0,"policies":0,"queues":0,"topic_permissions":0,"users":1,"vhosts":0}`}}},
		{"DELETE", "/api/permissions/v1/app", ``, 204, []want{{action: "permission.clear", vhost: "v1", user: "app"}}},
	}
	seen := 0
	for _, st := range steps {
		name := st.method + " " + st.path
		status, _, body := call(t, api, st.method, st.path, st.body)
		if status != st.status {
			t.Fatalf("%s: %d %s; want %d", name, status, body, st.status)
		}
		lines := auditLines(t, path)[seen:]
		if len(lines) != len(st.want) {
			t.Fatalf("%s: %d new audit lines %+v; want %d", name, len(lines), lines, len(st.want))
		}
		for i, w := range st.want {
			w.check(t, name, lines[i])
		}
		seen += len(lines)
	}

	// Forced closes: the API's DELETE, a deleted user's and a deleted
	// vhost's connections, each in the name of who asked.
	amqpURL := "amqp://guest:guest@" + b.Addr().String()
	first := dialAudit(t, amqpURL+"/v1")
	conns := eventuallyConnections(t, b, 1)
	status := callWithReason(t, api, "/api/connections/"+url.PathEscape(conns[0].Name), "go away")
	if status != 204 {
		t.Fatalf("DELETE connection: %d", status)
	}
	<-first.NotifyClose(make(chan *amqp.Error, 1))
	lines := auditLines(t, path)[seen:]
	if len(lines) != 1 {
		t.Fatalf("connection DELETE: %d new lines %+v; want 1", len(lines), lines)
	}
	want{action: "connection.close", vhost: "v1", user: "guest", name: conns[0].Name,
		changes: `{"reason":"go away"}`}.check(t, "DELETE connection", lines[0])
	seen++
	eventuallyConnections(t, b, 0)

	if status, _, body := call(t, api, "PUT", "/api/permissions/%2F/app", `{"configure":".*","write":".*","read":".*"}`); status != 201 {
		t.Fatalf("permissions: %d %s", status, body)
	}
	seen++
	appConn := dialAudit(t, "amqp://app:s3cret-pw@"+b.Addr().String()+"/")
	conns = eventuallyConnections(t, b, 1)
	if status, _, body := call(t, api, "DELETE", "/api/users/app", ""); status != 204 {
		t.Fatalf("DELETE user: %d %s", status, body)
	}
	<-appConn.NotifyClose(make(chan *amqp.Error, 1))
	lines = auditLines(t, path)[seen:]
	if len(lines) != 2 {
		t.Fatalf("user DELETE: %d new lines %+v; want 2", len(lines), lines)
	}
	want{action: "connection.close", vhost: "/", user: "app", name: conns[0].Name,
		changes: `{"reason":"user 'app' is deleted"}`}.check(t, "DELETE user", lines[0])
	want{action: "user.delete", user: "app"}.check(t, "DELETE user", lines[1])
	seen += 2
	eventuallyConnections(t, b, 0)

	vConn := dialAudit(t, amqpURL+"/v1")
	conns = eventuallyConnections(t, b, 1)
	if status, _, body := call(t, api, "DELETE", "/api/vhosts/v1", ""); status != 204 {
		t.Fatalf("DELETE vhost: %d %s", status, body)
	}
	<-vConn.NotifyClose(make(chan *amqp.Error, 1))
	lines = auditLines(t, path)[seen:]
	if len(lines) != 2 {
		t.Fatalf("vhost DELETE: %d new lines %+v; want 2", len(lines), lines)
	}
	want{action: "connection.close", vhost: "v1", user: "guest", name: conns[0].Name,
		changes: `{"reason":"vhost 'v1' is deleted"}`}.check(t, "DELETE vhost", lines[0])
	want{action: "vhost.delete", vhost: "v1"}.check(t, "DELETE vhost", lines[1])

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-pw", hash, "fedpass"} {
		if strings.Contains(string(raw), secret) {
			t.Errorf("the audit log holds %q", secret)
		}
	}
}

func dialAudit(t *testing.T, u string) *amqp.Connection {
	t.Helper()
	c, err := amqp.Dial(u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// eventuallyConnections waits until the node lists n connections.
func eventuallyConnections(t *testing.T, b *broker.Server, n int) []broker.ConnectionInfo {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cs := b.Connections()
		if len(cs) == n {
			return cs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections; want %d", len(cs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// callWithReason sends DELETE path as guest with an X-Reason header and
// returns the status.
func callWithReason(t *testing.T, api *Server, path, reason string) int {
	t.Helper()
	req, err := http.NewRequest("DELETE", "http://"+api.Addr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("guest", "guest")
	req.Header.Set("X-Reason", reason)
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
