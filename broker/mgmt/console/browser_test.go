package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/mgmt"
)

// The console's tests drive Debian's headless Chromium (`make deps`
// installs it) with chromedp against a real node and its API on
// loopback; they skip when Chromium is missing, and fail under CI.

// browser is one Chromium for the package's tests; each test opens a
// tab of its own. TestMain closes it.
var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel()
	}
	os.Exit(code)
}

// chromiumPath finds Chromium, or returns "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newTab opens a tab in the shared browser, skipping the test (failing
// it under CI) when there is no Chromium. The tab closes with the test.
func newTab(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath()
	if exe == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium not found (make deps installs Debian's chromium)")
		}
		t.Skip("chromium not found (make deps installs Debian's chromium)")
	}
	browser.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.WindowSize(1280, 900), chromedp.Flag("lang", "en-US"))
		alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(alloc)
		browser.ctx = ctx
		browser.cancel = func() { cancel(); cancelAlloc() }
		browser.err = chromedp.Do(ctx) // starts the browser
	})
	if browser.err != nil {
		t.Fatalf("starting chromium: %v", browser.err)
	}
	tab, closeTab := chromedp.NewContext(browser.ctx)
	if err := chromedp.Do(tab); err != nil { // opens the tab, with no deadline
		closeTab()
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(func() { cancel(); closeTab() })
	return ctx
}

// node is a broker with its management API, both on loopback ports of
// their own.
type node struct {
	b   *broker.Server
	api *mgmt.Server
}

func startNode(t testing.TB) *node {
	t.Helper()
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	api := mgmt.New(mgmt.Config{Broker: b})
	if err := api.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	return &node{b: b, api: api}
}

func (n *node) url(hash string) string { return "http://" + n.api.Addr().String() + "/" + hash }

func (n *node) amqpURL(user, pass string) string {
	return fmt.Sprintf("amqp://%s:%s@%s/", user, pass, n.b.Listeners()[0].Addr)
}

// dial opens an AMQP connection as guest; the test closes it.
func (n *node) dial(t testing.TB, name string) *amqp.Connection {
	t.Helper()
	props := amqp.NewConnectionProperties()
	if name != "" {
		props.SetClientConnectionName(name)
	}
	c, err := amqp.DialConfig(n.amqpURL("guest", "guest"), amqp.Config{Properties: props})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// channel opens a channel on a fresh connection.
func (n *node) channel(t testing.TB) *amqp.Channel {
	t.Helper()
	ch, err := n.dial(t, "").Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// logIn opens the console at hash and logs in.
func logIn(n *node, hash, user, pass string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(n.url(hash)),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), user),
		chromedp.SendKeys(chromedp.ID("login-pass"), pass),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("app")),
	)
}

// waitText polls sel's text until want(text) holds or the deadline passes.
func waitText(t *testing.T, ctx context.Context, sel string, d time.Duration, want func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		qctx, cancel := context.WithDeadline(ctx, deadline)
		text, err := chromedp.Run(qctx, chromedp.TextContent(chromedp.CSS(sel)))
		cancel()
		if err == nil && want(text) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: text %q (err %v) after %v", sel, text, err, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func contains(s string) func(string) bool {
	return func(x string) bool { return strings.Contains(x, s) }
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleServesFiles: the page, its modules and its style sheet
// come from the management port with their types and an ETag that
// answers 304; /api/ stays the API; folders are not listed.
func TestConsoleServesFiles(t *testing.T) {
	n := startNode(t)
	base := "http://" + n.api.Addr().String()
	for _, c := range []struct {
		path, ctype string
		status      int
	}{
		{"/", "text/html", 200},
		{"/js/main.js", "text/javascript", 200},
		{"/console.css", "text/css", 200},
		{"/js/", "text/plain", 404},
		{"/no-such-file.js", "text/plain", 404},
		{"/api/overview", "", 401},
	} {
		status, hdr := get(t, base+c.path, "")
		if status != c.status || !strings.HasPrefix(hdr.Get("Content-Type"), c.ctype) {
			t.Errorf("GET %s: %d %q; want %d %q", c.path, status, hdr.Get("Content-Type"), c.status, c.ctype)
		}
		if c.status == 200 {
			if again, _ := get(t, base+c.path, hdr.Get("ETag")); again != 304 {
				t.Errorf("GET %s with If-None-Match %s: %d; want 304", c.path, hdr.Get("ETag"), again)
			}
		}
	}
}

// TestConsoleLogIn: a wrong password is refused with the API's text (and
// no browser dialog: the challenge is dropped for the console), the
// right one shows the user, and logging out forgets the credentials,
// even across a reload.
func TestConsoleLogIn(t *testing.T) {
	n := startNode(t)
	ctx := newTab(t)
	run(t, ctx,
		chromedp.Navigate(n.url("")),
		chromedp.WaitVisible(chromedp.ID("login-user")),
		chromedp.SendKeys(chromedp.ID("login-user"), "guest"),
		chromedp.SendKeys(chromedp.ID("login-pass"), "wrong"),
		chromedp.Click(chromedp.CSS(`#login-form button[type=submit]`)))
	waitText(t, ctx, "#login-error", 10*time.Second, contains("Login failed"))

	run(t, ctx, logIn(n, "", "guest", "guest"))
	waitText(t, ctx, "#whoami", 10*time.Second, contains("guest (administrator)"))
	waitText(t, ctx, "#total-queues", 10*time.Second, func(s string) bool { return s == "0" })

	run(t, ctx, chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login")))
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(sessionStorage.getItem('warren.credentials'))`))
	if err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("login-user")))
	if stored != "null" {
		t.Errorf("after log out, sessionStorage holds %q", stored)
	}
}

// TestConsoleQueueDepth: a queue's page follows its depth as messages
// are published through amqp091-go, by itself (the 5 s refresh).
func TestConsoleQueueDepth(t *testing.T) {
	n := startNode(t)
	ch := n.channel(t)
	if _, err := ch.QueueDeclare("depth-q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	run(t, ctx, logIn(n, "#/queues/%2F/depth-q", "guest", "guest"))
	waitText(t, ctx, "#queue-messages_ready", 10*time.Second, func(s string) bool { return s == "0" })
	for i := range 3 {
		if err := ch.Publish("", "depth-q", false, false, amqp.Publishing{Body: fmt.Appendf(nil, "m%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitText(t, ctx, "#queue-messages_ready", 15*time.Second, func(s string) bool { return s == "3" })
	waitText(t, ctx, "#queue-messages", 1*time.Second, func(s string) bool { return s == "3" })
}

// TestConsolePublishAndGet: a message published from the queue's page
// comes back from its "Get messages" form, taken off the queue with
// the "ack" mode.
func TestConsolePublishAndGet(t *testing.T) {
	n := startNode(t)
	ch := n.channel(t)
	if _, err := ch.QueueDeclare("pg-q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	pub := `form[aria-label="Publish a message"]`
	get := `form[aria-label="Get messages"]`
	run(t, ctx, logIn(n, "#/queues/%2F/pg-q", "guest", "guest"),
		chromedp.WaitVisible(chromedp.CSS(pub)),
		chromedp.SendKeys(chromedp.CSS(pub+` textarea[name=payload]`), "hello from the console"),
		chromedp.Click(chromedp.CSS(pub+` button[type=submit]`)))
	waitText(t, ctx, pub+` .outcome`, 10*time.Second, contains("routed to a queue"))
	if q, err := ch.QueueDeclarePassive("pg-q", false, false, false, false, nil); err != nil || q.Messages != 1 {
		t.Fatalf("after publishing: %+v, %v; want 1 message", q, err)
	}
	run(t, ctx,
		chromedp.SetValue(chromedp.CSS(get+` select[name=ackmode]`), "ack_requeue_false"),
		chromedp.Click(chromedp.CSS(get+` button[type=submit]`)))
	waitText(t, ctx, get+` .outcome`, 10*time.Second, contains("Got 1 message"))
	waitText(t, ctx, get+` .payload`, time.Second, func(s string) bool { return s == "hello from the console" })
	if q, err := ch.QueueDeclarePassive("pg-q", false, false, false, false, nil); err != nil || q.Messages != 0 {
		t.Fatalf("after getting with ack: %+v, %v; want none left", q, err)
	}
}

// TestConsoleCreateUser: a user added on the users page, with
// permissions on "/", logs in through AMQP.
func TestConsoleCreateUser(t *testing.T) {
	n := startNode(t)
	ctx := newTab(t)
	add := `form[aria-label="Add or change a user"]`
	perm := `form[aria-label="Set permissions"]`
	run(t, ctx, logIn(n, "#/users", "guest", "guest"),
		chromedp.WaitVisible(chromedp.CSS(add)),
		chromedp.SendKeys(chromedp.CSS(add+` input[name=name]`), "console-user"),
		chromedp.SendKeys(chromedp.CSS(add+` input[name=password]`), "s3cret pass"),
		chromedp.Click(chromedp.CSS(add+` input[value=management]`)),
		chromedp.Click(chromedp.CSS(add+` button[type=submit]`)))
	waitText(t, ctx, add+` .outcome`, 10*time.Second, contains("Saved user console-user"))
	waitText(t, ctx, `tr[data-key="console-user"]`, 10*time.Second, contains("management"))

	if c, err := amqp.Dial(n.amqpURL("console-user", "s3cret%20pass")); err == nil {
		c.Close()
		t.Fatal("console-user connected before having permissions on /")
	}
	run(t, ctx,
		chromedp.SendKeys(chromedp.CSS(perm+` input[name=user]`), "console-user"),
		chromedp.Click(chromedp.CSS(perm+` button[type=submit]`)))
	waitText(t, ctx, perm+` .outcome`, 10*time.Second, contains("Set the permissions of console-user on /"))
	c, err := amqp.Dial(n.amqpURL("console-user", "s3cret%20pass"))
	if err != nil {
		t.Fatalf("console-user through AMQP: %v", err)
	}
	c.Close()
}

// TestConsoleImportDefinitions: a definitions file uploaded on the
// definitions page creates its queue, which the queues list then shows.
func TestConsoleImportDefinitions(t *testing.T) {
	n := startNode(t)
	file := t.TempDir() + "/defs.json"
	defs := `{"queues":[{"name":"imported-q","vhost":"/","durable":true,"auto_delete":false,"arguments":{"x-max-length":7}}]}`
	if err := os.WriteFile(file, []byte(defs), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	imp := `form[aria-label="Import"]`
	run(t, ctx, logIn(n, "#/definitions", "guest", "guest"),
		chromedp.WaitVisible(chromedp.CSS(imp)),
		chromedp.SetUploadFiles(chromedp.CSS(imp+` input[type=file]`), []string{file}),
		chromedp.Click(chromedp.CSS(imp+` button[type=submit]`)))
	waitText(t, ctx, imp+` .outcome`, 10*time.Second, contains("Imported defs.json"))

	run(t, ctx, chromedp.Navigate(n.url("#/queues")),
		chromedp.WaitVisible(chromedp.CSS(`input[data-filter]`)),
		chromedp.SendKeys(chromedp.CSS(`input[data-filter]`), "imported"))
	waitText(t, ctx, `.list tbody`, 10*time.Second, contains("imported-q"))
	waitText(t, ctx, `.list .toolbar [role=status]`, time.Second, contains("1 matching, 1 in all"))
}

// TestConsoleCloseConnection: "Close…" on the connections page closes
// the client's connection with 320 and the reason typed.
func TestConsoleCloseConnection(t *testing.T) {
	n := startNode(t)
	conn := n.dial(t, "console-victim")
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	ctx := newTab(t)
	row := `//tr[contains(., "console-victim")]`
	run(t, ctx, logIn(n, "#/connections", "guest", "guest"),
		chromedp.WaitVisible(chromedp.Search(row)),
		chromedp.Click(chromedp.Search(row+`//button[contains(., "Close")]`)),
		chromedp.WaitVisible(chromedp.ID("ask-input")),
		chromedp.SetValue(chromedp.ID("ask-input"), "maintenance from the console"),
		chromedp.Click(chromedp.ID("ask-ok")))
	select {
	case err := <-closed:
		if err == nil || err.Code != amqp.ConnectionForced || !strings.Contains(err.Reason, "maintenance from the console") {
			t.Fatalf("connection closed with %v; want 320 with the reason", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection was not closed")
	}
	waitText(t, ctx, "#status", 10*time.Second, contains("Closed the connection"))
}

// TestConsoleEveryPage: each page mounts, fetches its data and shows
// it with no error in the status line, for an administrator on a node
// with an exchange, a bound queue, a policy and a vhost limit.
func TestConsoleEveryPage(t *testing.T) {
	n := startNode(t)
	ch := n.channel(t)
	if err := ch.ExchangeDeclare("every-x", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("every-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("every-q", "a.#", "every-x", false, nil); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t)
	run(t, ctx, logIn(n, "", "guest", "guest"))
	for _, p := range []struct{ hash, heading, shows string }{
		{"#/", "Overview", "No alarms"},
		{"#/connections", "Connections", "Connections: 1–1 of 1 in all"},
		{"#/channels", "Channels", "Channels: 1–1 of 1 in all"},
		{"#/exchanges", "Exchanges", "every-x"},
		{"#/exchanges/%2F/every-x", "Exchange every-x", "a.#"},
		{"#/exchanges/%2F/amq.default", "Exchange (default exchange)", "direct"},
		{"#/queues", "Queues", "every-q"},
		{"#/queues/%2F/every-q", "Queue every-q", "every-x"},
		{"#/users", "Users", "guest"},
		{"#/vhosts", "Virtual hosts", "Virtual hosts: 1–1 of 1 in all"},
		{"#/policies", "Policies", "No operator policies."},
		{"#/definitions", "Definitions", "This broker has 1 queues"},
		{"#/nodes", "Nodes", n.b.NodeName()},
	} {
		run(t, ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("location.hash = %q", p.hash)))
		waitText(t, ctx, "#main h2", 10*time.Second, func(s string) bool { return s == p.heading })
		waitText(t, ctx, "#main", 10*time.Second, contains(p.shows))
		status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('status').hidden ? '' : document.getElementById('status').textContent`))
		if err != nil || status != "" {
			t.Errorf("%s: status line %q (%v)", p.hash, status, err)
		}
	}
}
