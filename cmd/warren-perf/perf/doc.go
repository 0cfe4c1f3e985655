// Package perf measures an AMQP 0-9-1 broker: it runs a load scenario
// (producers, consumers, queues, an exchange and its bindings) through the
// amqp091-go client and reports throughput, latency, broker resource use and
// every anomaly it saw.
//
// A run has three phases. Setup declares the topology on the first broker
// URL and opens one connection per producer and consumer, spread over every
// URL as a load balancer would. The window is the measured part: rates count
// only what happened inside it, and the broker's CPU and RSS are read from
// /proc at its start and end. The drain follows: producers stop, outstanding
// publisher confirms are awaited and the consumers empty the queues, so that
// every published message is accounted for as received, lost or duplicated.
//
// Every message body starts with a 16-byte stamp (see [Stamp]): the send
// time in nanoseconds since the run began, the producer id and the
// producer's sequence number. The consumer side keeps one bitset per queue
// and producer, so that a lost or duplicated message is found exactly rather
// than inferred from totals. Latencies go into [Histogram], a log-linear
// histogram of fixed size with lock-free recording.
//
// Runs with failures: with [Config.Reconnect] a producer or consumer that
// loses its connection reconnects to the next URL of its list, and a
// producer publishes again what its lost connection left unconfirmed
// (same stamp, so a second delivery is a duplicate, not a new message).
// The verdict is then a total-queue check in the manner of Jepsen's: lost
// means confirmed and never consumed, unexpected means consumed and never
// published; duplicates, and messages never confirmed that arrived
// (recovered) or did not (in doubt), are reported without failing the
// run. [Config.KillPID] kills a process (a cluster node) with SIGKILL in
// the middle of the window; [Failover] then says, for each producer's
// confirms and each consumer's deliveries, when they stopped and resumed
// and when a client of the killed node reconnected.
//
// # Goroutines and locks
//
// [Run] starts one goroutine per producer and per consumer, one per
// connection reading its publisher confirms, one per connection reading
// its returns and three per connection watching it (blocked, channel
// closed, connection closed). It stops them all before it returns:
// producers end with the window (reconnecting ones once their messages are
// settled), the rest once the run closes the connections, and the run
// waits for each. Each producer and consumer guards its current connection
// with a mutex, so that the run can close it while it reconnects; a
// producer's unconfirmed messages sit in a ring under its connection's
// mutex, shared by the publishing goroutine and the confirm reader. The
// ledger has a mutex per producer and per queue; the counters and the
// histograms are atomic.
//
// [Suite] runs the standard scenarios, optionally against two brokers in
// alternation, and writes a Markdown table ([WriteMarkdown]) and one SVG
// chart per scenario ([WriteSVG]).
//
// [WaitReady] polls a broker until a passive queue.declare succeeds (and,
// if asked, a basic.get returns a message), for timing how soon a
// restarted broker serves a queue and how many messages it recovered.
package perf
