package broker

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestConcurrentPublishConsume runs confirming publishers and consumers
// that ack, requeue and reject at once, over several connections, to shake
// out races and lock-order problems. Every message must be acked or
// rejected exactly once in the end.
func TestConcurrentPublishConsume(t *testing.T) {
	s := startServer(t)
	setup := openChannel(t, dial(t, s))
	if err := setup.ExchangeDeclare("fan", "fanout", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	queues := []string{"s1", "s2"}
	for _, q := range queues {
		setup.QueueDeclare(q, false, false, false, false, nil)
		setup.QueueBind(q, "", "fan", false, nil)
	}
	const publishers, perPublisher = 3, 300
	var settled atomic.Int64 // acks and rejects
	want := int64(publishers * perPublisher * len(queues))

	stop := make(chan struct{})
	var cwg sync.WaitGroup
	for i, q := range queues {
		for j := range 2 {
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				ch := openChannel(t, dial(t, s))
				ch.Qos(5+i*7+j, 0, j == 1)
				ds, err := ch.Consume(q, "", false, false, false, false, nil)
				if err != nil {
					t.Error(err)
					return
				}
				n := 0
				for {
					select {
					case d := <-ds:
						n++
						switch {
						case n%7 == 0 && !d.Redelivered:
							d.Nack(false, true)
						case n%11 == 0:
							d.Reject(false)
							settled.Add(1)
						default:
							d.Ack(false)
							settled.Add(1)
						}
					case <-stop:
						return
					}
				}
			}()
		}
	}
	var pwg sync.WaitGroup
	for range publishers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			ch := openChannel(t, dial(t, s))
			ch.Confirm(false)
			acks := ch.NotifyPublish(make(chan amqp.Confirmation, perPublisher))
			for k := range perPublisher {
				if err := ch.PublishWithContext(context.Background(), "fan", "", false, false,
					amqp.Publishing{Body: []byte(fmt.Sprint(k))}); err != nil {
					t.Error(err)
					return
				}
			}
			for range perPublisher {
				select {
				case c := <-acks:
					if !c.Ack {
						t.Error("nack")
					}
				case <-time.After(10 * time.Second):
					t.Error("missing confirm")
					return
				}
			}
		}()
	}
	pwg.Wait()
	eventually(t, "all messages settled", func() bool { return settled.Load() == want })
	close(stop)
	cwg.Wait()
}
