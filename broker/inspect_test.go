package broker

import (
	"net"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// peerPipe is the broker's end of an in-process connection with the
// peer address given, marked as the node's own when direct.
type peerPipe struct {
	net.Conn
	peer   net.Addr
	direct bool
}

func (d peerPipe) RemoteAddr() net.Addr   { return d.peer }
func (d peerPipe) DirectConnection() bool { return d.direct }

// TestServeConnPipe: a connection over a net.Pipe is served like a
// socket's (login, permissions, declares), a direct one is not listed
// among the node's connections, and closing it ends it on the broker.
func TestServeConnPipe(t *testing.T) {
	for _, c := range []struct {
		name   string
		direct bool
	}{{"direct", true}, {"listed", false}} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t)
			client, server := net.Pipe()
			loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
			if err := s.ServeConn(peerPipe{Conn: server, peer: loopback, direct: c.direct}); err != nil {
				t.Fatal(err)
			}
			ac, err := amqp.Open(client, amqp.Config{SASL: []amqp.Authentication{&amqp.PlainAuth{Username: "guest", Password: "guest"}}, Vhost: "/"})
			if err != nil {
				t.Fatal(err)
			}
			ch, err := ac.Channel()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ch.QueueDeclare("pipe-q", false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := ch.QueueDeclare("pipe-q", true, false, false, false, nil); amqpCode(err) != 406 {
				t.Fatalf("inequivalent redeclare over the pipe: %v, want 406", err)
			}
			listed := len(s.Connections())
			if want := map[bool]int{true: 0, false: 1}[c.direct]; listed != want {
				t.Fatalf("%d connections listed, want %d", listed, want)
			}
			if err := ac.Close(); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the broker ends the pipe's connection", func() bool {
				return len(s.openConns(func(*conn) bool { return true })) == 0
			})
		})
	}
}

// TestServeConnLoopbackUsers: the connection's RemoteAddr decides
// loopback_users: a bare pipe's address is not loopback, so guest may not
// log in over it.
func TestServeConnLoopbackUsers(t *testing.T) {
	s := startServer(t)
	client, server := net.Pipe()
	if err := s.ServeConn(server); err != nil {
		t.Fatal(err)
	}
	_, err := amqp.Open(client, amqp.Config{SASL: []amqp.Authentication{&amqp.PlainAuth{Username: "guest", Password: "guest"}}, Vhost: "/"})
	if amqpCode(err) != 403 {
		t.Fatalf("guest over a bare pipe: %v, want 403", err)
	}
	client.Close()
}

// TestServeConnRefusedAfterClose: a closed server refuses a connection
// and closes it.
func TestServeConnRefusedAfterClose(t *testing.T) {
	s := startServer(t)
	s.Close()
	client, server := net.Pipe()
	defer client.Close()
	if err := s.ServeConn(server); err == nil {
		t.Fatal("ServeConn after Close succeeded")
	}
	if _, err := client.Write([]byte("AMQP")); err == nil {
		t.Fatal("the refused pipe is still open")
	}
}
