package perf

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Run outcomes.
const (
	// StatusOK means the run finished and every message was accounted for.
	StatusOK = "ok"
	// StatusFailed means the run finished with errors (lost messages, a
	// closed connection, a broker that could not be reached).
	StatusFailed = "failed"
	// StatusUnsupported means the broker refused the scenario's topology
	// (for example quorum queues on a broker without them).
	StatusUnsupported = "unsupported"
)

// Result is everything a run measured. It is what --json prints.
type Result struct {
	// Scenario is the run's name.
	Scenario string `json:"scenario"`
	// Brokers are the broker URLs used, passwords hidden.
	Brokers []string `json:"brokers"`
	// Status is ok, failed or unsupported.
	Status string `json:"status"`
	// Reason explains a status other than ok.
	Reason string `json:"reason,omitempty"`
	// Settings repeats the scenario's parameters.
	Settings Settings `json:"settings"`
	// WindowSeconds is the measured window's length.
	WindowSeconds float64 `json:"window_seconds"`
	// Window holds the counts and rates of the measured window only.
	Window WindowCounts `json:"window"`
	// Totals accounts for every message of the run, drain included.
	Totals Totals `json:"totals"`
	// ConfirmLatency is publish to broker confirm.
	ConfirmLatency Latency `json:"confirm_latency"`
	// EndToEndLatency is publish to delivery at a consumer.
	EndToEndLatency Latency `json:"end_to_end_latency"`
	// Broker is the broker process's resource use, when its pid was given.
	Broker *BrokerUsage `json:"broker,omitempty"`
	// IdleConnections is the number of idle connections held open.
	IdleConnections int `json:"idle_connections"`
	// Anomalies lists every kind of anomaly seen, with counts.
	Anomalies []Anomaly `json:"anomalies"`
	// Errors are the reasons the run failed; empty when it passed.
	Errors []string `json:"errors"`
	// Timeline has one point per second of the window.
	Timeline []Point `json:"timeline"`
	// Failover is what happened around the kill of a broker process, in
	// a run that killed one.
	Failover *Failover `json:"failover,omitempty"`
}

// Settings are the scenario parameters a reader needs to interpret a result.
type Settings struct {
	// Producers is the number of producers.
	Producers int `json:"producers"`
	// Consumers is the number of consumers per queue.
	Consumers int `json:"consumers"`
	// Queues is the number of queues.
	Queues int `json:"queues"`
	// Size is the body size in bytes.
	Size int `json:"size"`
	// Persistent tells whether messages were persistent.
	Persistent bool `json:"persistent"`
	// ConfirmWindow is the unconfirmed-message window, 0 without confirms.
	ConfirmWindow int `json:"confirm_window"`
	// Prefetch is the consumer prefetch count.
	Prefetch int `json:"prefetch"`
	// MultiAckEvery is the ack batching, 0 or 1 for single acks.
	MultiAckEvery int `json:"multi_ack_every"`
	// AutoAck tells whether consumers used auto-ack.
	AutoAck bool `json:"auto_ack"`
	// ExchangeType is the exchange type.
	ExchangeType string `json:"exchange_type"`
	// Bindings is the total number of queue bindings.
	Bindings int `json:"bindings"`
	// QueueArgs are the queue arguments.
	QueueArgs map[string]any `json:"queue_args"`
	// Rate is the per-producer rate limit, 0 for none.
	Rate float64 `json:"rate"`
	// MaxInFlight is the bound on each producer's unconsumed messages, 0 for none.
	MaxInFlight int `json:"max_in_flight"`
	// Reconnect tells whether producers and consumers reconnected after
	// losing their connection (and the verdict was a total-queue check).
	Reconnect bool `json:"reconnect"`
}

// WindowCounts are the messages counted within the measured window.
type WindowCounts struct {
	// Published is the number of messages published.
	Published uint64 `json:"published"`
	// Confirmed is the number of confirms (acks) received.
	Confirmed uint64 `json:"confirmed"`
	// Consumed is the number of deliveries.
	Consumed uint64 `json:"consumed"`
	// PublishedRate is published messages a second.
	PublishedRate float64 `json:"published_per_sec"`
	// ConfirmedRate is confirms a second.
	ConfirmedRate float64 `json:"confirmed_per_sec"`
	// ConsumedRate is deliveries a second.
	ConsumedRate float64 `json:"consumed_per_sec"`
}

// Totals account for every message of the run.
type Totals struct {
	// Published is every message handed to basic.publish.
	Published uint64 `json:"published"`
	// Confirmed is every basic.ack received for a publish.
	Confirmed uint64 `json:"confirmed"`
	// Nacked is every basic.nack received for a publish.
	Nacked uint64 `json:"nacked"`
	// Unconfirmed is published messages with neither ack nor nack (with confirms).
	Unconfirmed uint64 `json:"unconfirmed"`
	// Returned is every message the broker returned as unroutable.
	Returned uint64 `json:"returned"`
	// Expected is the deliveries the routing calls for (fanout multiplies).
	Expected uint64 `json:"expected"`
	// Consumed is every delivery, duplicates included.
	Consumed uint64 `json:"consumed"`
	// Received is distinct deliveries.
	Received uint64 `json:"received"`
	// Lost is expected deliveries that never arrived; with Reconnect,
	// those of confirmed messages only.
	Lost uint64 `json:"lost"`
	// Duplicates is deliveries of a message the same queue had already delivered.
	Duplicates uint64 `json:"duplicates"`
	// Unexpected is deliveries that no publish of this run accounts for.
	Unexpected uint64 `json:"unexpected"`
	// Redelivered is deliveries flagged redelivered.
	Redelivered uint64 `json:"redelivered"`
	// Recovered is, with Reconnect, distinct deliveries of messages never
	// confirmed (their connection went first, or they were nacked): the
	// broker had taken them.
	Recovered uint64 `json:"recovered"`
	// InDoubt is, with Reconnect, expected deliveries of messages never
	// confirmed that never arrived: allowed, since the broker never
	// promised them.
	InDoubt uint64 `json:"in_doubt"`
	// Reconnects counts the connections producers and consumers opened
	// again after losing one.
	Reconnects uint64 `json:"reconnects"`
	// Resent counts the messages producers published again after a lost
	// connection.
	Resent uint64 `json:"resent"`
}

// Latency summarises a histogram, in microseconds.
type Latency struct {
	// Count is the number of samples.
	Count uint64 `json:"count"`
	// P50 is the median.
	P50 float64 `json:"p50_us"`
	// P95 is the 95th percentile.
	P95 float64 `json:"p95_us"`
	// P99 is the 99th percentile.
	P99 float64 `json:"p99_us"`
	// P999 is the 99.9th percentile.
	P999 float64 `json:"p999_us"`
	// Max is the largest sample.
	Max float64 `json:"max_us"`
	// Mean is the average.
	Mean float64 `json:"mean_us"`
}

// BrokerUsage is the broker process's resource use over the window.
type BrokerUsage struct {
	// PID is the process sampled.
	PID int `json:"pid"`
	// CPUSeconds is user+system CPU time used during the window.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUSecondsPerMillion is CPU seconds per million messages published in the window.
	CPUSecondsPerMillion float64 `json:"cpu_seconds_per_million_msgs"`
	// CPUMicrosPerMessage is CPU microseconds per message published in the window.
	CPUMicrosPerMessage float64 `json:"cpu_us_per_msg"`
	// CPUUtilisation is CPU seconds per wall second (1.0 is one core busy).
	CPUUtilisation float64 `json:"cpu_cores"`
	// RSSStart is the resident set size at the window's start, in bytes.
	RSSStart int64 `json:"rss_start_bytes"`
	// RSSEnd is the resident set size at the window's end, in bytes.
	RSSEnd int64 `json:"rss_end_bytes"`
	// RSSPerIdleConnection is the RSS growth per idle connection, in bytes,
	// measured from before they were opened to the window's end.
	RSSPerIdleConnection float64 `json:"rss_per_idle_connection_bytes,omitempty"`
}

// Anomaly is one kind of trouble seen during a run.
type Anomaly struct {
	// Kind names it: nack, return, blocked, connection-closed, channel-closed,
	// publish-error, ack-error, duplicate, unexpected, lost, unconfirmed,
	// bad-body, in-flight-timeout, producer-stuck, wrongly-returned,
	// missing-return; with Reconnect connection-lost and reconnect-failed;
	// with a kill kill-failed.
	Kind string `json:"kind"`
	// Count is how often it happened.
	Count uint64 `json:"count"`
	// Examples are the first few details (the broker's reply text and so on).
	Examples []string `json:"examples,omitempty"`
}

// Point is one second of the window's timeline.
type Point struct {
	// Second is the end of the interval, in seconds since the window began.
	Second float64 `json:"t"`
	// Published is messages published a second in the interval.
	Published float64 `json:"published_per_sec"`
	// Confirmed is confirms a second in the interval.
	Confirmed float64 `json:"confirmed_per_sec"`
	// Consumed is deliveries a second in the interval.
	Consumed float64 `json:"consumed_per_sec"`
	// RSS is the broker's resident set size, in bytes, when a pid was given.
	RSS int64 `json:"rss_bytes,omitempty"`
}

// latencyOf summarises a histogram snapshot.
func latencyOf(s *HistogramSnapshot) Latency {
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return Latency{
		Count: s.Count,
		P50:   us(s.Quantile(0.50)),
		P95:   us(s.Quantile(0.95)),
		P99:   us(s.Quantile(0.99)),
		P999:  us(s.Quantile(0.999)),
		Max:   us(s.Max),
		Mean:  us(s.Mean()),
	}
}

// WriteJSON writes the result as one JSON object on one line.
func (r *Result) WriteJSON(w io.Writer) error {
	return json.NewEncoder(w).Encode(r)
}

// WriteSummary writes the human-readable summary.
func (r *Result) WriteSummary(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("== %s on %s: %s", r.Scenario, strings.Join(r.Brokers, ", "), strings.ToUpper(r.Status))
	if r.Reason != "" {
		p("reason: %s", r.Reason)
	}
	if r.Status == StatusUnsupported {
		return
	}
	s := r.Settings
	p("settings: %d producer(s), %d consumer(s)/queue, %d queue(s), %s exchange, %d binding(s), %d B, persistent=%v, confirm window=%d, prefetch=%d, multi-ack=%d, auto-ack=%v, max in flight=%d, rate=%g, args=%v",
		s.Producers, s.Consumers, s.Queues, s.ExchangeType, s.Bindings, s.Size, s.Persistent, s.ConfirmWindow, s.Prefetch, s.MultiAckEvery, s.AutoAck, s.MaxInFlight, s.Rate, s.QueueArgs)
	p("window: %.1f s  published %d (%.0f msg/s)  confirmed %d (%.0f msg/s)  consumed %d (%.0f msg/s)",
		r.WindowSeconds, r.Window.Published, r.Window.PublishedRate, r.Window.Confirmed, r.Window.ConfirmedRate, r.Window.Consumed, r.Window.ConsumedRate)
	t := r.Totals
	p("totals: published %d  confirmed %d  nacked %d  unconfirmed %d  returned %d  expected %d  received %d  lost %d  duplicates %d  unexpected %d  redelivered %d",
		t.Published, t.Confirmed, t.Nacked, t.Unconfirmed, t.Returned, t.Expected, t.Received, t.Lost, t.Duplicates, t.Unexpected, t.Redelivered)
	if s.Reconnect {
		p("total-queue check (lost: confirmed, never consumed): lost %d  unexpected %d  duplicates %d  recovered %d  in doubt %d  reconnects %d  resent %d",
			t.Lost, t.Unexpected, t.Duplicates, t.Recovered, t.InDoubt, t.Reconnects, t.Resent)
	}
	lat := func(name string, l Latency) {
		if l.Count == 0 {
			return
		}
		p("%s latency: p50 %s  p95 %s  p99 %s  p99.9 %s  max %s  (%d samples)",
			name, fmtMicros(l.P50), fmtMicros(l.P95), fmtMicros(l.P99), fmtMicros(l.P999), fmtMicros(l.Max), l.Count)
	}
	lat("confirm", r.ConfirmLatency)
	lat("end-to-end", r.EndToEndLatency)
	if b := r.Broker; b != nil {
		p("broker pid %d: %.2f CPU s (%.2f cores), %.2f CPU s per million msgs, %.2f CPU µs/msg, RSS %s → %s",
			b.PID, b.CPUSeconds, b.CPUUtilisation, b.CPUSecondsPerMillion, b.CPUMicrosPerMessage, fmtBytes(b.RSSStart), fmtBytes(b.RSSEnd))
		if r.IdleConnections > 0 {
			p("broker RSS per idle connection: %s (%d connections)", fmtBytes(int64(b.RSSPerIdleConnection)), r.IdleConnections)
		}
	} else if r.IdleConnections > 0 {
		p("idle connections held: %d", r.IdleConnections)
	}
	if f := r.Failover; f != nil {
		f.writeSummary(p)
	}
	for _, a := range r.Anomalies {
		p("anomaly %s ×%d %s", a.Kind, a.Count, strings.Join(a.Examples, "; "))
	}
	for _, e := range r.Errors {
		p("ERROR: %s", e)
	}
}

// fmtMicros formats a microsecond figure with a readable unit.
func fmtMicros(us float64) string {
	switch {
	case us >= 1e6:
		return fmt.Sprintf("%.2fs", us/1e6)
	case us >= 1e3:
		return fmt.Sprintf("%.2fms", us/1e3)
	default:
		return fmt.Sprintf("%.0fµs", us)
	}
}

// fmtBytes formats a byte count in KiB, MiB or GiB.
func fmtBytes(b int64) string {
	f := float64(b)
	switch {
	case f >= 1<<30 || f <= -(1<<30):
		return fmt.Sprintf("%.2f GiB", f/(1<<30))
	case f >= 1<<20 || f <= -(1<<20):
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	default:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	}
}
