package classic

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/queue"
)

// ackingConsumer behaves like a channel with a prefetch window: the queue
// delivers while it has credit (a delivery past it is a failure), and its
// own goroutine settles them (requeueing some once), which gives the credit
// back.
type ackingConsumer struct {
	q       *Queue
	mu      sync.Mutex
	credit  int
	pending []queue.Delivery
	wake    chan struct{}
}

func (c *ackingConsumer) Deliver(d queue.Delivery) {
	c.mu.Lock()
	if c.credit == 0 {
		c.mu.Unlock()
		panic("delivered past the consumer's prefetch")
	}
	c.credit--
	c.pending = append(c.pending, d)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *ackingConsumer) Cancelled() {}

func (c *ackingConsumer) run(stop <-chan struct{}, record func(queue.Delivery)) {
	for {
		select {
		case <-stop:
			return
		case <-c.wake:
		}
		c.mu.Lock()
		batch := c.pending
		c.pending = nil
		c.mu.Unlock()
		var acks, requeues []uint64
		for _, d := range batch {
			if !d.Redelivered && d.ID%7 == 0 {
				requeues = append(requeues, d.ID)
				continue
			}
			record(d)
			acks = append(acks, d.ID)
		}
		c.mu.Lock()
		c.credit += len(batch)
		c.mu.Unlock()
		c.q.Settle(queue.Requeue, requeues)
		c.q.Settle(queue.Ack, acks)
	}
}

// TestConcurrentPublishConsumeAck runs publishers, consumers that ack and
// requeue, and a basic.get poller at once: every message must be acked
// exactly once and every publish confirmed.
func TestConcurrentPublishConsumeAck(t *testing.T) {
	const publishers, perPublisher, consumers = 4, 2000, 4
	total := publishers * perPublisher
	q, err := New("q", Options{VHost: "/"}, Env{})
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	acked := make(map[string]int, total)
	all := make(chan struct{})
	record := func(d queue.Delivery) {
		mu.Lock()
		acked[string(d.Message.Body)]++
		if len(acked) == total && acked[string(d.Message.Body)] == 1 {
			close(all)
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range consumers {
		c := &ackingConsumer{q: q, credit: 10 + i*10, wake: make(chan struct{}, 1)}
		if err := q.Consume(c, queue.ConsumeOptions{Priority: int32(i % 2), Prefetch: uint16(c.credit)}); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { c.run(stop, record) })
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if d, _, ok := q.Get(false); ok {
				record(d)
				q.Settle(queue.Ack, []uint64{d.ID})
			}
		}
	})

	var cf confirms
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			for i := range perPublisher {
				seq := uint64(p*perPublisher + i)
				body := strconv.Itoa(p) + "-" + strconv.Itoa(i)
				q.Publish(&queue.Message{Body: []byte(body), Timestamp: time.Now()}, queue.Confirm{To: &cf, Seq: seq})
			}
		})
	}
	pubs.Wait()

	select {
	case <-all:
	case <-time.After(20 * time.Second):
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		t.Fatalf("only %d of %d messages acked; stats %+v", n, total, q.Stats(bg))
	}
	close(stop)
	wg.Wait()

	for body, n := range acked {
		if n != 1 {
			t.Errorf("message %s acked %d times", body, n)
		}
	}
	if len(cf.got) != total {
		t.Errorf("%d confirms, want %d", len(cf.got), total)
	}
	for seq, ok := range cf.got {
		if !ok {
			t.Errorf("publish %d nacked", seq)
		}
	}
	if s := q.Stats(bg); s.Ready != 0 || s.Unacked != 0 {
		t.Errorf("stats after the run: %+v", s)
	}
}

// TestConcurrentExpiryWithRealTimer publishes from several goroutines into
// a queue whose messages expire at once, with the real clock and timer:
// every message must be dead-lettered exactly once, from the timer's
// goroutine racing the publishers.
func TestConcurrentExpiryWithRealTimer(t *testing.T) {
	const publishers, perPublisher = 4, 500
	total := publishers * perPublisher
	a, err := queue.ParseArgs(map[string]any{"x-message-ttl": int32(1), "x-dead-letter-exchange": "dlx"}, "q", "/")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := make(map[string]int, total)
	all := make(chan struct{})
	q, err := New("q", Options{VHost: "/", Args: a}, Env{DeadLetter: func(ms []*queue.Message) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range ms {
			seen[string(m.Body)]++
			if len(seen) == total && seen[string(m.Body)] == 1 {
				close(all)
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			for i := range perPublisher {
				q.Publish(&queue.Message{Body: []byte(strconv.Itoa(p) + "-" + strconv.Itoa(i)), Timestamp: time.Now()}, queue.Confirm{})
			}
		})
	}
	pubs.Wait()
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		t.Fatalf("%d of %d messages dead-lettered; stats %+v", n, total, q.Stats(bg))
	}
	mu.Lock()
	defer mu.Unlock()
	for body, n := range seen {
		if n != 1 {
			t.Errorf("message %s dead-lettered %d times", body, n)
		}
	}
	if s := q.Stats(bg); s.Ready != 0 {
		t.Errorf("stats after expiry: %+v", s)
	}
}
