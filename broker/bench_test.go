package broker

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/warrenmq/warren/protocol"
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

// BenchmarkBrokerRawPublishConsume drives the broker with pre-encoded frames
// over two raw sockets (one publishing, one consuming with no-ack), so
// that the allocations reported are the broker's own.
func BenchmarkBrokerRawPublishConsume(b *testing.B) {
	benchRawPublishConsume(b)
}

// BenchmarkBrokerRawPublishRegexPermissions is
// BenchmarkBrokerRawPublishConsume with a user whose permissions are
// anchored regular expressions rather than ".*": what a permission check
// costs a publish (write on amq.default) once the channel has cached it.
func BenchmarkBrokerRawPublishRegexPermissions(b *testing.B) {
	benchRawPublishConsume(b, func(c *Config) {
		c.DefaultPermissions = Permission{Configure: "^raw$", Write: "^(amq\\.default|raw)$", Read: "^r[a-z]w$"}
		c.DefaultUserTags = []string{}
	})
}

func benchRawPublishConsume(b *testing.B, mod ...func(*Config)) {
	s := startServer(b, mod...)
	pub := rawOpen(b, s.Addr().String())
	defer pub.Close()
	con := rawOpen(b, s.Addr().String())
	defer con.Close()
	declare := protocol.AppendMethodFrame(nil, 1, &protocol.QueueDeclare{Queue: "raw"})
	pub.Write(declare)
	fr := protocol.NewFrameReader(pub)
	if _, err := fr.ReadFrame(); err != nil {
		b.Fatal(err)
	}
	con.Write(protocol.AppendMethodFrame(nil, 1, &protocol.BasicConsume{Queue: "raw", ConsumerTag: "c", NoAck: true}))
	cfr := protocol.NewFrameReader(con)
	if _, err := cfr.ReadFrame(); err != nil { // consume-ok
		b.Fatal(err)
	}
	const batch = 100
	var one []byte
	one = protocol.AppendMethodFrame(one, 1, &protocol.BasicPublish{RoutingKey: "raw"})
	one = protocol.AppendHeaderFrame(one, 1, protocol.ClassBasic, 16, &protocol.Properties{})
	one = protocol.AppendBodyFrames(one, 1, make([]byte, 16), 131072)
	var frames []byte
	for range batch {
		frames = append(frames, one...)
	}
	done := make(chan error, 1)
	go func() {
		n := 0
		for n < b.N {
			f, err := cfr.ReadFrame()
			if err != nil {
				done <- err
				return
			}
			if f.Type == protocol.FrameBody {
				n++
			}
		}
		done <- nil
	}()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	start := time.Now()
	for sent := 0; sent < b.N; sent += batch {
		k := min(batch, b.N-sent)
		if _, err := pub.Write(frames[:k*len(one)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msg/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "broker-allocs/msg")
}

// BenchmarkDeclareDeleteExclusive declares and deletes one exclusive queue
// per iteration through amqp091-go: the cost of a definitions change,
// which is committed (fsynced) before it is applied, even for a queue
// that does not outlive its connection.
func BenchmarkDeclareDeleteExclusive(b *testing.B) {
	s := startServer(b)
	ch := openChannel(b, dial(b, s))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q, err := ch.QueueDeclare("", false, false, true, false, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ch.QueueDelete(q.Name, false, false, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckAccess is the permission check of a publish to one
// exchange (write on amq.default, a regular expression) as a channel
// makes it: cached after the first, and uncached (every decision made
// under a new authz, as after each permission change).
func BenchmarkCheckAccess(b *testing.B) {
	s := startServer(b, func(c *Config) {
		c.DefaultPermissions = Permission{Configure: "^raw$", Write: "^(amq\\.default|raw)$", Read: "^raw$"}
	})
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	c := newConn(s, p1)
	c.user, c.vh = "guest", s.vhost("/")
	ch := &channel{c: c}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if err := ch.checkAccess(resExchange, permWrite, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			ch.perms = nil
			if err := ch.checkAccess(resExchange, permWrite, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}
