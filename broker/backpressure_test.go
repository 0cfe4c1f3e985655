package broker

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/protocol"
)

// TestSlowConsumerBackpressure subscribes a client that does not read:
// the broker stops handing it messages once its output buffer is full,
// instead of buffering the whole queue, and delivers the rest once the
// client reads again.
func TestSlowConsumerBackpressure(t *testing.T) {
	skipWithLateClassic(t, "its 8000 publishes each wait up to 3 ms in turn, past the bound for the queue to fill")
	s := startServer(t)
	pub := openChannel(t, dial(t, s))
	pub.QueueDeclare("bp", false, false, false, false, nil)
	const n = 8000
	body := make([]byte, 1024)
	for range n {
		if err := pub.PublishWithContext(context.Background(), "", "bp", false, false, amqp.Publishing{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	q := s.vhost("/").queues["bp"].q
	eventually(t, "queue filled", func() bool { return q.Stats(context.Background()).Ready == n })

	nc := rawOpen(t, s.Addr().String())
	defer nc.Close()
	nc.Write(protocol.AppendMethodFrame(nil, 1, &protocol.BasicConsume{Queue: "bp", ConsumerTag: "slow", NoAck: true}))
	eventually(t, "deliveries stop", func() bool {
		r1 := q.Stats(context.Background()).Ready
		time.Sleep(20 * time.Millisecond)
		return r1 > 0 && q.Stats(context.Background()).Ready == r1
	})
	t.Logf("ready after the stall: %d of %d", q.Stats(context.Background()).Ready, n)
	if q.Stats(context.Background()).Ready == 0 {
		t.Fatal("the whole queue went into the output buffer")
	}
	fr := protocol.NewFrameReader(nc)
	nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := 0
	for got < n {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d deliveries: %v", got, err)
		}
		if f.Type == protocol.FrameMethod {
			if m, _ := protocol.DecodeMethod(f.Payload); m != nil && m.Name() == "basic.deliver" {
				got++
			}
		}
	}
}
