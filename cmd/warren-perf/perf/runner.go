package perf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// counter is a shorthand for the run's atomic counters.
type counter = atomic.Uint64

// run is the state of one scenario run.
type run struct {
	cfg       Config
	epoch     time.Time // stamps count nanoseconds from here
	topo      *topology
	ledger    *ledger
	anomalies anomalyLog
	closing   atomic.Bool     // set once the run closes its own connections
	stopCtx   context.Context // ends then too: reconnections and dials give up
	stopAll   context.CancelFunc
	goes      sync.WaitGroup // watcher goroutines
	killURLs  []string       // where each producer, then each consumer, was at the kill

	published, confirmed, nacked, returned, consumed, redelivered counter
	unroutable                                                    counter // published with no queue to reach
	reconnects, resent                                            counter
	confirmLat, e2eLat                                            Histogram
}

// shutdown marks the run as closing its own connections and stops every
// reconnection.
func (r *run) shutdown() {
	r.closing.Store(true)
	r.stopAll()
}

// now returns the time since the run's epoch, the clock of the stamps.
func (r *run) now() time.Duration { return time.Since(r.epoch) }

// timeOf returns a stamp's send time on the run's clock.
func timeOf(s Stamp) time.Duration { return time.Duration(s.SentNanos) }

// Run runs one scenario and returns its result. live, if not nil, receives
// one progress line a second. The error is for a config that cannot run; a
// broker that refuses or fails the scenario is reported in the result's
// Status and Reason.
func Run(ctx context.Context, cfg Config, live io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	prefix := fmt.Sprintf("warren-perf-%d-%04x", time.Now().Unix()%100000, rand.IntN(1<<16))
	r := &run{cfg: cfg, epoch: time.Now()}
	r.stopCtx, r.stopAll = context.WithCancel(context.Background())
	defer r.stopAll()
	r.topo = newTopology(&r.cfg, prefix)
	r.ledger = newLedger(r.topo, cfg.Producers)
	r.ledger.confirmedOnly = cfg.Reconnect
	res := &Result{
		Scenario:  cfg.Name,
		Status:    StatusOK,
		Settings:  r.settings(),
		Anomalies: []Anomaly{},
		Errors:    []string{},
		Timeline:  []Point{},
	}
	for _, u := range cfg.brokerURIs() {
		res.Brokers = append(res.Brokers, RedactURI(u))
	}
	defer r.goes.Wait()

	admin, err := r.dial(cfg.declareURI(), "admin")
	if err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res, nil
	}
	defer func() {
		r.shutdown()
		admin.close()
	}()
	if err := r.declare(admin); err != nil {
		res.Status, res.Reason = StatusUnsupported, err.Error()
		var ae *amqp.Error
		if !errors.As(err, &ae) {
			res.Status = StatusFailed
		}
		return res, nil
	}
	defer r.cleanup()
	if err := r.awaitTopology(ctx); err != nil {
		res.Status, res.Reason = StatusFailed, err.Error()
		return res, nil
	}

	var clients []*client
	var producers []*producer
	var consumers []*consumer
	var producersDone chan struct{}
	defer func() {
		r.shutdown()
		for _, c := range clients {
			c.close()
		}
		for _, p := range producers {
			p.close()
		}
		for _, c := range consumers {
			c.close()
		}
		if producersDone != nil {
			// A producer stuck in a socket write (a broker that stopped
			// reading) returns once its connection is closed.
			<-producersDone
		}
		for _, c := range consumers {
			<-c.done
		}
	}()
	for q := range r.topo.queues {
		for range cfg.Consumers {
			c, err := r.newConsumer(len(consumers), q)
			if err != nil {
				res.Status, res.Reason = StatusFailed, err.Error()
				return res, nil
			}
			consumers = append(consumers, c)
		}
	}
	for i := range cfg.Producers {
		p, err := r.newProducer(i)
		if err != nil {
			res.Status, res.Reason = StatusFailed, err.Error()
			return res, nil
		}
		producers = append(producers, p)
	}

	var before ProcSample
	sampling := cfg.BrokerPID > 0
	if sampling {
		if before, err = cfg.readBroker(); err != nil {
			res.Errors = append(res.Errors, fmt.Sprintf("broker pid %d: %v", cfg.BrokerPID, err))
			sampling = false
		}
	}
	idle, err := r.openIdle(ctx)
	clients = append(clients, idle...)
	res.IdleConnections = len(idle)
	if err != nil {
		res.Status, res.Reason = StatusFailed, fmt.Sprintf("opened %d of %d idle connections: %v", len(idle), cfg.IdleConnections, err)
		return res, nil
	}

	// The window.
	var start ProcSample
	if sampling {
		start, _ = cfg.readBroker()
	}
	winStart := time.Now()
	pctx, stopProducers := context.WithCancel(ctx)
	defer stopProducers()
	var pwg sync.WaitGroup
	for _, p := range producers {
		pwg.Go(func() { p.run(pctx, winStart) })
	}
	producersDone = make(chan struct{})
	go func() { pwg.Wait(); close(producersDone) }()

	rep := newReporter(r, live, winStart)
	var deadline <-chan time.Time
	if cfg.Duration > 0 {
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var killAt <-chan time.Time
	if cfg.KillPID > 0 {
		t := time.NewTimer(cfg.KillAfter)
		defer t.Stop()
		killAt = t.C
	}
	done := producersDone
	if len(producers) == 0 {
		done = nil
	}
window:
	for {
		select {
		case <-tick.C:
			rep.tick(sampling)
		case <-killAt:
			res.Failover = r.kill(winStart, producers, consumers)
			killAt = nil
		case <-deadline:
			break window
		case <-done:
			break window
		case <-ctx.Done():
			break window
		}
	}
	winEnd := time.Now()
	res.WindowSeconds = winEnd.Sub(winStart).Seconds()
	res.Window = WindowCounts{
		Published: r.published.Load(),
		Confirmed: r.confirmed.Load(),
		Consumed:  r.consumed.Load(),
	}
	var end ProcSample
	if sampling {
		end, _ = cfg.readBroker()
	}
	rep.finish(sampling)
	res.Timeline = rep.points

	// The drain: stop publishing, collect confirms, empty the queues.
	stopProducers()
	r.awaitProducers(ctx, producersDone)
	if cfg.ConfirmWindow > 0 {
		settled := func() uint64 { return r.confirmed.Load() + r.nacked.Load() }
		waitUntil(ctx, cfg.DrainTimeout, func() bool { return settled() >= r.published.Load() }, settled)
	}
	if cfg.Mandatory {
		// Every unroutable mandatory message must come back.
		returned := r.returned.Load
		waitUntil(ctx, cfg.DrainTimeout, func() bool { return returned() >= r.unroutable.Load() }, returned)
		if n, want := r.returned.Load(), r.unroutable.Load(); n < want {
			r.anomalies.add("missing-return", want-n, "unroutable mandatory messages that never came back")
		}
	}
	if len(consumers) > 0 {
		recv := func() uint64 { _, got := r.ledger.expectedDeliveries(); return got }
		waitUntil(ctx, cfg.DrainTimeout, func() bool {
			want, got := r.ledger.expectedDeliveries()
			return got >= want
		}, recv)
	}
	r.shutdown()
	for _, c := range consumers {
		c.cancel()
	}
	for _, c := range consumers {
		select {
		case <-c.done:
		case <-time.After(cfg.DrainTimeout):
		}
	}

	switch {
	case res.Failover != nil:
		r.failoverReport(res.Failover, producers, consumers)
	case cfg.KillPID > 0:
		res.Failover = &Failover{PID: cfg.KillPID, Error: "the window ended before the kill"}
		r.anomalies.add("kill-failed", 1, res.Failover.Error)
	}
	r.fill(res, before, start, end, sampling)
	return res, nil
}

// awaitProducers waits, after the window, until the producers return. A
// reconnecting producer stays until its messages are confirmed, so for it
// the wait lasts while confirms make progress.
func (r *run) awaitProducers(ctx context.Context, done <-chan struct{}) {
	finished := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	if r.cfg.Reconnect {
		settled := func() uint64 { return r.confirmed.Load() + r.nacked.Load() + r.reconnects.Load() }
		if !waitUntil(ctx, r.cfg.DrainTimeout, finished, settled) {
			r.anomalies.add("producer-stuck", 1, fmt.Sprintf("a producer still had unconfirmed messages %v after the last confirm", r.cfg.DrainTimeout))
		}
		return
	}
	select {
	case <-done:
	case <-time.After(r.cfg.DrainTimeout):
		r.anomalies.add("producer-stuck", 1, fmt.Sprintf("a publish did not return within %v of the window's end", r.cfg.DrainTimeout))
	}
}

// settings returns the scenario parameters for the result.
func (r *run) settings() Settings {
	c := &r.cfg
	args := c.QueueArgs
	if args == nil {
		args = map[string]any{}
	}
	bindings := 0
	for _, b := range r.topo.bindings {
		bindings += len(b)
	}
	if r.topo.exchange == "" {
		bindings = len(r.topo.queues)
	}
	return Settings{
		Producers: c.Producers, Consumers: c.Consumers, Queues: c.Queues, Size: c.Size,
		Persistent: c.Persistent, ConfirmWindow: c.ConfirmWindow, Prefetch: c.Prefetch,
		MultiAckEvery: c.MultiAckEvery, AutoAck: c.AutoAck, ExchangeType: c.ExchangeType,
		Bindings: bindings, QueueArgs: args, Rate: c.Rate, MaxInFlight: c.MaxInFlight, Reconnect: c.Reconnect,
	}
}

// declare creates the exchange, the queues and the bindings.
func (r *run) declare(admin *client) error {
	t := r.topo
	if t.ownExchange {
		if err := admin.ch.ExchangeDeclare(t.exchange, t.exchangeType, false, true, false, false, nil); err != nil {
			return fmt.Errorf("exchange.declare %q (%s): %w", t.exchange, t.exchangeType, err)
		}
	}
	durable := r.cfg.Persistent || r.cfg.Quorum()
	for q, name := range t.queues {
		// Generated queues are deleted by the run; auto-delete is not used
		// because quorum queues refuse it.
		if _, err := admin.ch.QueueDeclare(name, durable, false, false, false, amqp.Table(r.cfg.QueueArgs)); err != nil {
			return fmt.Errorf("queue.declare %q: %w", name, err)
		}
		if t.exchange == "" {
			continue
		}
		for _, key := range t.bindings[q] {
			var args amqp.Table
			if t.exchangeType == ExchangeHeaders {
				args = amqp.Table{"x-match": "all", headerKey: key}
			}
			if err := admin.ch.QueueBind(name, key, t.exchange, false, args); err != nil {
				return fmt.Errorf("queue.bind %q to %q with %q: %w", name, t.exchange, key, err)
			}
		}
	}
	return nil
}

// cleanup deletes what the run generated, on a fresh connection since a
// channel error may have closed the admin one.
func (r *run) cleanup() {
	t := r.topo
	if !t.ownQueues && !t.ownExchange {
		return
	}
	c, err := r.dial(r.cfg.declareURI(), "cleanup")
	if err != nil {
		return
	}
	defer c.close()
	if t.ownQueues {
		for _, q := range t.queues {
			_, _ = c.ch.QueueDelete(q, false, false, false)
		}
	}
	if t.ownExchange {
		_ = c.ch.ExchangeDelete(t.exchange, false, false)
	}
}

// openIdle opens the scenario's idle connections, a few at a time.
func (r *run) openIdle(ctx context.Context) ([]*client, error) {
	n := r.cfg.IdleConnections
	if n == 0 {
		return nil, nil
	}
	out := make([]*client, n)
	errs := make([]error, n)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(n, 16) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				out[i], errs[i] = r.dial(r.cfg.URIs[i%len(r.cfg.URIs)], fmt.Sprintf("idle %d", i))
			}
		})
	}
	wg.Wait()
	var opened []*client
	var first error
	for i, c := range out {
		if c != nil {
			opened = append(opened, c)
		} else if first == nil && errs[i] != nil {
			first = errs[i]
		}
	}
	if first == nil && len(opened) < n {
		first = ctx.Err()
	}
	return opened, first
}

// fill completes the result from the counters, the ledger and the samples,
// and turns every shortfall into an error.
func (r *run) fill(res *Result, before, start, end ProcSample, sampling bool) {
	w := &res.Window
	if s := res.WindowSeconds; s > 0 {
		w.PublishedRate = float64(w.Published) / s
		w.ConfirmedRate = float64(w.Confirmed) / s
		w.ConsumedRate = float64(w.Consumed) / s
	}
	t := r.ledger.settle()
	tot := Totals{
		Published:   r.published.Load(),
		Confirmed:   r.confirmed.Load(),
		Nacked:      r.nacked.Load(),
		Returned:    r.returned.Load(),
		Expected:    t.expected,
		Consumed:    r.consumed.Load(),
		Received:    t.received,
		Lost:        t.lost,
		Duplicates:  t.duplicates,
		Unexpected:  t.unexpected,
		Redelivered: r.redelivered.Load(),
		Recovered:   t.recovered,
		InDoubt:     t.inDoubt,
		Reconnects:  r.reconnects.Load(),
		Resent:      r.resent.Load(),
	}
	if r.cfg.ConfirmWindow > 0 && tot.Published > tot.Confirmed+tot.Nacked {
		tot.Unconfirmed = tot.Published - tot.Confirmed - tot.Nacked
	}
	res.Totals = tot
	if r.cfg.Consumers == 0 {
		// Nobody consumed: nothing can be called lost.
		res.Totals.Lost = 0
	} else {
		r.anomalies.add("lost", tot.Lost, "")
	}
	r.anomalies.add("unconfirmed", tot.Unconfirmed, "")
	res.ConfirmLatency = latencyOf(r.confirmLat.Snapshot())
	res.EndToEndLatency = latencyOf(r.e2eLat.Snapshot())
	if sampling {
		cpu := (end.CPU - start.CPU).Seconds()
		b := &BrokerUsage{PID: r.cfg.BrokerPID, CPUSeconds: cpu, RSSStart: start.RSS, RSSEnd: end.RSS}
		if res.WindowSeconds > 0 {
			b.CPUUtilisation = cpu / res.WindowSeconds
		}
		if n := float64(w.Published); n > 0 {
			b.CPUSecondsPerMillion = cpu / n * 1e6
			b.CPUMicrosPerMessage = cpu / n * 1e6
		}
		if res.IdleConnections > 0 {
			b.RSSPerIdleConnection = float64(end.RSS-before.RSS) / float64(res.IdleConnections)
		}
		res.Broker = b
	}
	res.Anomalies = r.anomalies.list()
	if res.Totals.Lost > 0 {
		what := "expected deliveries"
		if r.ledger.confirmedOnly {
			what = "expected deliveries of confirmed messages"
		}
		res.Errors = append(res.Errors, fmt.Sprintf("%d of %d %s never arrived (waited %v after the last progress)", res.Totals.Lost, tot.Expected, what, r.cfg.DrainTimeout))
	}
	for _, a := range res.Anomalies {
		if r.failing(a.Kind) {
			res.Errors = append(res.Errors, fmt.Sprintf("%d × %s", a.Count, a.Kind))
		}
	}
	if len(res.Errors) > 0 && res.Status == StatusOK {
		res.Status = StatusFailed
		res.Reason = res.Errors[0]
	}
}

// failing reports whether an anomaly of this kind fails the run. With
// Reconnect, duplicates and nacks do not: at-least-once delivery allows
// the first, and a nack is an answer the producer may act on.
func (r *run) failing(kind string) bool {
	switch kind {
	case "duplicate", "nack":
		return !r.cfg.Reconnect
	case "unexpected", "producer-stuck", "wrongly-returned", "missing-return", "unconfirmed", "connection-closed",
		"channel-closed", "publish-error", "bad-body", "in-flight-timeout", "ack-error", "reconnect-failed",
		"kill-failed", "confirm-out-of-order":
		return true
	}
	return false
}
