package e2e

import (
	"slices"
	"testing"
)

// TestMgmtQueueActions: POST /api/queues/{vhost}/{name}/actions takes
// RabbitMQ's "sync" and "cancel_sync" (no-ops for a queue that is not a
// 3.x mirrored one) with 204, refuses another action with 400 and a
// missing queue with 404 (RabbitMQ 3.10: 500 and no body), and is for
// administrators only.
func TestMgmtQueueActions(t *testing.T) {
	admin := mgmtSetup(t)
	q := "mgmt-actions-q"
	admin.must(201, "PUT", "/api/queues/%2F/"+q, map[string]any{"durable": false})
	t.Cleanup(func() { admin.do("DELETE", "/api/queues/%2F/"+q, nil) })
	for _, a := range []string{"sync", "cancel_sync"} {
		admin.must(204, "POST", "/api/queues/%2F/"+q+"/actions", map[string]any{"action": a})
	}
	admin.expectError(400, "POST", "/api/queues/%2F/"+q+"/actions", map[string]any{"action": "shuffle"},
		"bad_request", []any{"unknown", "shuffle"})
	if !external { // RabbitMQ 3.10 answers 500 with no body for a queue that does not exist
		admin.expectError(404, "POST", "/api/queues/%2F/no-such-queue/actions", map[string]any{"action": "sync"},
			"Object Not Found", "Not Found")
	}
	mgmtUser(t, admin, "actions-mgmt", "pw", "management")
	admin.as("actions-mgmt", "pw").expectError(401, "POST", "/api/queues/%2F/"+q+"/actions",
		map[string]any{"action": "sync"}, "not_authorised", "Not administrator user")
}

// TestMgmtFeatureFlags: /api/feature-flags lists the flags a client
// checks for, enabled.
func TestMgmtFeatureFlags(t *testing.T) {
	admin := mgmtSetup(t)
	var flags []struct{ Name, State string }
	admin.getJSON("/api/feature-flags", &flags)
	for _, want := range []string{"quorum_queue", "user_limits", "virtual_host_metadata", "implicit_default_bindings"} {
		i := slices.IndexFunc(flags, func(f struct{ Name, State string }) bool { return f.Name == want })
		if i < 0 || flags[i].State != "enabled" {
			t.Errorf("feature flag %s missing or not enabled in %+v", want, flags)
		}
	}
}

// TestMgmtQuorumCriticalSingleNode: on a node alone the quorum-critical
// check does not apply, and says so with 200.
func TestMgmtQuorumCriticalSingleNode(t *testing.T) {
	admin := mgmtSetup(t)
	var got map[string]any
	admin.getJSON("/api/health/checks/node-is-quorum-critical", &got)
	if got["status"] != "ok" || got["reason"] != "single node cluster" {
		t.Fatalf("single node: %v, want status ok, reason single node cluster", got)
	}
}
