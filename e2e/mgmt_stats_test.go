package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
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
