package remote

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// BenchmarkPublishConsume publishes b.N 1 KiB messages through one
// session and consumes them (prefetch 1000, acked in batches) through
// another, on a classic queue reached through a link over loopback TCP
// ("link") and directly ("local"), to compare the two paths.
func BenchmarkPublishConsume(b *testing.B) {
	for _, path := range []string{"local", "link"} {
		b.Run(path, func(b *testing.B) {
			h := newHome(b)
			hq := h.declare("/", "bench")
			q := hq
			if path == "link" {
				q = h.link(b).Queue("/", "bench")
			}
			benchPublishConsume(b, q)
		})
	}
}

func benchPublishConsume(b *testing.B, q queue.Queue) {
	const window = 1000
	body := bytes.Repeat([]byte("b"), 1024)
	// Two messages taken in turn, so that the link sends each publish
	// whole (a message published again is sent as a reference).
	var ms [2]*queue.Message
	for i := range ms {
		ms[i] = &queue.Message{RoutingKey: "bench", Body: body, RawProps: (&protocol.Properties{}).Append(nil)}
	}

	c := &benchConsumer{wake: make(chan struct{}, 1)}
	cs := q.NewSession(c)
	defer cs.Close()
	if _, err := cs.Consume(c, queue.ConsumeOptions{Tag: "k", Prefetch: window}, nil); err != nil {
		b.Fatal(err)
	}
	got := make(chan int, 1)
	var wg sync.WaitGroup
	wg.Go(func() { // the consumer's channel: acks what arrives
		var ids []uint64
		for {
			ids = c.take(ids[:0])
			if ids == nil {
				return
			}
			cs.Settle(queue.Ack, ids, nil)
			select {
			case got <- len(ids):
			case <-c.done():
				return
			}
		}
	})
	p := q.NewSession(c)
	defer p.Close()

	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent, recv := 0, 0
	for recv < b.N {
		for sent < b.N && sent-recv < window {
			p.Publish(ms[sent%2], queue.Confirm{}, nil)
			sent++
		}
		recv += <-got
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	c.close()
	wg.Wait()
}

// benchConsumer is the benchmark's channel: it keeps delivery ids for
// the acking goroutine, taking deliveries made directly (local) or posted
// (link); neither blocks.
type benchConsumer struct {
	pub  queue.Publisher
	wake chan struct{}

	mu     sync.Mutex
	closed bool
	ids    []uint64
	stop   chan struct{}
}

func (c *benchConsumer) Publisher() *queue.Publisher { return &c.pub }

func (c *benchConsumer) Post(acts []queue.Action) {
	c.mu.Lock()
	for _, a := range acts {
		if a.Kind == queue.ActionDeliver {
			c.ids = append(c.ids, a.Delivery.ID)
		}
	}
	c.mu.Unlock()
	c.signal()
}

func (c *benchConsumer) Deliver(d queue.Delivery) {
	c.mu.Lock()
	c.ids = append(c.ids, d.ID)
	c.mu.Unlock()
	c.signal()
}

func (c *benchConsumer) Cancelled() {}

func (c *benchConsumer) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// take waits for ids and appends them to buf; nil once closed.
func (c *benchConsumer) take(buf []uint64) []uint64 {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil
		}
		if len(c.ids) > 0 {
			buf = append(buf, c.ids...)
			c.ids = c.ids[:0]
			c.mu.Unlock()
			return buf
		}
		c.mu.Unlock()
		<-c.wake
	}
}

func (c *benchConsumer) done() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop == nil {
		c.stop = make(chan struct{})
	}
	return c.stop
}

func (c *benchConsumer) close() {
	ch := c.done()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	close(ch)
	c.signal()
}
