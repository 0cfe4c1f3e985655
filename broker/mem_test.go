package broker

import (
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
