package broker

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

// rawOpen performs the client side of the handshake over a bare socket and
// opens channel 1, so that the client costs next to nothing.
func rawOpen(t testing.TB, addr string) net.Conn {
	t.Helper()
	return rawOpenHeartbeat(t, addr, 60)
}

// rawOpenHeartbeat is rawOpen with the heartbeat the client asks for.
func rawOpenHeartbeat(t testing.TB, addr string, heartbeat uint16) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(protocol.ProtocolHeader)
	fr := protocol.NewFrameReader(nc)
	expect := func(want string) {
		t.Helper()
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		m, err := protocol.DecodeMethod(f.Payload)
		if err != nil || m.Name() != want {
			t.Fatalf("got %v %v, want %s", m, err, want)
		}
	}
	send := func(ch uint16, m protocol.Method) {
		if _, err := nc.Write(protocol.AppendMethodFrame(nil, ch, m)); err != nil {
			t.Fatal(err)
		}
	}
	expect("connection.start")
	send(0, &protocol.ConnectionStartOk{Mechanism: "PLAIN", Response: "\x00guest\x00guest", Locale: "en_US"})
	expect("connection.tune")
	send(0, &protocol.ConnectionTuneOk{ChannelMax: 2047, FrameMax: 131072, Heartbeat: heartbeat})
	send(0, &protocol.ConnectionOpen{VirtualHost: "/"})
	expect("connection.open-ok")
	send(1, &protocol.ChannelOpen{})
	expect("channel.open-ok")
	return nc
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// TestIdleConnectionMemory checks that an idle connection with one open
// channel costs the broker well under 30 KB (RabbitMQ: 60-85 KB).
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens many connections")
	}
	s := startServer(t)
	const n = 300
	before := heapAndStacks()
	conns := make([]net.Conn, 0, n)
	for range n {
		conns = append(conns, rawOpen(t, s.Addr().String()))
	}
	after := heapAndStacks()
	per := (int64(after) - int64(before)) / n
	t.Logf("memory per idle connection with one channel: %d bytes (client sockets included)", per)
	if per > 30_000 {
		t.Errorf("idle connection costs %d bytes, want <= 30000", per)
	}
	for _, c := range conns {
		c.Close()
	}
}

// queuedBytesPerMessage publishes n transient messages of size bytes to
// the queue qname (declared with durable) over a raw socket, with no
// consumer, and returns the growth of the broker's heap and stacks per
// message once the queue holds them all.
func queuedBytesPerMessage(t *testing.T, s *Server, qname string, durable bool, n, size int) int64 {
	t.Helper()
	nc := rawOpen(t, s.Addr().String())
	defer nc.Close()
	fr := protocol.NewFrameReader(nc)
	nc.Write(protocol.AppendMethodFrame(nil, 1, &protocol.QueueDeclare{Queue: qname, Durable: durable}))
	if f, err := fr.ReadFrame(); err != nil || f.Type != protocol.FrameMethod {
		t.Fatalf("declare: %v", err)
	}
	var one []byte
	one = protocol.AppendMethodFrame(one, 1, &protocol.BasicPublish{RoutingKey: qname})
	one = protocol.AppendHeaderFrame(one, 1, protocol.ClassBasic, uint64(size), &protocol.Properties{})
	one = protocol.AppendBodyFrames(one, 1, make([]byte, size), 131072)
	const batch = 100
	frames := bytes.Repeat(one, batch)
	q := s.vhost("/").queues[qname].q
	before := heapAndStacks()
	for sent := 0; sent < n; sent += batch {
		k := min(batch, n-sent)
		if _, err := nc.Write(frames[:k*len(one)]); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "queue filled", func() bool { return q.Stats(context.Background()).Ready == uint32(n) })
	after := heapAndStacks()
	return (int64(after) - int64(before)) / int64(n)
}

// TestQueuedMessageMemory measures what a queued transient 1 KiB message
// costs the broker's heap in a queue without consumers, published end to
// end over a socket, and keeps it within its bound. With a data dir, all
// but the queue's window (4096 messages) are paged out to disk.
func TestQueuedMessageMemory(t *testing.T) {
	skipWithLateClassic(t, "it measures the classic queue's own memory, and 20,000 publishes each delayed up to 3 ms outlast its wait")
	const n, size = 20_000, 1024
	for _, tc := range []struct {
		name     string
		inMemory bool
		durable  bool
		max      int64 // bytes per message
	}{
		{"in memory", true, false, size + 400},
		{"non-durable queue", false, false, 512},
		{"durable queue", false, true, 512},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, func(c *Config) {
				if tc.inMemory {
					c.InMemory, c.DataDir = true, ""
				}
			})
			per := queuedBytesPerMessage(t, s, "mem", tc.durable, n, size)
			t.Logf("%s: %d bytes of heap per queued transient %d B message (%d messages)", tc.name, per, size, n)
			if per > tc.max {
				t.Errorf("a queued %d B message costs %d bytes, want <= %d", size, per, tc.max)
			}
		})
	}
}
