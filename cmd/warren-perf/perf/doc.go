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
// [Suite] runs the standard scenarios, optionally against two brokers in
// alternation, and writes a Markdown table ([WriteMarkdown]) and one SVG
// chart per scenario ([WriteSVG]).
//
// [WaitReady] polls a broker until a passive queue.declare succeeds (and,
// if asked, a basic.get returns a message), for timing how soon a
// restarted broker serves a queue and how many messages it recovered.
package perf
