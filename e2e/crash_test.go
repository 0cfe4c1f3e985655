package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// crashLedger is what the clients of TestCrashLoop know: what the broker
// confirmed, what was delivered, and which acks are known to be on disk.
//
// An ack is known to be on disk once the broker answered a synchronous
// method sent after it on the same channel (so it handled the ack: the
// queue settled the record) and then confirmed a publish to the same queue
// sent after that answer: the store writes a log's settles and appends in
// the order they were made, in the same fsync round, so the confirm of the
// later append covers the earlier settle. An ack not known to be on disk
// may be lost by kill -9, and its message may come back (redelivered):
// that is the at-least-once redelivery AMQP allows.
type crashLedger struct {
	mu         sync.Mutex
	published  map[int]bool // sent (confirmed or not)
	confirmed  map[int]bool // the broker confirmed it (basic.ack)
	durableAck map[int]bool // its ack is known to be on disk
	delivered  map[int]int  // deliveries so far
	lastRun    map[int]int  // the last run that delivered it
	ackedLast  map[int]bool // its last delivery was acked (the ack was sent)
	owed       map[int]int  // confirmed, its last delivery not acked, at the crash of this run
	pending    []ackBatch   // acks waiting for a later confirm
	failures   []string

	sent         atomic.Int64 // publishes sent, numbered from 1 across runs
	deliveries   atomic.Int64 // deliveries received, across runs
	maxConfirmed atomic.Int64 // highest publish number confirmed
}

// ackBatch is a set of acks the broker has handled, made durable by the
// confirm of any publish numbered above after.
type ackBatch struct {
	after int64
	ids   []int
}

func (l *crashLedger) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) < 20 {
		l.failures = append(l.failures, fmt.Sprintf(format, args...))
	}
}

// crashed settles the acks covered by a confirm (settleBatches) and notes
// which confirmed messages the broker still owes after crashing in run:
// those never delivered or delivered and not acked, each of which must be
// delivered again in a later run. (A message acked with an ack not known
// to be on disk may come back or not.)
func (l *crashLedger) crashed(run int) {
	l.settleBatches()
	l.mu.Lock()
	defer l.mu.Unlock()
	// Acks no confirm of this run covered may be lost: a later run's
	// confirms say nothing about them.
	l.pending = nil
	for id := range l.confirmed {
		if !l.durableAck[id] && !l.ackedLast[id] {
			l.owed[id] = run
		}
	}
}

// unpaid lists the confirmed messages not delivered since the last crash
// that left them owed.
func (l *crashLedger) unpaid() []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m []int
	for id, run := range l.owed {
		if last, ok := l.lastRun[id]; !ok || last <= run {
			m = append(m, id)
		}
	}
	return m
}

// settleBatches moves the acks covered by a confirm to durableAck.
func (l *crashLedger) settleBatches() {
	l.mu.Lock()
	defer l.mu.Unlock()
	mc := l.maxConfirmed.Load()
	keep := l.pending[:0]
	for _, b := range l.pending {
		if mc > b.after {
			for _, id := range b.ids {
				l.durableAck[id] = true
			}
		} else {
			keep = append(keep, b)
		}
	}
	l.pending = keep
}

// delivery checks and records one delivery.
func (l *crashLedger) delivery(d amqp.Delivery, run int) (int, bool) {
	id, ok := msgID(d.Body)
	if !ok {
		l.fail("run %d: undecodable body %q", run, d.Body)
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.published[id] {
		l.failures = append(l.failures, fmt.Sprintf("run %d: message %d delivered but never published", run, id))
	}
	if l.durableAck[id] {
		l.failures = append(l.failures, fmt.Sprintf("run %d: message %d came back after its ack was on disk", run, id))
	}
	if l.delivered[id] > 0 && !d.Redelivered {
		l.failures = append(l.failures, fmt.Sprintf("run %d: message %d delivered again without the redelivered flag", run, id))
	}
	l.delivered[id]++
	l.lastRun[id] = run
	l.ackedLast[id] = false
	l.deliveries.Add(1)
	return id, true
}

// publishLoop publishes persistent messages with confirms (at most 1000
// unconfirmed) until the connection dies or ctx ends.
func (l *crashLedger) publishLoop(ctx context.Context, url string, queue string, body int) {
	c, err := amqp.Dial(url)
	if err != nil {
		return
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil || ch.Confirm(false) != nil {
		return
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1024))
	window := make(chan struct{}, 1000)
	type sentMsg struct {
		id  int
		num int64
	}
	var mu sync.Mutex
	var inFlight []sentMsg // by delivery tag, from 1
	done := make(chan struct{})
	go func() {
		defer close(done)
		for cf := range confirms {
			mu.Lock()
			m := inFlight[cf.DeliveryTag-1]
			mu.Unlock()
			if cf.Ack {
				l.mu.Lock()
				l.confirmed[m.id] = true
				l.mu.Unlock()
				for {
					cur := l.maxConfirmed.Load()
					if m.num <= cur || l.maxConfirmed.CompareAndSwap(cur, m.num) {
						break
					}
				}
			}
			<-window
		}
	}()
	pad := make([]byte, body)
	for i := range pad {
		pad[i] = 'x'
	}
	for ctx.Err() == nil {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
		case <-done:
			return
		}
		// Keep the backlog small, so that the consumer sees most messages
		// within a run and the last drain is short.
		for l.sent.Load()-l.deliveries.Load() > 3000 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		if ctx.Err() != nil {
			break
		}
		num := l.sent.Add(1)
		id := int(num)
		l.mu.Lock()
		l.published[id] = true
		l.mu.Unlock()
		mu.Lock()
		inFlight = append(inFlight, sentMsg{id: id, num: num})
		mu.Unlock()
		b := append(fmt.Appendf(nil, "id:%d ", id), pad...)
		if err := ch.Publish("", queue, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: b}); err != nil {
			break
		}
	}
	c.Close()
	<-done
}

// consumeLoop consumes with manual acks until the connection dies or ctx
// ends, acking each delivery with probability ackP, and every so often
// makes a round trip so that its acks can become known to be on disk.
func (l *crashLedger) consumeLoop(ctx context.Context, url, queue string, run int, ackP float64, rng *rand.Rand) {
	c, err := amqp.Dial(url)
	if err != nil {
		return
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil || ch.Qos(0, 0, false) != nil {
		return
	}
	ds, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return
	}
	var acked []int
	barrier := func() bool {
		if len(acked) == 0 {
			return true
		}
		if _, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil); err != nil {
			return false
		}
		l.mu.Lock()
		l.pending = append(l.pending, ackBatch{after: l.sent.Load(), ids: acked})
		l.mu.Unlock()
		acked = nil
		return true
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			barrier()
			return
		case <-tick.C:
			if !barrier() {
				return
			}
		case d, ok := <-ds:
			if !ok {
				return
			}
			id, ok := l.delivery(d, run)
			if ok && rng.Float64() < ackP {
				if d.Ack(false) != nil {
					return
				}
				l.mu.Lock()
				l.ackedLast[id] = true
				l.mu.Unlock()
				acked = append(acked, id)
			}
		}
	}
}

// TestCrashLoop: a publisher with confirms and a consumer with manual acks
// run against a Warren child process, which is killed with SIGKILL at a
// random moment and restarted on the same data dir, at least 20 times
// (3 with -short). After every restart no message whose ack was on disk
// comes back and every duplicate is flagged redelivered; every confirmed
// message whose ack was not on disk at a crash is delivered again after it:
// none is lost.
func TestCrashLoop(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 3
	}
	bin := buildWarren(t)
	p := newWarrenProc(t, bin, t.TempDir())
	const queue = "crash-loop"
	l := &crashLedger{published: map[int]bool{}, confirmed: map[int]bool{}, durableAck: map[int]bool{},
		delivered: map[int]int{}, lastRun: map[int]int{}, ackedLast: map[int]bool{}, owed: map[int]int{}}
	rng := rand.New(rand.NewPCG(4, 20))
	for run := 0; run < runs; run++ {
		p.start(t)
		c := dialURL(t, p.url(), amqp.Config{})
		_, err := c.channel(t).QueueDeclare(queue, true, false, false, false, nil)
		mustOK(t, err, "declare")
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(2)
		body := rng.IntN(2000)
		go func() { defer wg.Done(); l.publishLoop(ctx, p.url(), queue, body) }()
		crng := rand.New(rand.NewPCG(uint64(run), 1))
		go func() { defer wg.Done(); l.consumeLoop(ctx, p.url(), queue, run, 0.8, crng) }()
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) // run for a random time, then crash
		p.kill()
		cancel()
		wg.Wait()
		l.crashed(run)
		l.mu.Lock()
		failures := l.failures
		t.Logf("run %d: %d published, %d confirmed, %d acks on disk", run, l.sent.Load(), len(l.confirmed), len(l.durableAck))
		l.mu.Unlock()
		if len(failures) > 0 {
			t.Fatalf("after run %d:\n%v", run, failures)
		}
	}

	// The last start: drain everything, acking all.
	p.start(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.consumeLoop(ctx, p.url(), queue, runs, 1, rng) }()
	deadline := time.Now().Add(30 * time.Second)
	for len(l.unpaid()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if m := l.unpaid(); len(m) > 0 {
		t.Fatalf("%d confirmed messages, unacked at a crash, never came back after it, e.g. %v", len(m), m[:min(len(m), 10)])
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 0 {
		t.Fatal(l.failures)
	}
	if len(l.confirmed) == 0 || len(l.durableAck) == 0 {
		t.Fatalf("%d confirmed, %d acks on disk: the test tested nothing", len(l.confirmed), len(l.durableAck))
	}
	p.stop(t)
}
