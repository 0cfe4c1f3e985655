package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// serveEcho answers each line on every accepted stream with
// "<service>:<line>", until the test ends.
func serveEcho(t testing.TB, tr *Transport, service string) {
	t.Helper()
	ln, err := tr.Listen(service)
	if err != nil {
		t.Fatalf("Listen(%q): %v", service, err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := fmt.Fprintf(c, "%s:%s", service, line); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// roundTrip sends a line on c and returns the answer.
func roundTrip(t testing.TB, c net.Conn, line string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(got, "\n")
}

func dial(t testing.TB, from *Transport, to, service string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := from.Dial(ctx, to, service)
	if err != nil {
		t.Fatalf("Dial(%s, %q): %v", to, service, err)
	}
	return c
}

func TestListenBindsTCPAndUDPOnOnePort(t *testing.T) {
	tr := newTransport(t, TransportConfig{})
	_, port, _ := net.SplitHostPort(tr.Addr())
	if got := tr.ln.Addr().(*net.TCPAddr).Port; fmt.Sprint(got) != port {
		t.Fatalf("Addr() port %s, TCP bound to %d", port, got)
	}
	if got := tr.udp.LocalAddr().(*net.UDPAddr).Port; fmt.Sprint(got) != port {
		t.Fatalf("UDP bound to %d, want the TCP port %s", got, port)
	}
	if _, err := Listen(TransportConfig{Addr: tr.Addr()}); err == nil {
		t.Fatal("a second Listen on a taken port succeeded")
	}
}

func TestAdvertiseOverridesAddr(t *testing.T) {
	tr := newTransport(t, TransportConfig{Advertise: "node1.example:25672"})
	if tr.Addr() != "node1.example:25672" {
		t.Fatalf("Addr() = %q", tr.Addr())
	}
	ln, err := tr.Listen("svc")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if ln.Addr().String() != "node1.example:25672" {
		t.Fatalf("listener Addr() = %q", ln.Addr())
	}
}

func TestStreamsOfTwoServicesBothWays(t *testing.T) {
	a := newTransport(t, TransportConfig{})
	b := newTransport(t, TransportConfig{})
	for _, tr := range []*Transport{a, b} {
		serveEcho(t, tr, "raft/defs")
		serveEcho(t, tr, "queues")
	}
	for _, tc := range []struct {
		name     string
		from, to *Transport
	}{{"a to b", a, b}, {"b to a", b, a}} {
		t.Run(tc.name, func(t *testing.T) {
			for _, service := range []string{"raft/defs", "queues"} {
				c := dial(t, tc.from, tc.to.Addr(), service)
				if got, want := roundTrip(t, c, "hello"), service+":hello"; got != want {
					t.Errorf("service %q answered %q, want %q", service, got, want)
				}
				c.Close()
			}
		})
	}
}

func TestConcurrentStreamsShareOneConnection(t *testing.T) {
	a := newTransport(t, TransportConfig{})
	b := newTransport(t, TransportConfig{})
	serveEcho(t, b, "queues")
	serveEcho(t, b, "raft/q1")

	const streams = 50
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	start := make(chan struct{})
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start // every first Dial races for the one session
			service := []string{"queues", "raft/q1"}[i%2]
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := a.Dial(ctx, b.Addr(), service)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			msg := fmt.Sprintf("m%d\n", i)
			if _, err := io.WriteString(c, msg); err != nil {
				errs <- err
				return
			}
			got, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || got != service+":"+msg {
				errs <- fmt.Errorf("stream %d got %q, %v", i, got, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := b.accepts.Load(); n != 1 {
		t.Errorf("b accepted %d TCP connections for %d streams, want 1", n, streams)
	}
	if n := a.accepts.Load(); n != 0 {
		t.Errorf("a accepted %d TCP connections, want 0", n)
	}
}

func TestDialAfterPeerRestart(t *testing.T) {
	a := newTransport(t, TransportConfig{})
	b := newTransport(t, TransportConfig{})
	addr := b.Addr()
	serveEcho(t, b, "queues")
	c := dial(t, a, addr, "queues")
	if got := roundTrip(t, c, "before"); got != "queues:before" {
		t.Fatalf("got %q", got)
	}

	b.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("a stream to the closed peer still reads")
	}
	b2 := newTransport(t, TransportConfig{Addr: addr})
	serveEcho(t, b2, "queues")
	c2 := dial(t, a, addr, "queues")
	if got := roundTrip(t, c2, "after"); got != "queues:after" {
		t.Fatalf("got %q", got)
	}
	if n := b2.accepts.Load(); n != 1 {
		t.Errorf("restarted peer accepted %d connections, want 1", n)
	}
}

func TestDialRefusedPeerFails(t *testing.T) {
	b := newTransport(t, TransportConfig{})
	addr := b.Addr()
	b.Close()
	a := newTransport(t, TransportConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := a.Dial(ctx, addr, "queues"); err == nil {
		c.Close()
		t.Fatal("Dial to a closed port succeeded")
	}
}

func TestSecrets(t *testing.T) {
	for _, tc := range []struct {
		name         string
		dialer, peer string
		ok           bool
	}{
		{"same secret", "s3cret", "s3cret", true},
		{"both empty", "", "", true},
		{"different secrets", "s3cret", "other", false},
		{"dialer has none", "", "s3cret", false},
		{"peer has none", "s3cret", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zap.InfoLevel)
			peer := newTransport(t, TransportConfig{Secret: tc.peer, Log: zap.New(core)})
			serveEcho(t, peer, "queues")
			a := newTransport(t, TransportConfig{Secret: tc.dialer})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := a.Dial(ctx, peer.Addr(), "queues")
			if tc.ok {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if got := roundTrip(t, c, "x"); got != "queues:x" {
					t.Fatalf("got %q", got)
				}
				c.Close()
				return
			}
			if !errors.Is(err, ErrBadSecret) {
				t.Fatalf("Dial error %v, want ErrBadSecret", err)
			}
			if tc.peer != "" || tc.dialer != "" {
				eventually(t, 5*time.Second, "refusal logged", func() bool {
					return logs.FilterMessage("cluster connection refused").Len() == 1
				})
				e := logs.FilterMessage("cluster connection refused").All()[0]
				if !strings.HasPrefix(e.ContextMap()["peer"].(string), "127.0.0.1:") {
					t.Errorf("refusal logged without the peer address: %v", e.ContextMap())
				}
			}
		})
	}
}

func TestNonClusterConnectionsRefusedFast(t *testing.T) {
	tr := newTransport(t, TransportConfig{HandshakeTimeout: 10 * time.Second})
	base := runtime.NumGoroutine()
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"AMQP client", []byte("AMQP\x00\x00\x09\x01")},
		{"HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"binary", []byte{0xff, 0x00, 0x13, 0x37, 0x42}},
		{"magic then a wrong version", []byte("WRNC\x09" + strings.Repeat("n", nonceSize))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", tr.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_ = c.SetReadDeadline(start.Add(5 * time.Second))
			// Whatever is answered (our hello, to a wrong version), the
			// connection is then closed, long before the handshake timeout.
			// A close with our bytes unread is a reset, which is as good.
			_, err = io.Copy(io.Discard, c)
			if errors.Is(err, syscall.ECONNRESET) {
				err = nil
			}
			if took := time.Since(start); err != nil || took > 2*time.Second {
				t.Fatalf("connection not closed promptly: %v after %v", err, took)
			}
		})
	}
	goroutinesBack(t, base)
}

func TestSilentConnectionDroppedAtHandshakeTimeout(t *testing.T) {
	tr := newTransport(t, TransportConfig{HandshakeTimeout: 200 * time.Millisecond})
	base := runtime.NumGoroutine()
	c, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("silent connection not closed by the transport: %v", err)
	}
	goroutinesBack(t, base)
}

func TestUnknownServiceRefused(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	a := newTransport(t, TransportConfig{})
	b := newTransport(t, TransportConfig{Log: zap.New(core)})
	ln, err := b.Listen("gone")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	for _, service := range []string{"nobody", "nobody", "gone"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := a.Dial(ctx, b.Addr(), service)
		cancel()
		if !errors.Is(err, ErrUnknownService) {
			if c != nil {
				c.Close()
			}
			t.Fatalf("Dial(%q) error %v, want ErrUnknownService", service, err)
		}
	}
	refusals := logs.FilterMessage("cluster stream refused: no listener for its service")
	if n := refusals.FilterField(zap.String("service", "nobody")).Len(); n != 1 {
		t.Errorf("unknown service logged %d times for two streams, want once", n)
	}
	if n := refusals.FilterField(zap.String("service", "gone")).Len(); n != 1 {
		t.Errorf("closed service logged %d times, want once", n)
	}
	// The refusals left the session usable.
	serveEcho(t, b, "queues")
	if got := roundTrip(t, dial(t, a, b.Addr(), "queues"), "x"); got != "queues:x" {
		t.Fatalf("got %q", got)
	}
	if n := b.accepts.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestListenServiceNames(t *testing.T) {
	tr := newTransport(t, TransportConfig{})
	for _, tc := range []struct {
		service string
		ok      bool
	}{
		{"raft/defs", true},
		{"gossip", true},
		{strings.Repeat("q", maxServiceLen), true},
		{"", false},
		{strings.Repeat("q", maxServiceLen+1), false},
		{"has space", false},
		{"nul\x00", false},
		{"ünïcode", false},
	} {
		ln, err := tr.Listen(tc.service)
		if (err == nil) != tc.ok {
			t.Errorf("Listen(%q) error %v, want ok=%v", tc.service, err, tc.ok)
		}
		if err == nil {
			ln.Close()
		}
	}
	ln, err := tr.Listen("twice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Listen("twice"); !errors.Is(err, ErrServiceInUse) {
		t.Errorf("second Listen error %v, want ErrServiceInUse", err)
	}
	ln.Close()
	ln2, err := tr.Listen("twice")
	if err != nil {
		t.Fatalf("Listen after Close: %v", err)
	}
	ln2.Close()
}

func TestDialHonoursContext(t *testing.T) {
	a := newTransport(t, TransportConfig{})
	// A TCP listener that never answers the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := a.Dial(ctx, ln.Addr().String(), "queues"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial error %v, want context.DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Dial took %v", took)
	}
}

func TestCloseJoinsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	a := newTransport(t, TransportConfig{})
	b := newTransport(t, TransportConfig{})
	lnB, err := b.Listen("queues")
	if err != nil {
		t.Fatal(err)
	}
	lnA, err := a.Listen("idle")
	if err != nil {
		t.Fatal(err)
	}
	acceptErr := make(chan error, 1)
	go func() {
		_, err := lnA.Accept() // blocked until a closes
		acceptErr <- err
	}()
	c := dial(t, a, b.Addr(), "queues")
	sc, err := lnB.Accept()
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 2)
	for _, conn := range []net.Conn{c, sc} {
		go func() {
			_, err := conn.Read(make([]byte, 1)) // blocked until the session closes
			readErr <- err
		}()
	}
	// A stream whose service header never comes.
	sess, _, err := a.session(context.Background(), b.Addr())
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	if _, err := sess.OpenStream(); err != nil {
		t.Fatalf("OpenStream: %v", err)
	}

	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-acceptErr; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	for range 2 {
		if err := <-readErr; err == nil {
			t.Error("Read on a stream of a closed transport returned no error")
		}
	}
	if _, err := a.Dial(context.Background(), b.Addr(), "queues"); !errors.Is(err, ErrClosed) {
		t.Errorf("Dial after Close: %v, want ErrClosed", err)
	}
	if _, err := a.Listen("later"); !errors.Is(err, ErrClosed) {
		t.Errorf("Listen after Close: %v, want ErrClosed", err)
	}
	goroutinesBack(t, base)
}
