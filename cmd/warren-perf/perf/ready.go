package perf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// ReadyConfig says which broker and queue [WaitReady] waits for.
type ReadyConfig struct {
	// URI is the broker URL.
	URI string
	// Queue is the queue that must answer a passive queue.declare.
	Queue string
	// Since is the instant the wait is measured from (for example when the
	// broker process was started); zero means the start of the wait.
	Since time.Time
	// Timeout bounds the whole wait, counted from the start of the wait.
	Timeout time.Duration
	// DialTimeout bounds each connection attempt (TCP connect and AMQP
	// handshake).
	DialTimeout time.Duration
	// Interval is the pause between failed attempts.
	Interval time.Duration
	// Get makes the wait go on, once the queue answers the passive
	// declare, until a basic.get returns a message (which is then
	// requeued): a queue may be declared before it can deliver, as a
	// RabbitMQ quorum queue still recovering its log is.
	Get bool
}

// DefaultReadyConfig is a 30 s wait for a queue on a local broker, dialling
// with a 1 s timeout and retrying every 2 ms.
func DefaultReadyConfig() ReadyConfig {
	return ReadyConfig{
		URI:         "amqp://guest:guest@127.0.0.1:5672/",
		Timeout:     30 * time.Second,
		DialTimeout: time.Second,
		Interval:    2 * time.Millisecond,
	}
}

// Validate reports a configuration [WaitReady] cannot use.
func (c ReadyConfig) Validate() error {
	if c.Queue == "" {
		return errors.New("a queue name is needed")
	}
	if u, err := url.Parse(c.URI); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
		return fmt.Errorf("bad broker URL %q: want amqp://user:pass@host:port/vhost", RedactURI(c.URI))
	}
	if c.Timeout <= 0 || c.DialTimeout <= 0 || c.Interval <= 0 {
		return errors.New("timeout, dial timeout and interval must be positive")
	}
	return nil
}

// ReadyResult is what [WaitReady] found. It is what `warren-perf ready
// --json` prints.
type ReadyResult struct {
	// Broker is the broker URL, password hidden.
	Broker string `json:"broker"`
	// Queue is the queue declared.
	Queue string `json:"queue"`
	// Ready tells whether the passive declare succeeded before the timeout.
	Ready bool `json:"ready"`
	// ServingAfter is the time from Since to the passive declare's reply.
	ServingAfter time.Duration `json:"-"`
	// ServingAfterMillis is ServingAfter in milliseconds.
	ServingAfterMillis float64 `json:"serving_after_ms"`
	// Messages is the queue's ready message count from the declare-ok.
	Messages int `json:"messages"`
	// Consumers is the queue's consumer count from the declare-ok.
	Consumers int `json:"consumers"`
	// Attempts counts passive declares and failed dials.
	Attempts int `json:"attempts"`
	// LastError is the last failure seen, when the wait timed out.
	LastError string `json:"error,omitempty"`
	// Got tells, with Get, whether a basic.get returned a message.
	Got bool `json:"got,omitempty"`
	// GetAfter is, with Get, the time from Since to the first basic.get
	// that returned a message.
	GetAfter time.Duration `json:"-"`
	// GetAfterMillis is GetAfter in milliseconds, with Get.
	GetAfterMillis *float64 `json:"get_after_ms,omitempty"`
}

// errGetEmpty is the last error of a wait for basic.get on a queue that
// stayed empty.
var errGetEmpty = errors.New("basic.get found the queue empty")

// WaitReady dials the broker and passively declares the queue until the
// declare succeeds, the timeout passes or ctx ends; with Get it goes on
// until a basic.get returns a message. A refused or failed connection is
// redialled; a connection that works but lacks the queue (404) is kept and
// a new channel is opened. On success the result holds how long after
// Since the broker answered (and served a basic.get) and the queue's
// message count; on timeout it returns the result (Ready or Got false,
// LastError set) and an error.
func WaitReady(ctx context.Context, cfg ReadyConfig) (ReadyResult, error) {
	res := ReadyResult{Broker: RedactURI(cfg.URI), Queue: cfg.Queue}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	start := time.Now()
	since := cfg.Since
	if since.IsZero() {
		since = start
	}
	ctx, cancel := context.WithDeadline(ctx, start.Add(cfg.Timeout))
	defer cancel()
	deadline, _ := ctx.Deadline()

	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("warren-perf ready")
	var conn *amqp.Connection
	var unwatch func() bool
	defer func() {
		if conn != nil {
			unwatch()
			conn.Close()
		}
	}()
	pause := time.NewTimer(0)
	defer pause.Stop()
	var last error
	// fail keeps the last error, unless the wait's own deadline caused it
	// (a connection it closed, a dial it cut short): the cause stays.
	fail := func(err error) {
		if last == nil || ctx.Err() == nil {
			last = err
		}
	}
	for {
		select {
		case <-ctx.Done():
			res.LastError = fmt.Sprint(last)
			what := "served"
			if res.Ready {
				what = "delivering to basic.get"
			}
			return res, fmt.Errorf("queue %q on %s not %s within %v (%d attempts; last error: %v)",
				cfg.Queue, res.Broker, what, cfg.Timeout, res.Attempts, last)
		case <-pause.C:
		}
		res.Attempts++
		if conn == nil || conn.IsClosed() {
			if conn != nil {
				unwatch()
			}
			dial := min(cfg.DialTimeout, time.Until(deadline))
			var err error
			conn, err = amqp.DialConfig(cfg.URI, amqp.Config{
				Properties: props,
				Dial:       dialerWithin(ctx, dial),
			})
			if err != nil {
				fail(err)
				conn = nil
				pause.Reset(cfg.Interval)
				continue
			}
			// A broker that accepted the connection but stalls must not
			// hold the wait past its deadline: closing the connection ends
			// any RPC in progress.
			c := conn
			unwatch = context.AfterFunc(ctx, func() { c.Close() })
		}
		ch, err := conn.Channel()
		if err == nil && !res.Ready {
			err = declarePassive(ch, cfg.Queue, since, &res)
		}
		if err == nil && cfg.Get {
			err = getOne(ch, cfg.Queue, since, &res)
		}
		if ch != nil {
			ch.Close()
		}
		if err == nil {
			return res, nil
		}
		fail(err)
		pause.Reset(cfg.Interval)
	}
}

// declarePassive declares the queue passively and, when it answers,
// records when and what it holds.
func declarePassive(ch *amqp.Channel, queue string, since time.Time, res *ReadyResult) error {
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	if err != nil {
		return err
	}
	res.ServingAfter = time.Since(since)
	res.ServingAfterMillis = float64(res.ServingAfter) / float64(time.Millisecond)
	res.Ready, res.Messages, res.Consumers = true, q.Messages, q.Consumers
	return nil
}

// getOne takes one message with basic.get and gives it back (nack with
// requeue), recording when it came.
func getOne(ch *amqp.Channel, queue string, since time.Time, res *ReadyResult) error {
	d, ok, err := ch.Get(queue, false)
	if err != nil {
		return err
	}
	if !ok {
		return errGetEmpty
	}
	res.GetAfter = time.Since(since)
	ms := float64(res.GetAfter) / float64(time.Millisecond)
	res.Got, res.GetAfterMillis = true, &ms
	return d.Nack(false, true)
}

// dialerWithin connects with the given timeout, abandons the attempt when
// ctx ends, and bounds the AMQP handshake by the same timeout.
func dialerWithin(ctx context.Context, timeout time.Duration) func(network, addr string) (net.Conn, error) {
	return func(network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: timeout}
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// amqp091-go clears the deadline once the handshake is done.
		if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

// WriteText prints the result as one line, and one more for basic.get.
func (r ReadyResult) WriteText(w io.Writer) {
	if !r.Ready {
		fmt.Fprintf(w, "not serving: queue %s on %s (%d attempts; last error: %s)\n", r.Queue, r.Broker, r.Attempts, r.LastError)
		return
	}
	fmt.Fprintf(w, "serving after %v: queue %s holds %d messages, %d consumers (%d attempts)\n",
		r.ServingAfter.Round(10*time.Microsecond), r.Queue, r.Messages, r.Consumers, r.Attempts)
	if r.Got {
		fmt.Fprintf(w, "basic.get served after %v\n", r.GetAfter.Round(10*time.Microsecond))
	}
}

// WriteJSON prints the result as one JSON object on one line.
func (r ReadyResult) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
