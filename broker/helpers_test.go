package broker

import (
	"os"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/queuetest"
)

// startServer starts a broker on a free port and closes it when the test
// ends.
func startServer(t testing.TB, mod ...func(*Config)) *Server {
	t.Helper()
	var log *zap.Logger
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		log = zaptest.NewLogger(tt)
	} else {
		log = zap.NewNop()
	}
	cfg := Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: log}
	if lateClassic {
		cfg.WrapClassic = wrapLate
	}
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
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// lateClassic makes the servers the tests start reach classic queues
// late (WARREN_TEST_LATE): every session operation completes on another
// goroutine after a random delay, as a queue on another node would.
var lateClassic = os.Getenv("WARREN_TEST_LATE") != ""

// skipWithLateClassic skips a test whose bound assumes classic queues
// that answer at once; why says how.
func skipWithLateClassic(t *testing.T, why string) {
	t.Helper()
	if lateClassic {
		t.Skipf("classic queues answer late (WARREN_TEST_LATE): %s", why)
	}
}

// wrapLate is Config.WrapClassic for lateClassic.
func wrapLate(t queue.Type) queue.Type { return &queuetest.Late{Inner: t} }

func url(s *Server) string {
	return "amqp://guest:guest@" + s.Addr().String() + "/"
}

// dial connects a client and closes it when the test ends.
func dial(t testing.TB, s *Server) *amqp.Connection {
	t.Helper()
	c, err := amqp.Dial(url(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openChannel(t testing.TB, c *amqp.Connection) *amqp.Channel {
	t.Helper()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// amqpErr returns the AMQP error code of err, or 0.
func amqpCode(err error) int {
	if e, ok := err.(*amqp.Error); ok {
		return e.Code
	}
	return 0
}

func recvOne(t testing.TB, ch <-chan amqp.Delivery) amqp.Delivery {
	t.Helper()
	select {
	case d, ok := <-ch:
		if !ok {
			t.Fatal("delivery channel closed")
		}
		return d
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a delivery")
	}
	return amqp.Delivery{}
}
