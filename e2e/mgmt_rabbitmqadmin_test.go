package e2e

import (
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rabbitmqadmin runs Debian's rabbitmqadmin (shipped with
// rabbitmq-server) against the broker's API as guest, and returns its
// output; the test fails if it exits non-zero.
func rabbitmqadmin(t *testing.T, bin, base string, args ...string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	full := append([]string{"-H", u.Hostname(), "-P", u.Port(), "-u", "guest", "-p", "guest"}, args...)
	out, err := exec.Command(bin, full...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqadmin %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestMgmtRabbitmqadmin: rabbitmqadmin's everyday commands work
// unchanged: declare a queue, an exchange and a binding, publish, get,
// list, export and delete. It skips when rabbitmqadmin is not installed.
func TestMgmtRabbitmqadmin(t *testing.T) {
	bin, err := exec.LookPath("rabbitmqadmin")
	if err != nil {
		t.Skip("rabbitmqadmin is not installed (Debian's rabbitmq-server ships it)")
	}
	admin := mgmtSetup(t)
	t.Cleanup(func() {
		admin.do("DELETE", "/api/queues/%2F/ra-q", nil)
		admin.do("DELETE", "/api/exchanges/%2F/ra-x", nil)
	})
	run := func(args ...string) string { return rabbitmqadmin(t, bin, admin.base, args...) }

	if out := run("declare", "queue", "name=ra-q", "durable=true"); !strings.Contains(out, "queue declared") {
		t.Fatalf("declare queue: %s", out)
	}
	run("declare", "exchange", "name=ra-x", "type=fanout")
	run("declare", "binding", "source=ra-x", "destination=ra-q")
	if out := run("publish", "routing_key=ra-q", "payload=hi"); !strings.Contains(out, "Message published") {
		t.Fatalf("publish: %s", out)
	}
	if out := run("publish", "exchange=ra-x", "routing_key=any", "payload=fanned"); !strings.Contains(out, "Message published") {
		t.Fatalf("publish to the exchange: %s", out)
	}
	if out := run("list", "queues", "name", "messages"); !strings.Contains(out, "ra-q") {
		t.Fatalf("list queues: %s", out)
	}
	out := run("-f", "raw_json", "get", "queue=ra-q", "count=2", "ackmode=ack_requeue_false")
	var got []struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[0].Payload != "hi" || got[1].Payload != "fanned" {
		t.Fatalf("get: %v %s", err, out)
	}
	if out := run("list", "bindings", "source", "destination"); !strings.Contains(out, "ra-x") {
		t.Fatalf("list bindings: %s", out)
	}

	file := filepath.Join(t.TempDir(), "defs.json")
	run("export", file)
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var defs struct {
		Queues []struct {
			Name    string `json:"name"`
			Durable bool   `json:"durable"`
		} `json:"queues"`
		Bindings []struct {
			Source string `json:"source"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal(doc, &defs); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, q := range defs.Queues {
		found = found || (q.Name == "ra-q" && q.Durable)
	}
	if !found {
		t.Fatalf("export lacks the durable queue ra-q: %s", doc)
	}

	run("delete", "queue", "name=ra-q")
	run("delete", "exchange", "name=ra-x")
	admin.expectError(404, "GET", "/api/queues/%2F/ra-q", nil, "Object Not Found", "Not Found")
}
