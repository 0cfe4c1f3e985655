// Package e2e holds Warren's black-box end-to-end tests: real clients
// (amqp091-go, Python pika, Node's amqplib from e2e/node, rabbitmq-c's
// amqp-tools, and a tiny raw-frame writer) over real TCP. The pika,
// amqplib and amqp-tools tests skip when their client is not installed
// (`make deps` installs them), and fail instead when CI is set.
//
// With WARREN_E2E_URL set (for example amqp://guest:guest@127.0.0.1:5674/)
// the suite runs against that external broker, which is how it is checked
// against RabbitMQ itself; otherwise it starts one in-process Warren for the
// whole test binary, and tests that need a non-default broker setting start
// their own.
//
//	go test -race ./e2e                                   # in-process Warren
//	WARREN_E2E_URL=amqp://guest:guest@127.0.0.1:5674/ \
//	  go test -race -tags e2e_nowarren ./e2e              # an external broker
//
// Against an external broker, WARREN_E2E_CONSUMER_TIMEOUT_MS (its
// consumer_timeout) enables the consumer-timeout test. With
// WARREN_E2E_LATE set, the in-process broker's classic queues answer late
// (queuetest.Late), as queues on another node would; `make test-late`
// runs the suite that way.
package e2e

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// lateQueues is true when the in-process broker's queues answer late
// (WARREN_E2E_LATE, see warren_test.go).
var lateQueues = os.Getenv("WARREN_E2E_LATE") != ""

// brokerURL is the AMQP URL of the broker every test talks to by default.
var brokerURL string

// external is true when brokerURL points at a broker this binary did not
// start (WARREN_E2E_URL).
var external bool

// warrenOptions are the broker settings a test may need to change.
type warrenOptions struct {
	Heartbeat        time.Duration
	ConsumerTimeout  time.Duration
	HandshakeTimeout time.Duration
	// MemoryHighWatermark is the heap size past which publishers are
	// blocked (0: the broker's default).
	MemoryHighWatermark int64
	// DataDir, when set, is used (and kept) instead of a fresh temporary
	// folder, so a test can restart a broker on the same data.
	DataDir string
	// LoadDefinitions is a definitions file the broker imports at start
	// (RabbitMQ's load_definitions).
	LoadDefinitions string
	// Started, when set, is handed the in-process broker (a
	// *broker.Server) once it listens, for tests that change what no
	// AMQP method changes (permissions, vhosts).
	Started func(srv any)
}

// startWarren starts an in-process Warren and returns its address and a
// stop function. It is nil when the in-process broker is not compiled in
// (see warren_test.go).
var startWarren func(opts warrenOptions) (addr string, stop func(), err error)

func TestMain(m *testing.M) {
	if u := os.Getenv("WARREN_E2E_URL"); u != "" {
		brokerURL = u
		external = true
		os.Exit(m.Run())
	}
	if startWarren == nil {
		fmt.Fprintln(os.Stderr, "e2e: no WARREN_E2E_URL and no in-process Warren compiled in; tests will skip")
		os.Exit(m.Run())
	}
	addr, stop, err := startWarren(warrenOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting Warren:", err)
		os.Exit(1)
	}
	brokerURL = "amqp://guest:guest@" + addr + "/"
	code := m.Run()
	stop()
	os.Exit(code)
}

// ownBroker starts a Warren with opts for one test and returns its URL.
// Against an external broker the test is skipped, since its settings
// cannot be changed from here.
func ownBroker(t *testing.T, opts warrenOptions) string {
	t.Helper()
	url, _ := ownBrokerStop(t, opts)
	return url
}

// ownBrokerStop is ownBroker that also returns a stop function, for tests
// that restart the broker; stop may be called more than once.
func ownBrokerStop(t *testing.T, opts warrenOptions) (string, func()) {
	t.Helper()
	if external {
		t.Skip("needs broker configuration; running against an external broker")
	}
	if startWarren == nil {
		t.Skip("no in-process Warren compiled in")
	}
	addr, stop, err := startWarren(opts)
	if err != nil {
		t.Fatalf("starting Warren: %v", err)
	}
	var once sync.Once
	stopOnce := func() { once.Do(stop) }
	t.Cleanup(stopOnce)
	return "amqp://guest:guest@" + addr + "/", stopOnce
}

// serverVersion is the external broker's reported version, read once.
var (
	serverVersion     string
	serverVersionOnce sync.Once
)

// isRabbit3 reports whether the suite runs against an external RabbitMQ 3.x.
func isRabbit3(t *testing.T) bool {
	t.Helper()
	if !external {
		return false
	}
	serverVersionOnce.Do(func() {
		c := dial(t)
		serverVersion, _ = c.Properties["version"].(string)
		_ = c.Close()
	})
	return strings.HasPrefix(serverVersion, "3.")
}

// skipOnRabbit310 skips the test when it runs against an external RabbitMQ
// 3.x, where the behaviour differs from the RabbitMQ 4.x behaviour the test
// asserts; why says how.
func skipOnRabbit310(t *testing.T, why string) {
	t.Helper()
	if isRabbit3(t) {
		t.Skipf("RabbitMQ %s differs from 4.x here: %s", serverVersion, why)
	}
}

// skipWithLateQueues skips the test when the in-process broker's queues
// answer late (WARREN_E2E_LATE), for a test whose bound assumes queues
// that answer at once; why says how.
func skipWithLateQueues(t *testing.T, why string) {
	t.Helper()
	if lateQueues && !external {
		t.Skipf("queues answer late (WARREN_E2E_LATE): %s", why)
	}
}
