package main

import (
	"net/url"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// userURL is the suite's AMQP URL for another user and vhost.
func userURL(user, pass, vhost string) string {
	u, _ := url.Parse(amqpURL)
	u.User = url.UserPassword(user, pass)
	u.Path, u.RawPath = "/"+vhost, "/"+url.PathEscape(vhost)
	return u.String()
}

// canLogin reports whether the user logs in over AMQP.
func canLogin(user, pass string) bool {
	conn, err := amqp.Dial(userURL(user, pass, "/"))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// TestUserVerbs: add_user (password as argument or on stdin),
// change_password, set_user_tags (which keeps the password),
// list_users, list_user_permissions and delete_user, checked by logging
// in over AMQP and through the API; and their refusals.
func TestUserVerbs(t *testing.T) {
	t.Cleanup(func() { warrenctl("delete_user", "ctl-u"); warrenctl("delete_user", "ctl-stdin") })
	if out := mustCtl(t, "add_user", "ctl-u", "pw1"); !strings.Contains(out, `Adding user "ctl-u" ...`) || !strings.Contains(out, "Done.") {
		t.Fatalf("add_user: %q", out)
	}
	wantFail(t, exitSoftware, `User "ctl-u" already exists`, "add_user", "ctl-u", "pw1")
	mustCtl(t, "set_permissions", "ctl-u", ".*", ".*", ".*")
	if !canLogin("ctl-u", "pw1") {
		t.Fatal("ctl-u cannot log in with the password add_user gave it")
	}

	mustCtl(t, "change_password", "ctl-u", "pw2")
	if canLogin("ctl-u", "pw1") || !canLogin("ctl-u", "pw2") {
		t.Fatal("change_password: the old password still works or the new one does not")
	}

	mustCtl(t, "set_user_tags", "ctl-u", "monitoring", "management")
	var u struct {
		Tags []string `json:"tags"`
	}
	apiGet(t, "/api/users/ctl-u", &u)
	if strings.Join(u.Tags, ",") != "monitoring,management" {
		t.Fatalf("set_user_tags: tags %v", u.Tags)
	}
	if !canLogin("ctl-u", "pw2") {
		t.Fatal("set_user_tags changed the password")
	}
	if r, ok := tableRow(t, "user", "ctl-u", "list_users"); !ok || r["tags"] != "[monitoring, management]" {
		t.Fatalf("list_users: %v", r)
	}
	if r, ok := tableRow(t, "vhost", "/", "list_user_permissions", "ctl-u"); !ok || r["configure"] != ".*" || r["read"] != ".*" {
		t.Fatalf("list_user_permissions: %v", r)
	}

	r := ctlEnv(map[string]string{"WARRENCTL_URL": apiURL}, "pw3\n", "add_user", "ctl-stdin")
	if r.code != 0 {
		t.Fatalf("add_user with the password on stdin: %d %s", r.code, r.errOut)
	}
	mustCtl(t, "set_permissions", "ctl-stdin", ".*", ".*", ".*")
	if !canLogin("ctl-stdin", "pw3") {
		t.Fatal("the password read from stdin does not work")
	}
	wantFail(t, exitDataErr, "Password is not provided via argument or stdin", "add_user", "ctl-nopass")

	mustCtl(t, "delete_user", "ctl-u")
	if apiGet(t, "/api/users/ctl-u", nil) != 404 {
		t.Fatal("delete_user: the user is still there")
	}
	wantFail(t, exitNoUser, `User "ctl-u" does not exist`, "delete_user", "ctl-u")
	wantFail(t, exitNoUser, `User "ctl-u" does not exist`, "change_password", "ctl-u", "x")
	wantFail(t, exitNoUser, `User "ctl-u" does not exist`, "set_user_tags", "ctl-u", "x")
	wantFail(t, exitNoUser, `User "ctl-u" does not exist`, "list_user_permissions", "ctl-u")
	wantFail(t, exitDataErr, "user cannot be an empty string", "add_user", "", "x")
}

// TestVhostAndPermissionVerbs: add_vhost with its metadata, list_vhosts,
// set_permissions enforced over AMQP, list_permissions,
// clear_permissions and delete_vhost; a missing user or vhost.
func TestVhostAndPermissionVerbs(t *testing.T) {
	t.Cleanup(func() { warrenctl("delete_vhost", "ctl-vh"); warrenctl("delete_user", "ctl-vu") })
	mustCtl(t, "add_vhost", "ctl-vh", "--description", "for warrenctl", "--default-queue-type", "quorum")
	if r, ok := tableRow(t, "name", "ctl-vh", "list_vhosts", "name", "description", "default_queue_type"); !ok ||
		r["description"] != "for warrenctl" || r["default_queue_type"] != "quorum" {
		t.Fatalf("list_vhosts: %v", r)
	}
	mustCtl(t, "add_user", "ctl-vu", "pw")
	mustCtl(t, "set_permissions", "-p", "ctl-vh", "ctl-vu", "^ctl-", ".*", ".*")
	if r, ok := tableRow(t, "user", "ctl-vu", "list_permissions", "-p", "ctl-vh"); !ok || r["configure"] != "^ctl-" || r["write"] != ".*" {
		t.Fatalf("list_permissions: %v", r)
	}
	ch, err := dial(t, userURL("ctl-vu", "pw", "ctl-vh")).Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("ctl-allowed", false, true, false, false, nil); err != nil {
		t.Fatalf("declare within the permissions: %v", err)
	}
	if _, err := ch.QueueDeclare("other", false, true, false, false, nil); err == nil || !strings.Contains(err.Error(), "ACCESS_REFUSED") {
		t.Fatalf("declare outside the permissions: %v, want ACCESS_REFUSED", err)
	}

	mustCtl(t, "clear_permissions", "-p", "ctl-vh", "ctl-vu")
	if _, ok := tableRow(t, "user", "ctl-vu", "list_permissions", "-p", "ctl-vh"); ok {
		t.Fatal("clear_permissions: still listed")
	}
	mustCtl(t, "clear_permissions", "-p", "ctl-vh", "ctl-vu") // none left: nothing to do, as in RabbitMQ
	wantFail(t, exitNoUser, `User "nobody" does not exist`, "set_permissions", "-p", "ctl-vh", "nobody", ".*", ".*", ".*")
	wantFail(t, exitDataErr, "Virtual host 'nope' does not exist", "set_permissions", "-p", "nope", "ctl-vu", ".*", ".*", ".*")
	wantFail(t, exitNoUser, `User "nobody" does not exist`, "clear_permissions", "-p", "ctl-vh", "nobody")

	mustCtl(t, "delete_vhost", "ctl-vh")
	if _, ok := tableRow(t, "name", "ctl-vh", "list_vhosts"); ok {
		t.Fatal("delete_vhost: still listed")
	}
	wantFail(t, exitDataErr, "Virtual host 'ctl-vh' does not exist", "delete_vhost", "ctl-vh")
	wantFail(t, exitDataErr, "Virtual host 'ctl-vh' does not exist", "list_permissions", "-p", "ctl-vh")
}
