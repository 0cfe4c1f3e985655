package perf

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Exchange types understood by the tool.
const (
	// ExchangeDirect routes a message to the queues bound with its routing key.
	ExchangeDirect = "direct"
	// ExchangeFanout routes a message to every bound queue.
	ExchangeFanout = "fanout"
	// ExchangeTopic routes by dotted patterns with * and # wildcards.
	ExchangeTopic = "topic"
	// ExchangeHeaders routes by matching message headers (x-match=all).
	ExchangeHeaders = "headers"
)

// StampSize is the number of body bytes the stamp takes; smaller message
// sizes are raised to it.
const StampSize = 16

// Config describes one load scenario. The zero value is not usable: start
// from [DefaultConfig].
type Config struct {
	// Name labels the scenario in reports.
	Name string
	// URIs are the brokers' AMQP URLs; connections are spread over them in turn.
	URIs []string
	// PublishURIs, when set, are the URLs producers connect to, in turn,
	// instead of URIs (e.g. one node of a cluster).
	PublishURIs []string
	// ConsumeURIs, when set, are the URLs consumers connect to, in turn,
	// instead of URIs.
	ConsumeURIs []string
	// DeclareURI, when set, is the URL the topology is declared and deleted
	// on instead of URIs[0]: with client-local placement, the node a queue
	// lives on.
	DeclareURI string
	// Producers is the number of publishing connections, one channel each.
	Producers int
	// Consumers is the number of consuming connections per queue.
	Consumers int
	// Size is the message body size in bytes (at least StampSize).
	Size int
	// Duration bounds the measured window; zero means until Count is reached.
	Duration time.Duration
	// Count is the number of messages each producer publishes; zero means unbounded.
	Count int64
	// Rate limits each producer to this many messages a second; zero is unlimited.
	Rate float64
	// Persistent publishes with delivery mode 2 and declares durable queues.
	Persistent bool
	// ConfirmWindow enables publisher confirms and bounds the unconfirmed
	// messages per producer; zero disables confirms.
	ConfirmWindow int
	// Prefetch is the consumer's basic.qos prefetch count; zero is unlimited.
	Prefetch int
	// MultiAckEvery acknowledges with multiple=true every N deliveries; 0 or 1
	// acknowledges each delivery on its own.
	MultiAckEvery int
	// AutoAck consumes without acknowledgements.
	AutoAck bool
	// Queues is the number of queues the scenario declares.
	Queues int
	// QueuePrefix names generated queues PREFIX-0, PREFIX-1, ...; empty picks
	// a unique prefix and deletes the queues afterwards.
	QueuePrefix string
	// QueueArgs are the x-arguments for queue.declare (e.g. x-queue-type=quorum).
	QueueArgs map[string]any
	// ExchangeType is direct, fanout, topic or headers.
	ExchangeType string
	// Exchange names the exchange; empty uses the default exchange for a plain
	// direct run (no keys given, one binding per queue) and otherwise a
	// generated exchange that is deleted afterwards.
	Exchange string
	// RoutingKeys, when set, are cycled through by every producer; otherwise
	// each producer targets its own queue.
	RoutingKeys []string
	// BindingKeys, when set, bind every queue with each of these keys.
	BindingKeys []string
	// BindingsPerQueue binds each queue this many times with distinct keys when
	// BindingKeys is empty (topic and direct); producers cycle through them.
	BindingsPerQueue int
	// Mandatory publishes with the mandatory flag so unroutable messages return.
	Mandatory bool
	// MaxInFlight bounds each producer's deliveries routed but not yet
	// consumed (a fanout message counts once per queue); zero is unbounded.
	// 1 is one message in flight at a time, for latency; a larger bound keeps
	// queues from growing without limit, so rates are sustainable ones.
	MaxInFlight int
	// IdleConnections opens this many extra connections with one channel each
	// and holds them through the window (to measure broker memory per connection).
	IdleConnections int
	// DrainTimeout bounds the wait, after the window, for confirms and for the
	// queues to empty, measured from the last progress.
	DrainTimeout time.Duration
	// BrokerPID is the broker's process id for /proc sampling; zero disables it.
	BrokerPID int
	// OtherBrokerPIDs are the other processes of a broker that runs as
	// several (the other nodes of a cluster): their CPU and RSS are sampled
	// with BrokerPID's and added to it.
	OtherBrokerPIDs []int
	// Heartbeat is the AMQP heartbeat interval the client asks for.
	Heartbeat time.Duration
	// Reconnect makes producers and consumers survive the loss of their
	// connection: each reconnects to the next URL of its list, and a
	// producer publishes again every message its lost connection left
	// unconfirmed. The verdict is then a total-queue check: lost means
	// confirmed and never consumed, and duplicates (which at-least-once
	// delivery allows) are reported but do not fail the run. Producers
	// need publisher confirms for it.
	Reconnect bool
	// KillPID, when set, is a process the run kills with SIGKILL (as
	// kill -9) KillAfter into the window, such as a cluster node; the
	// result's Failover section says how each producer's confirms and
	// each consumer's deliveries went on around it.
	KillPID int
	// KillAfter is when, counted from the window's start, KillPID is killed.
	KillAfter time.Duration
}

// DefaultConfig returns the settings of a plain run: one producer, one
// consumer, one transient queue on the default exchange, 16-byte messages,
// manual acknowledgements with prefetch 1000, for ten seconds.
func DefaultConfig() Config {
	return Config{
		Name:             "run",
		URIs:             []string{"amqp://guest:guest@127.0.0.1:5672/"},
		Producers:        1,
		Consumers:        1,
		Size:             StampSize,
		Duration:         10 * time.Second,
		Prefetch:         1000,
		Queues:           1,
		ExchangeType:     ExchangeDirect,
		BindingsPerQueue: 1,
		DrainTimeout:     10 * time.Second,
		Heartbeat:        10 * time.Second,
	}
}

// Validate reports the first setting that cannot work, and raises Size to
// StampSize.
func (c *Config) Validate() error {
	if len(c.URIs) == 0 {
		return errors.New("at least one --uri is needed")
	}
	all := append(append(append([]string{}, c.URIs...), c.PublishURIs...), c.ConsumeURIs...)
	if c.DeclareURI != "" {
		all = append(all, c.DeclareURI)
	}
	for _, u := range all {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "amqp" && p.Scheme != "amqps") {
			return fmt.Errorf("bad broker URL %q: want amqp://user:pass@host:port/vhost", RedactURI(u))
		}
	}
	switch {
	case c.Producers < 0 || c.Consumers < 0 || c.Queues < 0 || c.IdleConnections < 0:
		return errors.New("producers, consumers, queues and idle connections cannot be negative")
	case c.Producers > 0 && c.Queues == 0 && len(c.RoutingKeys) == 0:
		return errors.New("producers need a queue or a routing key")
	case c.Duration <= 0 && c.Count <= 0:
		return errors.New("set a duration or a message count")
	case c.Duration <= 0 && c.Producers == 0:
		return errors.New("a run without producers needs a duration")
	case c.Rate < 0 || c.Count < 0 || c.ConfirmWindow < 0 || c.Prefetch < 0 || c.MultiAckEvery < 0:
		return errors.New("rate, count, confirm window, prefetch and multi-ack cannot be negative")
	case c.Prefetch > 65535:
		return errors.New("prefetch is a 16-bit count: at most 65535")
	case c.MultiAckEvery > 1 && c.Prefetch > 0 && c.MultiAckEvery > c.Prefetch:
		return fmt.Errorf("multi-ack every %d can never fill a prefetch window of %d", c.MultiAckEvery, c.Prefetch)
	case c.MaxInFlight < 0:
		return errors.New("max in flight cannot be negative")
	case c.MaxInFlight > 0 && (c.Consumers == 0 || c.Queues == 0):
		return errors.New("a bound on messages in flight needs consumers")
	case c.BindingsPerQueue < 1:
		return errors.New("bindings per queue must be at least 1")
	case c.Producers > 1<<16:
		return errors.New("at most 65536 producers (the stamp holds a 16-bit producer id)")
	}
	if err := c.validateFailover(); err != nil {
		return err
	}
	switch c.ExchangeType {
	case ExchangeDirect, ExchangeFanout, ExchangeTopic, ExchangeHeaders:
	default:
		return fmt.Errorf("unknown exchange type %q: want direct, fanout, topic or headers", c.ExchangeType)
	}
	if c.Size < StampSize {
		c.Size = StampSize
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	return nil
}

// validateFailover checks the reconnect and kill settings.
func (c *Config) validateFailover() error {
	switch {
	case c.Reconnect && c.Producers > 0 && c.ConfirmWindow == 0:
		return errors.New("reconnecting producers need publisher confirms (--confirm): only a confirmed message can be called lost")
	case c.KillPID < 0:
		return errors.New("the process to kill needs a positive id")
	case c.KillPID == 0 && c.KillAfter != 0:
		return errors.New("a kill time needs a process to kill (--kill-pid)")
	case c.KillPID == 0:
		return nil
	case c.KillAfter <= 0:
		return errors.New("killing a process needs a positive --kill-after")
	case c.Duration > 0 && c.KillAfter >= c.Duration:
		return fmt.Errorf("the kill after %v falls outside the %v window", c.KillAfter, c.Duration)
	case c.KillPID == c.BrokerPID || slices.Contains(c.OtherBrokerPIDs, c.KillPID):
		return errors.New("the process to kill cannot also be sampled (--broker-pid): it will be gone at the window's end")
	}
	return nil
}

// publishURI returns the URL producer id connects to.
func (c *Config) publishURI(id int) string { return pick(c.PublishURIs, c.URIs, id) }

// consumeURI returns the URL consumer id connects to.
func (c *Config) consumeURI(id int) string { return pick(c.ConsumeURIs, c.URIs, id) }

// publishList returns the URLs producers connect to, in turn.
func (c *Config) publishList() []string { return orElse(c.PublishURIs, c.URIs) }

// consumeList returns the URLs consumers connect to, in turn.
func (c *Config) consumeList() []string { return orElse(c.ConsumeURIs, c.URIs) }

// declareURI returns the URL the topology is declared and deleted on.
func (c *Config) declareURI() string {
	if c.DeclareURI != "" {
		return c.DeclareURI
	}
	return c.URIs[0]
}

// pick returns the i-th URL of own, taken in turn, or of fallback when own
// is empty.
func pick(own, fallback []string, i int) string {
	own = orElse(own, fallback)
	return own[i%len(own)]
}

// orElse returns own, or fallback when own is empty.
func orElse(own, fallback []string) []string {
	if len(own) == 0 {
		return fallback
	}
	return own
}

// Quorum reports whether the queues are quorum queues.
func (c *Config) Quorum() bool {
	return c.QueueArgs["x-queue-type"] == "quorum"
}

// ParseQueueArgs parses "k=v,k=v" into queue.declare arguments. Integers
// become int64 (as RabbitMQ expects for x-max-length and friends), true and
// false become booleans, anything else stays a string.
func ParseQueueArgs(s string) (map[string]any, error) {
	args := map[string]any{}
	if strings.TrimSpace(s) == "" {
		return args, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("queue argument %q: want key=value", kv)
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			args[k] = n
		} else if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
			args[k] = b
		} else {
			args[k] = v
		}
	}
	return args, nil
}

// RedactURI hides the password of an AMQP URL for reports.
func RedactURI(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	return u.String()
}
