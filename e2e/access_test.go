//go:build !e2e_nowarren

package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/broker"
)

// accessDefinitions are the users, vhosts and permissions the access
// tests load at boot (load_definitions): in vhost shop, app may configure
// app.*, write app.*, the default exchange and amq.topic, and read app.*
// and amq.topic; its topic permissions on amq.topic allow publishing
// with keys {username}.* and binding with keys {vhost}.*; admin may do
// anything in shop and tiny; nohost has no permission anywhere; vhost
// tiny allows one connection and one queue; lim may open one connection
// with at most two channels.
const accessDefinitions = `{
  "users": [
    {"name": "admin", "password": "admin-pw", "tags": "administrator"},
    {"name": "app", "password": "app-pw", "tags": []},
    {"name": "nohost", "password": "nohost-pw", "tags": []},
    {"name": "lim", "password": "lim-pw", "tags": [], "limits": {"max-connections": 1, "max-channels": 2}}
  ],
  "vhosts": [{"name": "shop"}, {"name": "tiny", "limits": {"max-connections": 1, "max-queues": 1}}],
  "permissions": [
    {"user": "admin", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "admin", "vhost": "tiny", "configure": ".*", "write": ".*", "read": ".*"},
    {"user": "app", "vhost": "shop", "configure": "^app\\.", "write": "^(app\\..*|amq\\.default|amq\\.topic)$", "read": "^(app\\..*|amq\\.topic)$"},
    {"user": "lim", "vhost": "shop", "configure": ".*", "write": ".*", "read": ".*"}
  ],
  "topic_permissions": [
    {"user": "app", "vhost": "shop", "exchange": "amq.topic", "write": "^{username}\\.", "read": "^{vhost}\\."}
  ],
  "exchanges": [{"name": "other.x", "vhost": "shop", "type": "direct", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}],
  "queues": [{"name": "other.q", "vhost": "shop", "durable": true, "auto_delete": false, "arguments": {}}]
}`

// accessBroker starts a Warren that loads accessDefinitions and returns
// its host:port and the server.
func accessBroker(t *testing.T) (string, *broker.Server) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "definitions.json")
	if err := os.WriteFile(file, []byte(accessDefinitions), 0o644); err != nil {
		t.Fatal(err)
	}
	var srv *broker.Server
	url := ownBroker(t, warrenOptions{LoadDefinitions: file, Started: func(s any) { srv = s.(*broker.Server) }})
	u, err := amqp.ParseURI(url)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host + ":" + strconv.Itoa(u.Port), srv
}

// dialAs connects to vhost as user.
func dialAs(t *testing.T, addr, user, pass, vhost string) *conn {
	t.Helper()
	return dialURL(t, amqpURL(addr, user, pass, vhost), amqp.Config{})
}

func amqpURL(addr, user, pass, vhost string) string {
	return (&amqp.URI{Scheme: "amqp", Host: strings.Split(addr, ":")[0], Port: atoiPort(addr),
		Username: user, Password: pass, Vhost: vhost}).String()
}

func atoiPort(addr string) int {
	n, _ := strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
	return n
}

// refusedText is rabbit_access_control's text for a refused resource.
func refusedText(perm, kind, name string) string {
	return "ACCESS_REFUSED - " + perm + " access to " + kind + " '" + name + "' in vhost 'shop' refused for user 'app'"
}

// TestPermissions: every AMQP operation is checked where RabbitMQ checks
// it; each case is done by user app on a fresh channel, and is either
// allowed or refused with 403 and RabbitMQ's text.
func TestPermissions(t *testing.T) {
	addr, _ := accessBroker(t)
	app := dialAs(t, addr, "app", "app-pw", "shop")
	admin := dialAs(t, addr, "admin", "admin-pw", "shop").channel(t)
	mustOK(t, admin.ExchangeDeclare("app.x", "direct", false, true, false, false, nil), "admin declares app.x")
	mustOK(t, admin.ExchangeDeclare("other.topic", "topic", false, true, false, false, nil), "admin declares other.topic")

	cases := []struct {
		name string
		do   func(ch *channel) error
		want string // "" allowed
	}{
		{"exchange.declare app.*", func(ch *channel) error {
			return ch.ExchangeDeclare("app.mine", "fanout", false, true, false, false, nil)
		}, ""},
		{"exchange.declare elsewhere", func(ch *channel) error {
			return ch.ExchangeDeclare("other.mine", "fanout", false, true, false, false, nil)
		}, refusedText("configure", "exchange", "other.mine")},
		{"exchange.declare passive with read", func(ch *channel) error {
			return ch.ExchangeDeclarePassive("amq.topic", "topic", true, false, false, false, nil)
		}, ""},
		{"exchange.declare passive without any", func(ch *channel) error {
			return ch.ExchangeDeclarePassive("other.x", "direct", true, false, false, false, nil)
		}, refusedText("configure", "exchange", "other.x")},
		{"exchange.delete elsewhere", func(ch *channel) error {
			return ch.ExchangeDelete("other.x", false, false)
		}, refusedText("configure", "exchange", "other.x")},
		{"queue.declare app.*", func(ch *channel) error {
			_, err := ch.QueueDeclare("app.q", false, true, false, false, nil)
			return err
		}, ""},
		{"queue.declare exclusive app.*", func(ch *channel) error {
			_, err := ch.QueueDeclare("app.excl", false, true, true, false, nil)
			return err
		}, ""},
		{"queue.declare elsewhere", func(ch *channel) error {
			_, err := ch.QueueDeclare("other.mine", false, true, false, false, nil)
			return err
		}, refusedText("configure", "queue", "other.mine")},
		{"queue.declare passive without any", func(ch *channel) error {
			_, err := ch.QueueDeclarePassive("other.q", true, false, false, false, nil)
			return err
		}, refusedText("configure", "queue", "other.q")},
		{"queue.delete elsewhere", func(ch *channel) error {
			_, err := ch.QueueDelete("other.q", false, false, false)
			return err
		}, refusedText("configure", "queue", "other.q")},
		{"queue.purge elsewhere", func(ch *channel) error {
			_, err := ch.QueuePurge("other.q", false)
			return err
		}, refusedText("read", "queue", "other.q")},
		{"queue.bind app.q to app.x", func(ch *channel) error {
			return ch.QueueBind("app.q", "k", "app.x", false, nil)
		}, ""},
		{"queue.bind from an exchange not readable", func(ch *channel) error {
			return ch.QueueBind("app.q", "k", "amq.direct", false, nil)
		}, refusedText("read", "exchange", "amq.direct")},
		{"queue.bind a queue not writable", func(ch *channel) error {
			return ch.QueueBind("other.q", "k", "app.x", false, nil)
		}, refusedText("write", "queue", "other.q")},
		{"queue.unbind a queue not writable", func(ch *channel) error {
			return ch.QueueUnbind("other.q", "k", "app.x", nil)
		}, refusedText("write", "queue", "other.q")},
		{"exchange.bind to a destination not writable", func(ch *channel) error {
			return ch.ExchangeBind("other.x", "k", "app.x", false, nil)
		}, refusedText("write", "exchange", "other.x")},
		{"topic bind with a key of the vhost", func(ch *channel) error {
			return ch.QueueBind("app.q", "shop.#", "amq.topic", false, nil)
		}, ""},
		{"topic bind with another key", func(ch *channel) error {
			return ch.QueueBind("app.q", "x.#", "amq.topic", false, nil)
		}, "ACCESS_REFUSED - read access to topic 'x.#' in exchange 'amq.topic' in vhost 'shop' refused for user 'app'"},
		{"basic.consume app.q", func(ch *channel) error {
			_, err := ch.Consume("app.q", "", true, false, false, false, nil)
			return err
		}, ""},
		{"basic.consume elsewhere", func(ch *channel) error {
			_, err := ch.Consume("other.q", "", true, false, false, false, nil)
			return err
		}, refusedText("read", "queue", "other.q")},
		{"basic.get elsewhere", func(ch *channel) error {
			_, _, err := ch.Get("other.q", true)
			return err
		}, refusedText("read", "queue", "other.q")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := app.channel(t)
			err := tc.do(ch)
			if tc.want == "" {
				mustOK(t, err, tc.name)
				// The channel is still open: app may read amq.topic.
				mustOK(t, ch.ExchangeDeclarePassive("amq.topic", "topic", true, false, false, false, nil), "probe")
				return
			}
			expectChannelError(t, ch, err, codeAccessRefused, tc.want)
		})
	}
}

// TestPublishPermissions: basic.publish needs write on the exchange (the
// default exchange is amq.default) and, on a topic exchange, the topic
// write permission of the routing key, with {username} expanded.
func TestPublishPermissions(t *testing.T) {
	addr, _ := accessBroker(t)
	app := dialAs(t, addr, "app", "app-pw", "shop")
	setup := app.channel(t)
	declareQueue(t, setup, "app.in", nil)
	mustOK(t, setup.QueueBind("app.in", "shop.#", "amq.topic", false, nil), "bind")
	cases := []struct {
		name, x, key, want string
	}{
		{"default exchange", "", "app.in", ""},
		{"topic key of the user", "amq.topic", "app.orders", ""},
		{"topic key of another user", "amq.topic", "eve.orders",
			"ACCESS_REFUSED - write access to topic 'eve.orders' in exchange 'amq.topic' in vhost 'shop' refused for user 'app'"},
		{"exchange not writable", "amq.fanout", "", refusedText("write", "exchange", "amq.fanout")},
		{"missing exchange not writable", "nowhere", "", refusedText("write", "exchange", "nowhere")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := app.channel(t)
			mustOK(t, ch.Confirm(false), "confirm.select")
			confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1))
			mustOK(t, ch.PublishWithContext(context.Background(), tc.x, tc.key, false, false, text("m")), "publish")
			if tc.want != "" {
				expectChannelClose(t, ch, codeAccessRefused, tc.want)
				return
			}
			select {
			case c := <-confirms:
				if !c.Ack {
					t.Fatal("nacked")
				}
			case <-time.After(waitFor):
				t.Fatal("no confirm")
			}
		})
	}
}

// TestVhostAccessRefused: a user without permissions in a vhost logs in
// but connection.open is refused with 530 and RabbitMQ's text; a wrong
// password is 403 with the text of authentication_failure_close.
func TestVhostAccessRefused(t *testing.T) {
	addr, _ := accessBroker(t)
	_, err := amqp.Dial(amqpURL(addr, "nohost", "nohost-pw", "shop"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - access to vhost 'shop' refused for user 'nohost'")
	// amqp091-go reports the 403 that closes a refused login as
	// ErrCredentials.
	if _, err = amqp.Dial(amqpURL(addr, "app", "wrong", "shop")); !errors.Is(err, amqp.ErrCredentials) {
		t.Fatalf("a wrong password: %v", err)
	}
}

// TestPermissionChangeAppliesToOpenChannels: permissions changed while a
// channel is open apply to its next operation, though it did the same
// operation before (its cached decision is dropped).
func TestPermissionChangeAppliesToOpenChannels(t *testing.T) {
	addr, srv := accessBroker(t)
	ch := dialAs(t, addr, "app", "app-pw", "shop").channel(t)
	declareQueue(t, ch, "app.a", nil)
	declareQueue(t, ch, "app.a", nil) // now cached
	err := srv.SetPermissions(context.Background(), "app", "shop", broker.Permission{Configure: "^app\\.b$", Write: ".*", Read: ".*"})
	mustOK(t, err, "set_permissions")
	_, err = ch.QueueDeclare("app.a", false, true, false, false, nil)
	expectChannelError(t, ch, err, codeAccessRefused, refusedText("configure", "queue", "app.a"))
}

// TestServerNamedQueuePermission: a server-named queue is checked under
// the name the server chose, as in RabbitMQ.
func TestServerNamedQueuePermission(t *testing.T) {
	addr, _ := accessBroker(t)
	ch := dialAs(t, addr, "app", "app-pw", "shop").channel(t)
	_, err := ch.QueueDeclare("", false, true, true, false, nil)
	var e *amqp.Error
	if !errors.As(err, &e) || e.Code != codeAccessRefused ||
		!regexp.MustCompile(`^ACCESS_REFUSED - configure access to queue 'amq\.gen-[^']+' in vhost 'shop' refused for user 'app'$`).MatchString(e.Reason) {
		t.Fatalf("server-named queue: %v", err)
	}
}

// TestVhostLimits: a vhost's max-connections refuses the connection past
// it with 530, its max-queues the queue past it with 406.
func TestVhostLimits(t *testing.T) {
	addr, _ := accessBroker(t)
	c := dialAs(t, addr, "admin", "admin-pw", "tiny")
	_, err := amqp.Dial(amqpURL(addr, "admin", "admin-pw", "tiny"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - access to vhost 'tiny' refused for user 'admin': connection limit (1) is reached")
	ch := c.channel(t)
	declareQueue(t, ch, "q1", nil)
	_, err = ch.QueueDeclare("q2", false, true, false, false, nil)
	expectChannelError(t, ch, err, codePreconditionFail,
		"PRECONDITION_FAILED - cannot declare queue 'q2': queue limit in vhost 'tiny' (1) is reached")
	c.Close()
	// Once the first connection is gone another is admitted.
	deadline := time.Now().Add(waitFor)
	for {
		c2, err := amqp.Dial(amqpURL(addr, "admin", "admin-pw", "tiny"))
		if err == nil {
			c2.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no connection admitted after the first closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUserLimits: a user's max-connections refuses its connection past
// it; its max-channels closes the connection that opens a channel past
// it, with 530 and RabbitMQ's texts.
func TestUserLimits(t *testing.T) {
	addr, _ := accessBroker(t)
	c := dialAs(t, addr, "lim", "lim-pw", "shop")
	_, err := amqp.Dial(amqpURL(addr, "lim", "lim-pw", "shop"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - connection refused for user 'lim': user connection limit (1) is reached")
	c.channel(t)
	c.channel(t)
	if _, err := c.Channel(); err == nil {
		t.Fatal("a third channel opened")
	}
	expectConnClose(t, c, codeNotAllowed,
		"NOT_ALLOWED - number of channels opened for user 'lim' has reached the maximum allowed user limit of 2")
}

// TestVhostDeleteClosesConnections: deleting a vhost closes its
// connections with 320 and RabbitMQ's text, and only those.
func TestVhostDeleteClosesConnections(t *testing.T) {
	addr, srv := accessBroker(t)
	tiny := dialAs(t, addr, "admin", "admin-pw", "tiny")
	shop := dialAs(t, addr, "admin", "admin-pw", "shop")
	mustOK(t, srv.DeleteVhost(context.Background(), "tiny"), "delete_vhost")
	expectConnClose(t, tiny, 320, "CONNECTION_FORCED - vhost 'tiny' is deleted")
	expectOpen(t, shop.channel(t))
	_, err := amqp.Dial(amqpURL(addr, "admin", "admin-pw", "tiny"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - vhost tiny not found")
}

// TestUserDeleteClosesConnections: deleting a user closes its
// connections with 320, as RabbitMQ does.
func TestUserDeleteClosesConnections(t *testing.T) {
	addr, srv := accessBroker(t)
	c := dialAs(t, addr, "app", "app-pw", "shop")
	mustOK(t, srv.DeleteUser(context.Background(), "app"), "delete_user")
	expectConnClose(t, c, 320, "CONNECTION_FORCED - user 'app' is deleted")
}

// TestRabbitMQ310Definitions: a definitions file exported by RabbitMQ
// 3.10.8 loads at boot, and its users log in with their passwords into
// the vhosts they have permissions in; the user without a password
// cannot log in with one.
func TestRabbitMQ310Definitions(t *testing.T) {
	file, err := filepath.Abs(filepath.Join("testdata", "rabbitmq-3.10-definitions.json"))
	if err != nil {
		t.Fatal(err)
	}
	url := ownBroker(t, warrenOptions{LoadDefinitions: file})
	u, _ := amqp.ParseURI(url)
	addr := u.Host + ":" + strconv.Itoa(u.Port)
	for _, l := range []struct{ user, pass, vhost string }{
		{"guest", "guest", "/"}, {"alice", "alice-s3cret", "orders"}, {"bob", "b0b-pass", "orders"},
		{"carol", "c@rol pass with spaces", "staging"},
	} {
		c := dialAs(t, addr, l.user, l.pass, l.vhost)
		c.Close()
	}
	// monitor has no permissions: its login works, the vhost is refused.
	_, err = amqp.Dial(amqpURL(addr, "monitor", "mon-pw", "/"))
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - access to vhost '/' refused for user 'monitor'")
	if _, err = amqp.Dial(amqpURL(addr, "certonly", "tmp", "/")); !errors.Is(err, amqp.ErrCredentials) {
		t.Fatalf("the user without a password: %v", err)
	}
	// bob's permissions and topic permissions as exported.
	bob := dialAs(t, addr, "bob", "b0b-pass", "orders").channel(t)
	_, err = bob.QueueDeclare("orders", true, false, false, false, amqp.Table{"x-queue-type": "classic"})
	expectChannelError(t, bob, err, codeAccessRefused,
		"ACCESS_REFUSED - configure access to queue 'orders' in vhost 'orders' refused for user 'bob'")
}

// TestPikaPermissionRefused: a second client, pika, sees a refused
// permission as RabbitMQ's 403 with its text.
func TestPikaPermissionRefused(t *testing.T) {
	if err := exec.Command(debianPython, "-c", "import pika").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
		}
		t.Skipf("%s cannot import pika (apt-get install python3-pika): %v", debianPython, err)
	}
	addr, _ := accessBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, debianPython, "pika/refused.py", amqpURL(addr, "app", "app-pw", "shop"), "other.mine").CombinedOutput()
	got := strings.TrimSpace(string(out))
	if err != nil {
		t.Fatalf("pika client: %v\n%s", err, got)
	}
	if want := "REFUSED 403 " + refusedText("configure", "queue", "other.mine"); got != want {
		t.Fatalf("pika client printed %q, want %q", got, want)
	}
}
