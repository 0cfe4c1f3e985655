package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// policyView is a policy as the API shows it.
type policyView struct {
	Vhost      string         `json:"vhost"`
	Name       string         `json:"name"`
	Pattern    string         `json:"pattern"`
	ApplyTo    string         `json:"apply-to"`
	Definition map[string]any `json:"definition"`
	Priority   int64          `json:"priority"`
}

// hasPolicy reports whether a list holds the named policy of vhost.
func hasPolicy(ps []policyView, vhost, name string) bool {
	for _, p := range ps {
		if p.Vhost == vhost && p.Name == name {
			return true
		}
	}
	return false
}

// TestMgmtPolicies: a policy is created (201), replaced (204), read,
// listed, exported with the definitions and deleted (204, then 404).
func TestMgmtPolicies(t *testing.T) {
	admin := mgmtSetup(t)
	mgmtVhost(t, admin, "pol-vh")
	const path = "/api/policies/pol-vh/limits"
	t.Cleanup(func() { admin.do("DELETE", path, nil) })
	admin.must(http.StatusCreated, "PUT", path, map[string]any{"pattern": "^orders\\.",
		"definition": map[string]any{"max-length": 10}, "priority": 3, "apply-to": "queues"})
	var p policyView
	admin.getJSON(path, &p)
	if p.Vhost != "pol-vh" || p.Name != "limits" || p.Pattern != "^orders\\." || p.ApplyTo != "queues" ||
		p.Priority != 3 || p.Definition["max-length"] != float64(10) {
		t.Fatalf("GET policy = %+v", p)
	}
	// Defaults: priority 0, apply-to all.
	admin.must(http.StatusNoContent, "PUT", path, map[string]any{"pattern": ".*",
		"definition": map[string]any{"max-length": 20}})
	admin.getJSON(path, &p)
	if p.Pattern != ".*" || p.ApplyTo != "all" || p.Priority != 0 || p.Definition["max-length"] != float64(20) {
		t.Fatalf("GET replaced policy = %+v", p)
	}
	for _, list := range []string{"/api/policies", "/api/policies/pol-vh"} {
		var ps []policyView
		admin.getJSON(list, &ps)
		if !hasPolicy(ps, "pol-vh", "limits") {
			t.Fatalf("GET %s = %+v, want the policy", list, ps)
		}
	}
	var defs struct {
		Policies []policyView `json:"policies"`
	}
	admin.getJSON("/api/definitions", &defs)
	if !hasPolicy(defs.Policies, "pol-vh", "limits") {
		t.Fatalf("definitions' policies = %+v", defs.Policies)
	}
	var params []struct {
		Component string         `json:"component"`
		Name      string         `json:"name"`
		Value     map[string]any `json:"value"`
	}
	admin.getJSON("/api/parameters/policy/pol-vh", &params)
	if len(params) != 1 || params[0].Name != "limits" || params[0].Value["pattern"] != ".*" {
		t.Fatalf("policy parameters = %+v", params)
	}
	admin.must(http.StatusNoContent, "DELETE", path, nil)
	admin.expectError(404, "GET", path, nil, "Object Not Found", "Not Found")
	admin.expectError(404, "DELETE", path, nil, "Object Not Found", "Not Found")
	admin.expectError(404, "PUT", "/api/policies/no-such-vhost/p", map[string]any{"pattern": ".*",
		"definition": map[string]any{"max-length": 1}}, "not_found", "vhost_not_found")
}

// TestMgmtPolicyValidation: a policy RabbitMQ refuses is 400 with its
// text (HTML-escaped by the policies resource, as RabbitMQ 3.10 does).
func TestMgmtPolicyValidation(t *testing.T) {
	admin := mgmtSetup(t)
	const path = "/api/policies/%2F/bad"
	t.Cleanup(func() { admin.do("DELETE", path, nil) })
	cases := []struct {
		name   string
		body   any
		reason string
	}{
		{"no keys", map[string]any{}, "[{key_missing,pattern},{key_missing,definition}]"},
		{"no definition", map[string]any{"pattern": ".*"}, "[{key_missing,definition}]"},
		{"bad max-length", map[string]any{"pattern": ".*", "definition": map[string]any{"max-length": "ten"}},
			"Validation failed\n\n&lt;&lt;\"ten\"&gt;&gt; is not a valid maximum length\n"},
		{"unknown key", map[string]any{"pattern": ".*", "definition": map[string]any{"foo": 1}},
			"Validation failed\n\n[{&lt;&lt;\"foo\"&gt;&gt;,1}] are not recognised policy settings\n"},
		{"bad priority", map[string]any{"pattern": ".*", "definition": map[string]any{"max-length": 1}, "priority": "x"},
			"Validation failed\n\npriority should be a number, actually was &lt;&lt;\"x\"&gt;&gt;\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			newAPI(t, admin.base, admin.user, admin.pass).expectError(400, "PUT", path, c.body, "bad_request", c.reason)
		})
	}
	admin.expectError(404, "GET", path, nil, "Object Not Found", "Not Found")
}

// TestMgmtOperatorPolicies: operator policies are an administrator's,
// limited to the keys an operator may cap, with unescaped refusals.
func TestMgmtOperatorPolicies(t *testing.T) {
	admin := mgmtSetup(t)
	const path = "/api/operator-policies/%2F/cap"
	t.Cleanup(func() { admin.do("DELETE", path, nil) })
	admin.expectError(400, "PUT", path, map[string]any{"pattern": ".*",
		"definition": map[string]any{"dead-letter-exchange": "dlx"}}, "bad_request",
		"Validation failed\n\n[{<<\"dead-letter-exchange\">>,<<\"dlx\">>}] are not recognised policy settings\n")
	admin.must(http.StatusCreated, "PUT", path, map[string]any{"pattern": ".*",
		"definition": map[string]any{"max-length": 100}, "apply-to": "queues"})
	var p policyView
	admin.getJSON(path, &p)
	if p.Name != "cap" || p.ApplyTo != "queues" || p.Definition["max-length"] != float64(100) {
		t.Fatalf("GET operator policy = %+v", p)
	}
	var ps []policyView
	admin.getJSON("/api/operator-policies/%2F", &ps)
	if !hasPolicy(ps, "/", "cap") {
		t.Fatalf("operator policies = %+v", ps)
	}
	admin.getJSON("/api/policies/%2F", &ps)
	if hasPolicy(ps, "/", "cap") {
		t.Fatalf("an operator policy among the policies: %+v", ps)
	}
	admin.must(http.StatusNoContent, "DELETE", path, nil)
	admin.expectError(404, "DELETE", path, nil, "Object Not Found", "Not Found")
}

// TestMgmtPolicyAccess: who may read and change policies, as RabbitMQ
// 3.10 decides it.
func TestMgmtPolicyAccess(t *testing.T) {
	admin := mgmtSetup(t)
	mgmtVhost(t, admin, "pa-vh")
	mgmtUser(t, admin, "pa-mgm", "pw", "management")
	mgmtUser(t, admin, "pa-pol", "pw", "policymaker")
	mgmtUser(t, admin, "pa-out", "pw", "policymaker")
	for _, u := range []string{"pa-mgm", "pa-pol"} {
		admin.must(http.StatusCreated, "PUT", "/api/permissions/pa-vh/"+u, allPerms)
	}
	const path = "/api/policies/pa-vh/p"
	t.Cleanup(func() { admin.do("DELETE", path, nil) })
	body := map[string]any{"pattern": ".*", "definition": map[string]any{"max-length": 5}}
	pol, mgm, out := admin.as("pa-pol", "pw"), admin.as("pa-mgm", "pw"), admin.as("pa-out", "pw")
	const noObject = "User not authorised to access object"

	pol.must(http.StatusCreated, "PUT", path, body)
	pol.must(http.StatusOK, "GET", path, nil)
	mgm.expectError(401, "PUT", path, body, "not_authorised", noObject)
	mgm.expectError(401, "GET", path, nil, "not_authorised", noObject)
	out.expectError(401, "GET", path, nil, "not_authorised", noObject)
	out.expectError(401, "DELETE", path, nil, "not_authorised", noObject)
	out.expectError(401, "GET", "/api/policies/pa-vh", nil, "not_authorised", "User not authorised to access virtual host")

	// The lists are any management user's, cut to its vhosts.
	var ps []policyView
	mgm.getJSON("/api/policies", &ps)
	if !hasPolicy(ps, "pa-vh", "p") {
		t.Fatalf("management user's policies = %+v", ps)
	}
	out.getJSON("/api/policies", &ps)
	if hasPolicy(ps, "pa-vh", "p") {
		t.Fatalf("a policy of a vhost the user may not use: %+v", ps)
	}
	pol.expectError(401, "PUT", "/api/operator-policies/pa-vh/op", body, "not_authorised", "Not administrator user")
	pol.must(http.StatusNoContent, "DELETE", path, nil)
}

// TestMgmtPolicyParameters: the parameters resource does not bypass a
// policy's validation: policies are refused there, operator policies
// validated.
func TestMgmtPolicyParameters(t *testing.T) {
	admin := mgmtSetup(t)
	const op = "/api/parameters/operator_policy/%2F/pcap"
	t.Cleanup(func() { admin.do("DELETE", "/api/operator-policies/%2F/pcap", nil) })
	value := map[string]any{"pattern": ".*", "definition": map[string]any{"max-length": 7}, "priority": 0, "apply-to": "all"}
	admin.expectError(400, "PUT", "/api/parameters/policy/%2F/p", map[string]any{"value": value},
		"bad_request", "policies may not be set using this method")
	bad := map[string]any{"pattern": ".*", "definition": map[string]any{"max-length": "x"}, "priority": 0}
	admin.expectError(400, "PUT", op, map[string]any{"value": bad}, "bad_request",
		"Validation failed\n\n&lt;&lt;\"x\"&gt;&gt; is not a valid maximum length\n")
	admin.expectError(400, "PUT", op, map[string]any{"value": map[string]any{"pattern": ".*"}}, "bad_request",
		"Validation failed\n\nKey \"definition\" not found in pcap\nKey \"priority\" not found in pcap\n")
	admin.must(http.StatusCreated, "PUT", op, map[string]any{"value": value})
	var p policyView
	admin.getJSON("/api/operator-policies/%2F/pcap", &p)
	if p.Definition["max-length"] != float64(7) {
		t.Fatalf("operator policy set as a parameter = %+v", p)
	}
	var param struct {
		Value json.RawMessage `json:"value"`
	}
	admin.getJSON(op, &param)
	if !strings.Contains(string(param.Value), `"max-length":7`) {
		t.Fatalf("GET %s value = %s", op, param.Value)
	}
	admin.must(http.StatusNoContent, "DELETE", op, nil)
	admin.expectError(404, "GET", "/api/operator-policies/%2F/pcap", nil, "Object Not Found", "Not Found")
}
