package cluster

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestHandshakeOverPipe(t *testing.T) {
	for _, tc := range []struct {
		name           string
		client, server string
		clientErr      error
		serverErr      error
	}{
		{"same secret", "k", "k", nil, nil},
		{"different secrets", "k", "other", ErrBadSecret, ErrBadSecret},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			defer s.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_ = s.SetDeadline(time.Now().Add(5 * time.Second))
			serr := make(chan error, 1)
			go func() {
				err := serverHandshake(s, []byte(tc.server))
				s.Close() // as the transport does on failure
				serr <- err
			}()
			if err := clientHandshake(c, []byte(tc.client)); !errors.Is(err, tc.clientErr) {
				t.Errorf("client: %v, want %v", err, tc.clientErr)
			}
			c.Close()
			if err := <-serr; !errors.Is(err, tc.serverErr) {
				t.Errorf("server: %v, want %v", err, tc.serverErr)
			}
		})
	}
}

func TestHandshakeNamesTheVersions(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go func() {
		// A peer of a later version reads our hello and answers with its own.
		io.ReadFull(s, make([]byte, helloSize))
		hello, _, _ := newHello()
		hello[len(handshakeMagic)] = 9
		s.Write(hello)
		s.Close()
	}()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	err := clientHandshake(c, nil)
	var verr errVersion
	if !errors.As(err, &verr) || verr.theirs != 9 {
		t.Fatalf("clientHandshake: %v, want the peer's version 9 named", err)
	}
}

func TestHandshakeSlotsPerAddress(t *testing.T) {
	tr := newTransport(t, TransportConfig{HandshakeTimeout: 10 * time.Second})
	var silent []net.Conn
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	for range maxHandshakesPerIP {
		c, err := net.Dial("tcp", tr.Addr())
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, c)
	}
	pending := func() int {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.pendingIP["127.0.0.1"]
	}
	eventually(t, 5*time.Second, "the silent connections are in their handshake", func() bool {
		return pending() == maxHandshakesPerIP
	})

	// One more from the same address is closed at once, not at the timeout.
	extra, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.Copy(io.Discard, extra); err != nil {
		t.Fatalf("connection over the per-address limit not closed at once: %v", err)
	}

	for _, c := range silent {
		c.Close()
	}
	silent = nil
	eventually(t, 5*time.Second, "the slots are free again", func() bool { return pending() == 0 })
	a := newTransport(t, TransportConfig{})
	serveEcho(t, tr, "queues")
	if got := roundTrip(t, dial(t, a, tr.Addr(), "queues"), "x"); got != "queues:x" {
		t.Fatalf("got %q", got)
	}
}
