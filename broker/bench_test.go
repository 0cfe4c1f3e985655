package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// BenchmarkPublishConsume publishes b.N messages through amqp091-go over
// real TCP to one queue while a consumer on another connection (manual
// acks, prefetch 1000) receives them, and reports messages per second.
func BenchmarkPublishConsume(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			benchPublishConsume(b, size)
		})
	}
}

func benchPublishConsume(b *testing.B, size int) {
	s := startServer(b)
	pc := dial(b, s)
	cc := dial(b, s)
	pch := openChannel(b, pc)
	cch := openChannel(b, cc)
	q, err := pch.QueueDeclare("", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := cch.Qos(1000, 0, false); err != nil {
		b.Fatal(err)
	}
	ds, err := cch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	body := make([]byte, size)
	done := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	go func() {
		n := 0
		for d := range ds {
			n++
			if n%100 == 0 || n == b.N {
				if err := d.Ack(true); err != nil {
					done <- err
					return
				}
			}
			if n == b.N {
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("deliveries ended after %d", n)
	}()
	ctx := context.Background()
	msg := amqp.Publishing{Body: body}
	for i := 0; i < b.N; i++ {
		if err := pch.PublishWithContext(ctx, "", q.Name, false, false, msg); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			b.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		b.Fatal("consumer did not receive everything")
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
}
