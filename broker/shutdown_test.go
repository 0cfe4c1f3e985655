package broker

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// shutdownTTL is the x-expires and message TTL of timedTopology: long
// enough for Close to come first, short enough to wait for.
const shutdownTTL = 300 * time.Millisecond

// timedTopology declares, on s, queues whose timers are armed: durable and
// transient queues with x-expires, and durable and transient queues whose
// messages expire (x-message-ttl, and a message's expiration) into a
// dead-letter exchange bound to the durable queue "dead".
func timedTopology(t *testing.T, s *Server) {
	t.Helper()
	c := dial(t, s)
	ch := openChannel(t, c)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ttl := int32(shutdownTTL / time.Millisecond)
	must(ch.ExchangeDeclare("dlx", "fanout", true, false, false, false, nil))
	_, err := ch.QueueDeclare("dead", true, false, false, false, nil)
	must(err)
	must(ch.QueueBind("dead", "", "dlx", false, nil))
	for _, q := range []struct {
		name    string
		durable bool
		args    amqp.Table
	}{
		{"dq-expires", true, amqp.Table{"x-expires": ttl}},
		{"tq-expires", false, amqp.Table{"x-expires": ttl}},
		{"dq-ttl", true, amqp.Table{"x-message-ttl": ttl, "x-dead-letter-exchange": "dlx"}},
		{"tq-ttl", false, amqp.Table{"x-dead-letter-exchange": "dlx"}},
	} {
		_, err := ch.QueueDeclare(q.name, q.durable, false, false, false, q.args)
		must(err)
	}
	must(ch.Confirm(false))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 2))
	confirmed(t, ch, confirms, "", "dq-ttl", amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("a")})
	confirmed(t, ch, confirms, "", "tq-ttl", amqp.Publishing{Expiration: "300", Body: []byte("b")})
}

// TestNothingRunsAfterClose: queue timers belong to their queues and
// Server.Close stops them. Once Close has returned, no x-expires or message
// TTL timer fires, nothing is dead-lettered, expired or written, and the
// definitions on disk are the ones at Close. A second server with the same
// queues, left running, shows the timers would have fired by then.
func TestNothingRunsAfterClose(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	dir := t.TempDir()
	s := startAt(t, dir, func(c *Config) { c.Logger = zap.New(core) })
	timedTopology(t, s)
	control := startServer(t)
	timedTopology(t, control)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	atClose := logs.Len()

	cv := control.vhost("/")
	eventually(t, "the control server's timers", func() bool {
		cv.mu.RLock()
		e := cv.queues["dead"]
		_, dq := cv.queues["dq-expires"]
		_, tq := cv.queues["tq-expires"]
		cv.mu.RUnlock()
		return !dq && !tq && e.q.Stats(context.Background()).Ready == 2
	})
	for _, e := range logs.All()[atClose:] {
		t.Errorf("after Close: %s %q %v", e.Level, e.Message, e.ContextMap())
	}

	s = startAt(t, dir)
	v := s.vhost("/")
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, name := range []string{"dq-expires", "dq-ttl", "dead"} {
		if v.queues[name] == nil {
			t.Errorf("durable queue %s gone after the restart", name)
		}
	}
}
