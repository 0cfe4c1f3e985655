package broker

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue/store"
)

// startAt starts a broker on dir; the caller closes it (a cleanup closes
// it too, which is harmless after Close).
func startAt(t *testing.T, dir string, mod ...func(*Config)) *Server {
	t.Helper()
	cfg := Config{Listen: []string{"127.0.0.1:0"}, DataDir: dir, Logger: zap.NewNop()}
	for _, m := range mod {
		m(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// confirmed publishes msg and waits for its confirm.
func confirmed(t *testing.T, ch *amqp.Channel, confirms <-chan amqp.Confirmation, x, key string, msg amqp.Publishing) {
	t.Helper()
	publish(t, ch, x, key, msg)
	select {
	case c := <-confirms:
		if !c.Ack {
			t.Fatalf("publish %q nacked", msg.Body)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no confirm for %q", msg.Body)
	}
}

// savedBindings lists the bindings of vhost / between durable things, as
// strings, for comparing across a restart.
func bindingList(s *Server) []string {
	var out []string
	for _, b := range s.vhost("/").router.Bindings() {
		out = append(out, b.Source+" -> "+b.Destination.String()+" key="+b.Key+" args="+string(meta.BindingKey(nil, exchange.Binding{Args: b.Args})))
	}
	slices.Sort(out)
	return out
}

// TestRestartKeepsDurableDefinitionsAndMessages: across Close and a new
// server on the same data dir, durable exchanges, queues, bindings and
// their arguments come back, transient ones do not; persistent messages
// come back (the unacked one redelivered), acked and transient ones do not.
func TestRestartKeepsDurableDefinitionsAndMessages(t *testing.T) {
	dir := t.TempDir()
	s := startAt(t, dir)
	c := dial(t, s)
	ch := openChannel(t, c)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 16))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ch.ExchangeDeclare("ae", "fanout", true, false, false, false, nil))
	must(ch.ExchangeDeclare("dx", "topic", true, false, false, false, amqp.Table{"alternate-exchange": "ae"}))
	must(ch.ExchangeDeclare("dx2", "headers", true, true, false, false, nil))
	must(ch.ExchangeDeclare("tx", "direct", false, false, false, false, nil))
	qargs := amqp.Table{"x-max-length": int32(100), "x-dead-letter-exchange": "ae", "x-message-ttl": int64(3600000)}
	_, err := ch.QueueDeclare("dq", true, false, false, false, qargs)
	must(err)
	_, err = ch.QueueDeclare("dq-gone", true, false, false, false, nil)
	must(err)
	_, err = ch.QueueDeclare("tq", false, false, false, false, nil)
	must(err)
	_, err = ch.QueueDeclare("eq", true, false, true, false, nil) // exclusive: never saved
	must(err)
	must(ch.QueueBind("dq", "a.#", "dx", false, amqp.Table{"k": "v", "n": int32(7)}))
	must(ch.QueueBind("dq", "", "amq.fanout", false, nil))
	must(ch.QueueBind("dq", "", "ae", false, nil))
	must(ch.QueueBind("dq", "unbound", "dx", false, nil))
	must(ch.QueueBind("dq-gone", "x", "dx", false, nil))
	must(ch.QueueBind("tq", "a.#", "dx", false, nil)) // transient destination
	must(ch.QueueBind("dq", "k", "tx", false, nil))   // transient source
	must(ch.QueueBind("eq", "k", "dx", false, nil))   // exclusive destination
	must(ch.ExchangeBind("dx2", "b.*", "dx", false, amqp.Table{"x-match": "any"}))
	must(ch.QueueUnbind("dq", "unbound", "dx", nil))
	_, err = ch.QueueDelete("dq-gone", false, false, false)
	must(err)

	for _, b := range []string{"p1", "p2", "p3"} {
		confirmed(t, ch, confirms, "dx", "a.b", amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(b), MessageId: b})
	}
	confirmed(t, ch, confirms, "dx", "a.b", amqp.Publishing{DeliveryMode: amqp.Transient, Body: []byte("t1")})
	confirmed(t, ch, confirms, "", "tq", amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("in tq")})
	// p1 is acked, p2 delivered and unacked at shutdown.
	for i, want := range []string{"p1", "p2"} {
		d, ok, err := ch.Get("dq", false)
		must(err)
		if !ok || string(d.Body) != want {
			t.Fatalf("get %d: %q %v", i, d.Body, ok)
		}
		if want == "p1" {
			must(d.Ack(false))
		}
	}
	// A round trip makes sure the ack was handled before the shutdown.
	_, err = ch.QueueDeclarePassive("dq", true, false, false, false, qargs)
	must(err)
	want := []string{
		"amq.fanout -> queue 'dq' key= args=" + string(meta.BindingKey(nil, exchange.Binding{})),
		"ae -> queue 'dq' key= args=" + string(meta.BindingKey(nil, exchange.Binding{})),
		"dx -> exchange 'dx2' key=b.* args=" + string(meta.BindingKey(nil, exchange.Binding{Args: map[string]any{"x-match": "any"}})),
		"dx -> queue 'dq' key=a.# args=" + string(meta.BindingKey(nil, exchange.Binding{Args: map[string]any{"k": "v", "n": int32(7)}})),
	}
	slices.Sort(want)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// An orphan log (a queue deleted while its directory stayed) goes at
	// start-up; the log of the deleted queue is gone already.
	orphan := filepath.Join(dir, queuesDir, store.LogID("/", "never-saved"))
	must(os.MkdirAll(orphan, 0o755))

	s = startAt(t, dir)
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan log still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, queuesDir, store.LogID("/", "dq-gone"))); !os.IsNotExist(err) {
		t.Errorf("log of the deleted queue still there: %v", err)
	}
	if got := bindingList(s); !slices.Equal(got, want) {
		t.Errorf("bindings after restart:\n%q\nwant\n%q", got, want)
	}
	c = dial(t, s)
	ch = openChannel(t, c)
	q, err := ch.QueueDeclarePassive("dq", true, false, false, false, nil)
	must(err)
	if q.Messages != 2 {
		t.Errorf("dq holds %d messages, want p2 and p3", q.Messages)
	}
	// The arguments came back: a redeclare without them is inequivalent.
	if _, err := ch.QueueDeclare("dq", true, false, false, false, nil); amqpCode(err) != 406 {
		t.Errorf("redeclare of dq without its arguments: %v", err)
	}
	ch = openChannel(t, c)
	if _, err := ch.QueueDeclare("dq", true, false, false, false, qargs); err != nil {
		t.Errorf("equivalent redeclare: %v", err)
	}
	if err := ch.ExchangeDeclare("dx", "topic", true, false, false, false, nil); amqpCode(err) != 406 {
		t.Errorf("redeclare of dx without its alternate exchange: %v", err)
	}
	ch = openChannel(t, c)
	must(ch.ExchangeDeclare("dx", "topic", true, false, false, false, amqp.Table{"alternate-exchange": "ae"}))
	must(ch.ExchangeDeclare("dx2", "headers", true, true, false, false, nil))
	for _, gone := range []string{"tq", "eq", "dq-gone"} {
		if _, err := ch.QueueDeclarePassive(gone, false, false, false, false, nil); amqpCode(err) != 404 {
			t.Errorf("queue %s after restart: %v", gone, err)
		}
		ch = openChannel(t, c)
	}
	if err := ch.ExchangeDeclarePassive("tx", "direct", false, false, false, false, nil); amqpCode(err) != 404 {
		t.Errorf("transient exchange after restart: %v", err)
	}
	ch = openChannel(t, c)
	for _, want := range []string{"p2", "p3"} {
		d, ok, err := ch.Get("dq", true)
		must(err)
		if !ok || string(d.Body) != want || d.MessageId != want {
			t.Fatalf("got %q (%v), want %q", d.Body, ok, want)
		}
		if !d.Redelivered {
			t.Errorf("%s recovered without the redelivered flag", want)
		}
	}
	if _, ok, _ := ch.Get("dq", true); ok {
		t.Error("more messages than p2 and p3 came back")
	}
	// The recovered binding routes; the alternate exchange too.
	publish(t, ch, "dx", "a.z", amqp.Publishing{Body: []byte("routed")})
	publish(t, ch, "dx", "nowhere", amqp.Publishing{Body: []byte("via ae")})
	for _, want := range []string{"routed", "via ae"} {
		var d amqp.Delivery
		eventually(t, "a message in dq", func() bool {
			var ok bool
			d, ok, err = ch.Get("dq", true)
			must(err)
			return ok
		})
		if string(d.Body) != want {
			t.Errorf("got %q, want %q", d.Body, want)
		}
	}

	// Deleting a durable exchange and a queue is saved too.
	must(ch.ExchangeDelete("dx2", false, false))
	_, err = ch.QueueDelete("dq", false, false, false)
	must(err)
	must(s.Close())
	s = startAt(t, dir)
	if got := bindingList(s); len(got) != 0 {
		t.Errorf("bindings left after deleting dq and dx2: %q", got)
	}
	if s.vhost("/").exchange("dx2") != nil || s.vhost("/").exchange("dx") == nil {
		t.Error("exchange deletes not saved")
	}
	ids, err := os.ReadDir(filepath.Join(dir, queuesDir))
	must(err)
	if len(ids) != 0 {
		t.Errorf("queue logs left: %v", ids)
	}
}
