package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestMgmtLogin: basic auth is checked against the users, and a refusal
// is RabbitMQ's 401 with its body and challenge.
func TestMgmtLogin(t *testing.T) {
	admin := mgmtSetup(t)
	mgmtUser(t, admin, "mgmt-login", "pw", "management")

	status, hdr, body := admin.as("", "").do("GET", "/api/whoami", nil)
	if status != http.StatusUnauthorized || hdr.Get("WWW-Authenticate") != `Basic realm="RabbitMQ Management"` || len(body) != 0 {
		t.Fatalf("no credentials: %d %v %q, want a bare 401 with the challenge", status, hdr, body)
	}
	admin.as("mgmt-login", "wrong").expectError(401, "GET", "/api/whoami", nil, "not_authorized", "Login failed")
	admin.as("nobody-here", "pw").expectError(401, "GET", "/api/whoami", nil, "not_authorized", "Login failed")
	admin.as("mgmt-login", "").expectError(401, "GET", "/api/whoami", nil, "not_authorized", "Login failed")

	var who struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	admin.as("mgmt-login", "pw").getJSON("/api/whoami", &who)
	if who.Name != "mgmt-login" || !slices.Equal(who.Tags, []string{"management"}) {
		t.Fatalf("whoami = %+v", who)
	}
	admin.as("", "").expectError(404, "GET", "/api/no-such-thing", nil, "Object Not Found", "Not Found")
}

// TestMgmtTags: what each tag may do, as RabbitMQ 3.10's management
// plugin decides it.
func TestMgmtTags(t *testing.T) {
	admin := mgmtSetup(t)
	mgmtUser(t, admin, "t-none", "pw", "")
	mgmtUser(t, admin, "t-mgm", "pw", "management")
	mgmtUser(t, admin, "t-pol", "pw", "policymaker")
	mgmtUser(t, admin, "t-mon", "pw", "monitoring")
	mgmtVhost(t, admin, "t-vh")
	for _, u := range []string{"t-mgm", "t-pol"} {
		admin.must(http.StatusCreated, "PUT", "/api/permissions/t-vh/"+u, allPerms)
	}
	const (
		notMgmt  = "Not management user"
		notAdmin = "Not administrator user"
		notMon   = "Not monitor user"
		noVhost  = "User not authorised to access virtual host"
		noObject = "User not authorised to access object"
	)
	cases := []struct {
		user, path string
		refusal    string // "" for 200
	}{
		{"t-none", "/api/whoami", notMgmt},
		{"t-none", "/api/overview", notMgmt},
		{"t-mgm", "/api/whoami", ""},
		{"t-mgm", "/api/overview", ""},
		{"t-mgm", "/api/vhosts", ""},
		{"t-mgm", "/api/users", notAdmin},
		{"t-mon", "/api/users", notAdmin},
		{"t-mgm", "/api/vhosts/t-vh", notAdmin},
		{"t-mgm", "/api/permissions", notAdmin},
		{"t-mgm", "/api/topic-permissions", notAdmin},
		{"t-mgm", "/api/definitions", notAdmin},
		{"t-mgm", "/api/users/t-mgm/permissions", notAdmin},
		{"t-mgm", "/api/vhosts/t-vh/permissions", notAdmin},
		{"t-mgm", "/api/nodes", notMon},
		{"t-pol", "/api/nodes", notMon},
		{"t-mon", "/api/nodes", ""},
		{"t-mgm", "/api/parameters", noObject},
		{"t-mon", "/api/parameters", noObject},
		{"t-pol", "/api/parameters", ""},
		{"t-pol", "/api/parameters/federation-upstream/t-vh", ""},
		{"t-pol", "/api/parameters/federation-upstream/%2F", noObject},
		{"t-mgm", "/api/global-parameters", noObject},
		{"t-pol", "/api/global-parameters", ""},
		{"t-mgm", "/api/vhost-limits", ""},
		{"t-mgm", "/api/user-limits", ""},
		{"t-mgm", "/api/connections", ""},
		{"t-mgm", "/api/queues", ""},
		{"t-mgm", "/api/exchanges/t-vh", ""},
		{"t-mon", "/api/exchanges/t-vh", noVhost},
		{"t-mgm", "/api/queues/%2F", noVhost},
		{"t-mgm", "/api/health/checks/alarms", ""},
		{"t-mgm", "/api/health/checks/virtual-hosts", ""},
	}
	for _, c := range cases {
		api := admin.as(c.user, "pw")
		if c.refusal == "" {
			api.must(http.StatusOK, "GET", c.path, nil)
			continue
		}
		api.expectError(401, "GET", c.path, nil, "not_authorised", c.refusal)
	}
}

// userView is a user as the API lists it.
type userView struct {
	Name             string           `json:"name"`
	PasswordHash     string           `json:"password_hash"`
	HashingAlgorithm string           `json:"hashing_algorithm"`
	Tags             []string         `json:"tags"`
	Limits           map[string]int64 `json:"limits"`
}

// TestMgmtUsers: users are created, changed, listed and deleted, and log
// in with the password they were given.
func TestMgmtUsers(t *testing.T) {
	admin := mgmtSetup(t)
	admin.expectError(400, "PUT", "/api/users/u-a", "notjson", "bad_request", "not_json")
	admin.expectError(400, "PUT", "/api/users/u-a", map[string]any{"password": "a"}, "bad_request", "tags_not_present")
	for _, u := range []string{"u-b", "u-c"} {
		t.Cleanup(func() { admin.do("DELETE", "/api/users/"+u, nil) })
	}
	mgmtUser(t, admin, "u-a", "first", "management,monitoring")
	var u userView
	admin.getJSON("/api/users/u-a", &u)
	if u.Name != "u-a" || u.HashingAlgorithm != "rabbit_password_hashing_sha256" || len(u.PasswordHash) != 48 ||
		!slices.Equal(u.Tags, []string{"management", "monitoring"}) || u.Limits == nil {
		t.Fatalf("GET user = %+v", u)
	}
	admin.as("u-a", "first").must(200, "GET", "/api/whoami", nil)
	// A change without a password leaves none.
	admin.must(http.StatusNoContent, "PUT", "/api/users/u-a", map[string]any{"tags": []string{"administrator"}})
	admin.as("u-a", "first").expectError(401, "GET", "/api/whoami", nil, "not_authorized", "Login failed")
	admin.must(http.StatusNoContent, "PUT", "/api/users/u-a", map[string]any{"password": "second", "tags": "management"})
	admin.as("u-a", "first").expectError(401, "GET", "/api/whoami", nil, "not_authorized", "Login failed")
	admin.as("u-a", "second").must(200, "GET", "/api/whoami", nil)
	// Another user gets the same password through its hash.
	admin.getJSON("/api/users/u-a", &u)
	admin.must(http.StatusCreated, "PUT", "/api/users/u-b", map[string]any{"password_hash": u.PasswordHash,
		"hashing_algorithm": "rabbit_password_hashing_sha256", "tags": "management"})
	admin.as("u-b", "second").must(200, "GET", "/api/whoami", nil)
	// An empty hash: no password login.
	admin.must(http.StatusCreated, "PUT", "/api/users/u-c", map[string]any{"password_hash": "", "tags": "a,b"})
	admin.getJSON("/api/users/u-c", &u)
	if u.PasswordHash != "" || !slices.Equal(u.Tags, []string{"a", "b"}) {
		t.Fatalf("user without password = %+v", u)
	}

	var all []userView
	admin.getJSON("/api/users", &all)
	if !slices.ContainsFunc(all, func(u userView) bool { return u.Name == "u-b" }) {
		t.Fatalf("u-b not listed in %+v", all)
	}
	var without []userView
	admin.getJSON("/api/users/without-permissions", &without)
	if !slices.ContainsFunc(without, func(u userView) bool { return u.Name == "u-c" }) ||
		slices.ContainsFunc(without, func(u userView) bool { return u.Name == "guest" }) {
		t.Fatalf("without-permissions = %+v", without)
	}

	// Users are deleted in order until one is missing, as RabbitMQ does.
	admin.expectError(400, "POST", "/api/users/bulk-delete", map[string]any{"users": []string{"u-b", "no-such-user", "u-c"}},
		"bad_request", []string{"no_such_user", "no-such-user"})
	admin.expectError(404, "GET", "/api/users/u-b", nil, "Object Not Found", "Not Found")
	admin.must(http.StatusOK, "GET", "/api/users/u-c", nil)
	admin.must(http.StatusNoContent, "POST", "/api/users/bulk-delete", map[string]any{"users": []string{"u-c"}})
	admin.expectError(404, "GET", "/api/users/u-c", nil, "Object Not Found", "Not Found")
	admin.must(http.StatusNoContent, "DELETE", "/api/users/u-a", nil)
	admin.expectError(404, "DELETE", "/api/users/u-a", nil, "Object Not Found", "Not Found")
	admin.as("u-a", "second").expectError(401, "GET", "/api/whoami", nil, "not_authorized", "Login failed")
}

// TestMgmtPermissions: permissions and topic permissions through the API
// are the ones AMQP checks.
func TestMgmtPermissions(t *testing.T) {
	admin := mgmtSetup(t)
	mgmtUser(t, admin, "p-u", "pw", "management")
	mgmtVhost(t, admin, "p-vh")

	admin.expectError(400, "PUT", "/api/permissions/no-such-vhost/p-u", allPerms, "bad_request", "vhost_or_user_not_found")
	admin.expectError(400, "PUT", "/api/permissions/p-vh/no-such-user", allPerms, "bad_request", "vhost_or_user_not_found")
	admin.expectError(400, "PUT", "/api/permissions/p-vh/p-u", map[string]string{"configure": ".*"},
		"bad_request", "[{key_missing,write},{key_missing,read}]")
	admin.expectError(404, "GET", "/api/permissions/p-vh/p-u", nil, "Object Not Found", "Not Found")
	perm := map[string]string{"configure": "^c", "write": "^w", "read": "^r"}
	admin.must(http.StatusCreated, "PUT", "/api/permissions/p-vh/p-u", perm)
	admin.must(http.StatusNoContent, "PUT", "/api/permissions/p-vh/p-u", perm)
	var p map[string]string
	admin.getJSON("/api/permissions/p-vh/p-u", &p)
	if want := map[string]string{"user": "p-u", "vhost": "p-vh", "configure": "^c", "write": "^w", "read": "^r"}; !mapsEqual(p, want) {
		t.Fatalf("permission = %v, want %v", p, want)
	}
	for _, path := range []string{"/api/permissions", "/api/vhosts/p-vh/permissions", "/api/users/p-u/permissions"} {
		var ps []map[string]string
		admin.getJSON(path, &ps)
		if !slices.ContainsFunc(ps, func(q map[string]string) bool { return mapsEqual(q, p) }) {
			t.Fatalf("%s = %v, lacks %v", path, ps, p)
		}
	}
	// The user may now use the vhost's objects in the API.
	admin.as("p-u", "pw").must(200, "GET", "/api/exchanges/p-vh", nil)

	tp := map[string]string{"exchange": "amq.topic", "write": "^a", "read": "^b"}
	admin.must(http.StatusCreated, "PUT", "/api/topic-permissions/p-vh/p-u", tp)
	var tps []map[string]string
	admin.getJSON("/api/topic-permissions/p-vh/p-u", &tps)
	if len(tps) != 1 || tps[0]["exchange"] != "amq.topic" || tps[0]["write"] != "^a" || tps[0]["user"] != "p-u" {
		t.Fatalf("topic permissions = %v", tps)
	}
	admin.getJSON("/api/users/p-u/topic-permissions", &tps)
	if len(tps) != 1 {
		t.Fatalf("user's topic permissions = %v", tps)
	}
	admin.must(http.StatusNoContent, "DELETE", "/api/topic-permissions/p-vh/p-u", nil)
	admin.expectError(404, "GET", "/api/topic-permissions/p-vh/p-u", nil, "Object Not Found", "Not Found")

	admin.must(http.StatusNoContent, "DELETE", "/api/permissions/p-vh/p-u", nil)
	admin.expectError(404, "DELETE", "/api/permissions/p-vh/p-u", nil, "Object Not Found", "Not Found")
	admin.as("p-u", "pw").expectError(401, "GET", "/api/exchanges/p-vh", nil, "not_authorised", "User not authorised to access virtual host")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestMgmtVhosts: vhosts with their metadata; the creator may use a new
// one.
func TestMgmtVhosts(t *testing.T) {
	admin := mgmtSetup(t)
	admin.must(http.StatusCreated, "PUT", "/api/vhosts/v-one", map[string]any{"description": "first", "tags": "a,b"})
	t.Cleanup(func() { admin.do("DELETE", "/api/vhosts/v-one", nil) })
	var v map[string]any
	admin.getJSON("/api/vhosts/v-one", &v)
	tags, _ := json.Marshal(v["tags"])
	md, _ := json.Marshal(v["metadata"])
	if v["name"] != "v-one" || v["description"] != "first" || string(tags) != `["a","b"]` ||
		string(md) != `{"description":"first","tags":["a","b"]}` || v["default_queue_type"] != "undefined" {
		t.Fatalf("vhost = %v", v)
	}
	// A PUT replaces the description and the tags.
	admin.must(http.StatusNoContent, "PUT", "/api/vhosts/v-one", map[string]any{"description": "changed"})
	admin.getJSON("/api/vhosts/v-one", &v)
	tags, _ = json.Marshal(v["tags"])
	if v["description"] != "changed" || string(tags) != `[]` {
		t.Fatalf("vhost = %v", v)
	}
	var p map[string]string
	admin.getJSON("/api/permissions/v-one/guest", &p)
	if p["configure"] != ".*" {
		t.Fatalf("creator's permissions on the new vhost = %v", p)
	}
	var vs []map[string]any
	admin.getJSON("/api/vhosts", &vs)
	if !slices.ContainsFunc(vs, func(m map[string]any) bool { return m["name"] == "/" }) ||
		!slices.ContainsFunc(vs, func(m map[string]any) bool { return m["name"] == "v-one" }) {
		t.Fatalf("vhosts = %v", vs)
	}
	admin.expectError(404, "GET", "/api/vhosts/no-such-vhost", nil, "Object Not Found", "Not Found")
	admin.must(http.StatusNoContent, "DELETE", "/api/vhosts/v-one", nil)
	admin.expectError(404, "DELETE", "/api/vhosts/v-one", nil, "Object Not Found", "Not Found")
}

// TestMgmtLimitsAndParameters: vhost and user limits, and global
// parameters.
func TestMgmtLimitsAndParameters(t *testing.T) {
	admin := mgmtSetup(t)
	mgmtVhost(t, admin, "l-vh")
	mgmtUser(t, admin, "l-u", "pw", "management")

	admin.must(http.StatusNoContent, "PUT", "/api/vhost-limits/l-vh/max-connections", map[string]any{"value": 10})
	admin.expectError(400, "PUT", "/api/vhost-limits/l-vh/max-queues", map[string]any{}, "bad_request", "[{key_missing,value}]")
	admin.expectError(400, "PUT", "/api/vhost-limits/l-vh/max-bogus", map[string]any{"value": 10}, "bad_request",
		"Validation failed\n\nUnrecognised terms [{<<\"max-bogus\">>,10}] in limits\n")
	var ls []map[string]any
	admin.getJSON("/api/vhost-limits/l-vh", &ls)
	if b, _ := json.Marshal(ls); string(b) != `[{"value":{"max-connections":10},"vhost":"l-vh"}]` {
		t.Fatalf("vhost limits = %s", b)
	}
	admin.must(http.StatusNoContent, "DELETE", "/api/vhost-limits/l-vh/max-connections", nil)
	admin.getJSON("/api/vhost-limits/l-vh", &ls)
	if len(ls) != 0 {
		t.Fatalf("vhost limits after delete = %v", ls)
	}

	admin.must(http.StatusNoContent, "PUT", "/api/user-limits/l-u/max-channels", map[string]any{"value": 3})
	admin.getJSON("/api/user-limits/l-u", &ls)
	if b, _ := json.Marshal(ls); string(b) != `[{"user":"l-u","value":{"max-channels":3}}]` {
		t.Fatalf("user limits = %s", b)
	}
	// A user sees its own limits only.
	admin.as("l-u", "pw").getJSON("/api/user-limits", &ls)
	if len(ls) != 1 || ls[0]["user"] != "l-u" {
		t.Fatalf("l-u's view of user limits = %v", ls)
	}

	admin.must(http.StatusCreated, "PUT", "/api/global-parameters/l-param", map[string]any{"value": map[string]int{"a": 1}})
	t.Cleanup(func() { admin.do("DELETE", "/api/global-parameters/l-param", nil) })
	admin.expectError(400, "PUT", "/api/global-parameters/l-param", map[string]int{"a": 1}, "bad_request", "[{key_missing,value}]")
	var gp map[string]any
	admin.getJSON("/api/global-parameters/l-param", &gp)
	if b, _ := json.Marshal(gp); string(b) != `{"name":"l-param","value":{"a":1}}` {
		t.Fatalf("global parameter = %s", b)
	}
	admin.must(http.StatusNoContent, "DELETE", "/api/global-parameters/l-param", nil)
	admin.expectError(404, "GET", "/api/global-parameters/l-param", nil, "Object Not Found", "Not Found")
}
