package broker

import (
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestMemoryAlarmBlocksPublishers sets a watermark every heap exceeds: a
// connection that publishes hears connection.blocked and is no longer
// read from its first publish on, so none of its messages is enqueued,
// while a connection that only consumes keeps working, and the server
// still shuts down promptly.
func TestMemoryAlarmBlocksPublishers(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MemoryHighWatermark = 1 })
	// Close the broker before the clients: a blocked connection does not
	// read the client's connection.close (nor does RabbitMQ's), and
	// amqp091-go waits for close-ok without a timeout.
	defer s.Close()
	pc := dial(t, s)
	blocked := pc.NotifyBlocked(make(chan amqp.Blocking, 1))
	pch := openChannel(t, pc)
	pch.QueueDeclare("alarm", false, false, false, false, nil)
	publish(t, pch, "", "alarm", amqp.Publishing{Body: []byte("first")})
	select {
	case b := <-blocked:
		if !b.Active || b.Reason != "low on memory" {
			t.Fatalf("blocking %+v", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection.blocked")
	}
	publish(t, pch, "", "alarm", amqp.Publishing{Body: []byte("second")})
	paused := func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			if c.paused.Load() {
				return true
			}
		}
		return false
	}
	eventually(t, "publisher paused", paused)
	publish(t, pch, "", "alarm", amqp.Publishing{Body: []byte("held back")})

	cch := openChannel(t, dial(t, s))
	for range 10 {
		q, err := cch.QueueDeclarePassive("alarm", false, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Messages != 0 {
			t.Fatalf("%d of a blocked publisher's messages enqueued", q.Messages)
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("close took %v", el)
	}
}
