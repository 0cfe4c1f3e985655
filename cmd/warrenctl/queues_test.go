package main

import (
	"strings"
	"testing"
)

// TestPolicyVerbs: set_policy with --priority and --apply-to, listed by
// list_policies and applied to a queue (max-length drops the head);
// clear_policy lifts it; a definition that is not JSON and one the
// broker refuses, with its text.
func TestPolicyVerbs(t *testing.T) {
	ch := channel(t)
	if _, err := ch.QueueDeclare("pol.q", false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { warrenctl("clear_policy", "pol-limit") })
	out := mustCtl(t, "set_policy", "--priority", "3", "--apply-to", "queues", "pol-limit", `^pol\.`, `{"max-length":1}`)
	if !strings.Contains(out, `Setting policy "pol-limit" for pattern "^pol\." to "{"max-length":1}" with priority "3" for vhost "/" ...`) {
		t.Fatalf("set_policy banner: %q", out)
	}
	var pol map[string]any
	for _, o := range jsonRows(t, "list_policies") {
		if o["name"] == "pol-limit" {
			pol = o
		}
	}
	if pol == nil || pol["vhost"] != "/" || pol["pattern"] != `^pol\.` || pol["apply-to"] != "queues" || pol["priority"] != float64(3) ||
		pol["definition"].(map[string]any)["max-length"] != float64(1) {
		t.Fatalf("list_policies: %v", pol)
	}
	publishConfirmed(t, ch, "pol.q", 3)
	if n := queueMessages(t, "%2F", "pol.q"); n != 1 {
		t.Fatalf("with max-length 1: %d messages", n)
	}

	mustCtl(t, "clear_policy", "pol-limit")
	publishConfirmed(t, ch, "pol.q", 2)
	if n := queueMessages(t, "%2F", "pol.q"); n != 3 {
		t.Fatalf("after clear_policy: %d messages, want 3", n)
	}
	wantFail(t, exitDataErr, "Parameter does not exist", "clear_policy", "pol-limit")
	wantFail(t, exitDataErr, "Could not parse JSON document", "set_policy", "bad", ".*", `{max-length`)
	wantFail(t, exitDataErr, "Validation failed\n\n<<\"ten\">> is not a valid maximum length", "set_policy", "bad", ".*", `{"max-length":"ten"}`)
	wantFail(t, exitDataErr, "Virtual host 'nope' does not exist", "list_policies", "-p", "nope")
}

// TestQueueVerbs: purge_queue empties a queue; delete_queue refuses a
// queue that is not empty (--if-empty) or has consumers (--if_unused,
// rabbitmqctl's spelling), then deletes and says how many messages went
// with it; missing queues and vhosts.
func TestQueueVerbs(t *testing.T) {
	ch := channel(t)
	for _, q := range []string{"dq.q", "dq.busy"} {
		if _, err := ch.QueueDeclare(q, false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { warrenctl("delete_queue", "dq.busy") })
	publishConfirmed(t, ch, "dq.q", 2)
	if out := mustCtl(t, "purge_queue", "dq.q"); !strings.Contains(out, "Purging queue 'dq.q' in vhost '/' ...") {
		t.Fatalf("purge_queue: %q", out)
	}
	if n := queueMessages(t, "%2F", "dq.q"); n != 0 {
		t.Fatalf("after purge_queue: %d messages", n)
	}

	publishConfirmed(t, ch, "dq.q", 2)
	wantFail(t, exitUsage, "Queue is not empty", "delete_queue", "dq.q", "--if-empty")
	if _, err := ch.Consume("dq.busy", "", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	wantFail(t, exitUsage, "Queue is in use", "delete_queue", "dq.busy", "--if_unused")
	out := mustCtl(t, "delete_queue", "-u", "dq.q")
	if !strings.Contains(out, "Deleting queue 'dq.q' on vhost '/' if queue is unused ...") ||
		!strings.Contains(out, "Queue was successfully deleted with 2 messages") {
		t.Fatalf("delete_queue: %q", out)
	}
	if apiGet(t, "/api/queues/%2F/dq.q", nil) != 404 {
		t.Fatal("delete_queue: the queue is still there")
	}
	wantFail(t, exitUsage, "Queue not found", "delete_queue", "dq.q")
	wantFail(t, exitUsage, "Queue not found", "purge_queue", "dq.q")
	wantFail(t, exitDataErr, "Virtual host 'nope' does not exist", "purge_queue", "-p", "nope", "dq.q")
}
