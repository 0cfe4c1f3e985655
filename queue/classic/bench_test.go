package classic

import (
	"strconv"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// benchConsumer always has credit and remembers the last delivery id.
type benchConsumer struct{ last uint64 }

func (c *benchConsumer) Deliver(d queue.Delivery) { c.last = d.ID }
func (c *benchConsumer) Cancelled()               {}

type nopConfirmer struct{}

func (nopConfirmer) Confirmed(uint64, bool) {}

func benchPublishDeliverAck(b *testing.B, args protocol.Table, consumers int) {
	a, err := queue.ParseArgs(args, "bench", "/")
	if err != nil {
		b.Fatal(err)
	}
	q, err := New("bench", Options{VHost: "/", Args: a}, Env{})
	if err != nil {
		b.Fatal(err)
	}
	cs := make([]*benchConsumer, consumers)
	for i := range cs {
		cs[i] = &benchConsumer{}
		if err := q.Consume(cs[i], queue.ConsumeOptions{Tag: strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
	m := &queue.Message{Exchange: "x", RoutingKey: "k", Body: make([]byte, 64), Timestamp: time.Now()}
	ids := make([]uint64, 1)
	var seq uint64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		seq++
		q.Publish(m, queue.Confirm{To: nopConfirmer{}, Seq: seq})
		ids[0] = cs[i%consumers].last
		q.Settle(queue.Ack, ids)
	}
	if s := q.Stats(bg); s.Ready != 0 || s.Unacked != 0 {
		b.Fatalf("stats after the run: %+v", s)
	}
}

// BenchmarkPublishDeliverAck is the hot path: a confirmed publish that is
// delivered inline to a consumer and then acked.
func BenchmarkPublishDeliverAck(b *testing.B) {
	benchPublishDeliverAck(b, nil, 1)
}

// BenchmarkPublishDeliverAck10Consumers round-robins over ten consumers.
func BenchmarkPublishDeliverAck10Consumers(b *testing.B) {
	benchPublishDeliverAck(b, nil, 10)
}

// BenchmarkPublishDeliverAckTTL adds a queue TTL, which brings in the clock.
func BenchmarkPublishDeliverAckTTL(b *testing.B) {
	benchPublishDeliverAck(b, protocol.Table{"x-message-ttl": int32(60000)}, 1)
}

// BenchmarkPublishDeliverAckPriority uses a priority queue.
func BenchmarkPublishDeliverAckPriority(b *testing.B) {
	benchPublishDeliverAck(b, protocol.Table{"x-max-priority": int32(10)}, 1)
}

// BenchmarkPublishThenDrain fills the queue with no consumer and then
// drains it with basic.get, exercising the ring buffer.
func BenchmarkPublishThenDrain(b *testing.B) {
	q, _ := New("bench", Options{VHost: "/"}, Env{})
	m := &queue.Message{Body: make([]byte, 64), Timestamp: time.Now()}
	const batch = 1000
	b.ReportAllocs()
	for b.Loop() {
		for range batch {
			q.Publish(m, queue.Confirm{})
		}
		for range batch {
			q.Get(true)
		}
	}
}
