package console_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/broker"
)

// TestConsoleScreenshots writes PNGs of the main pages (overview,
// queues, a queue, users) into the folder WARREN_CONSOLE_SCREENSHOTS
// names, for the README (docs/console/); without it, it skips. It gives
// the node something to show: queues with messages, a consumer, a
// binding, a few users, and a publisher running while the charts sample.
func TestConsoleScreenshots(t *testing.T) {
	dir := os.Getenv("WARREN_CONSOLE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set WARREN_CONSOLE_SCREENSHOTS=dir to write the console's screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := startNode(t)
	ch := n.channel(t)
	populate(t, n, ch)
	ctx := newTab(t)
	run(t, ctx, chromedp.EmulateViewport(1280, 860), logIn(n, "", "guest", "guest"))

	// A publisher ahead of a slow consumer, while the overview samples.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for j := range 1 + i%7 {
				ch.Publish("orders", "orders.eu", false, false, amqp.Publishing{Body: fmt.Appendf(nil, "order %d-%d", i, j)})
			}
		}
	}()
	waitText(t, ctx, "#total-queues", 10*time.Second, func(s string) bool { return s == "6" })
	time.Sleep(26 * time.Second) // five samples for the charts: a screenshot shows what time makes
	close(stop)
	<-done
	shoot(t, ctx, filepath.Join(dir, "overview.png"))

	run(t, ctx, chromedp.Navigate(n.url("#/queues")))
	waitText(t, ctx, ".list .toolbar [role=status]", 10*time.Second, contains("6 in all"))
	shoot(t, ctx, filepath.Join(dir, "queues.png"))

	run(t, ctx, chromedp.Navigate(n.url("#/queues/%2F/orders.eu")))
	waitText(t, ctx, "#queue-consumers", 10*time.Second, func(s string) bool { return s == "1" })
	run(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`form[aria-label="Publish a message"] textarea[name=payload]`), `{"order": 1042, "total": 99.5}`),
		chromedp.Click(chromedp.CSS(`form[aria-label="Get messages"] button[type=submit]`)))
	waitText(t, ctx, `form[aria-label="Get messages"] .outcome`, 10*time.Second, contains("Got 1"))
	time.Sleep(11 * time.Second) // a few samples for the queue's chart
	shoot(t, ctx, filepath.Join(dir, "queue.png"))

	run(t, ctx, chromedp.Navigate(n.url("#/users")))
	waitText(t, ctx, `tr[data-key="reporting"]`, 10*time.Second, contains("monitoring"))
	shoot(t, ctx, filepath.Join(dir, "users.png"))
}

// populate declares what the screenshots show.
func populate(t *testing.T, n *node, ch *amqp.Channel) {
	t.Helper()
	if err := ch.ExchangeDeclare("orders", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		name  string
		args  amqp.Table
		count int
	}{
		{"orders.eu", nil, 0}, {"orders.us", amqp.Table{"x-queue-type": "quorum"}, 120},
		{"invoices", nil, 42}, {"emails", amqp.Table{"x-max-length": int32(10000)}, 1500},
		{"audit.log", nil, 7}, {"dead-letters", nil, 3},
	} {
		if _, err := ch.QueueDeclare(q.name, true, false, false, false, q.args); err != nil {
			t.Fatal(err)
		}
		for i := range q.count {
			ch.Publish("", q.name, false, false, amqp.Publishing{Body: fmt.Appendf(nil, "message %d", i)})
		}
	}
	if err := ch.QueueBind("orders.eu", "orders.eu.#", "orders", false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("orders.eu", "orders.eu", "orders", false, nil); err != nil {
		t.Fatal(err)
	}
	// A consumer that keeps up with about half of what arrives.
	cch, err := n.dial(t, "billing-service").Channel()
	if err != nil {
		t.Fatal(err)
	}
	cch.Qos(50, 0, false)
	deliveries, err := cch.Consume("orders.eu", "billing", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		i := 0
		for d := range deliveries {
			if i++; i%2 == 0 {
				d.Ack(false)
			} else {
				d.Nack(false, true)
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	pass := "secret"
	for _, u := range []struct{ name, tag string }{{"reporting", "monitoring"}, {"ops", "policymaker"}, {"orders-app", ""}} {
		spec := broker.UserSpec{Name: u.name, Password: &pass}
		if u.tag != "" {
			spec.Tags = []string{u.tag}
		}
		if err := n.b.PutUser(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		if err := n.b.SetPermissions(context.Background(), u.name, "/", broker.Permission{Configure: "^$", Write: "^orders", Read: ".*"}); err != nil {
			t.Fatal(err)
		}
	}
}

// shoot writes a PNG of the page as it is.
func shoot(t *testing.T, ctx context.Context, file string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", file, len(png))
}
