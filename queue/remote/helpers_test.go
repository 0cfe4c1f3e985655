package remote

import (
	"context"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/classic"
)

// waitFor bounds every wait in these tests.
const waitFor = 5 * time.Second

// peerName is the home node's name in the tests.
const peerName = "warren@home"

// eventually polls cond until it holds, failing after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkGoroutines fails the test if goroutines started during it are
// still running once its cleanups (registered after this) have run.
func checkGoroutines(t testing.TB) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		eventually(t, "the link's goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	})
}

func testLog(t testing.TB) *zap.Logger {
	if tt, ok := t.(*testing.T); ok && testing.Verbose() {
		return zaptest.NewLogger(tt)
	}
	return zap.NewNop()
}

// home is a node serving its queues over links: a TCP listener on
// loopback whose every connection is served by Serve.
type home struct {
	t      testing.TB
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
	typ    *classic.Type
	read   atomic.Int64 // octets read from peers

	mu     sync.Mutex
	queues map[[2]string]queue.Queue
	conns  []*homeConn
	errs   []error // what Serve returned
}

func newHome(t testing.TB) *home {
	t.Helper()
	typ, err := classic.OpenType(classic.TypeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &home{t: t, ln: ln, cancel: cancel, typ: typ, queues: make(map[[2]string]queue.Queue)}
	cfg := ServerConfig{Lookup: h.lookup, Log: testLog(t)}
	h.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			hc := &homeConn{Conn: c, h: h, gone: make(chan struct{})}
			h.mu.Lock()
			h.conns = append(h.conns, hc)
			h.mu.Unlock()
			h.wg.Go(func() {
				err := Serve(ctx, hc, cfg)
				h.mu.Lock()
				h.errs = append(h.errs, err)
				h.mu.Unlock()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		cancel()
		h.wg.Wait()
		h.mu.Lock()
		for _, q := range h.queues {
			q.Close()
		}
		h.mu.Unlock()
		typ.Close()
	})
	return h
}

// declare makes a classic queue on the home node.
func (h *home) declare(vhost, name string) queue.Queue {
	h.t.Helper()
	q, err := h.typ.Declare(context.Background(), queue.Declaration{VHost: vhost, Name: name}, queue.Hooks{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.queues[[2]string{vhost, name}] = q
	h.mu.Unlock()
	return q
}

// lookup is the home node's ServerConfig.Lookup, with RabbitMQ's 404.
func (h *home) lookup(vhost, name string) (queue.Queue, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if q := h.queues[[2]string{vhost, name}]; q != nil {
		return q, nil
	}
	return nil, protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", name, vhost)
}

// link returns a link to the home node, closed at cleanup.
func (h *home) link(t testing.TB) *Link {
	l := NewLink(LinkConfig{Peer: peerName, Log: testLog(t), Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", h.ln.Addr().String())
	}})
	t.Cleanup(l.Close)
	return l
}

// lastConn returns the connection the home node accepted last.
func (h *home) lastConn() *homeConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) == 0 {
		return nil
	}
	return h.conns[len(h.conns)-1]
}

// served returns how many links have ended, and what they returned.
func (h *home) served() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.errs...)
}

// homeConn is an accepted connection that counts what it reads and can
// hold its reads (the node stops answering) until closed.
type homeConn struct {
	net.Conn
	h    *home
	held atomic.Bool
	gone chan struct{}
	once sync.Once
}

func (c *homeConn) Read(p []byte) (int, error) {
	if c.held.Load() {
		<-c.gone
		return 0, net.ErrClosed
	}
	n, err := c.Conn.Read(p)
	if c.held.Load() { // held during the read: what came is not seen
		<-c.gone
		return 0, net.ErrClosed
	}
	c.h.read.Add(int64(n))
	return n, err
}

func (c *homeConn) Close() error {
	c.once.Do(func() { close(c.gone) })
	return c.Conn.Close()
}

// owner is a channel: a queue.SessionOwner recording what it is posted.
type owner struct {
	pub queue.Publisher

	mu       sync.Mutex
	acts     []queue.Action
	confirms map[uint64]bool
}

func newOwner() *owner {
	return &owner{pub: queue.Publisher{Node: "warren@edge", Conn: 1, Channel: 1}, confirms: make(map[uint64]bool)}
}

func (o *owner) Publisher() *queue.Publisher { return &o.pub }

func (o *owner) Post(acts []queue.Action) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, a := range acts {
		switch a.Kind {
		case queue.ActionSettled, queue.ActionRejected:
			o.confirms[a.Seq] = a.Kind == queue.ActionSettled
		}
		o.acts = append(o.acts, a)
	}
}

// kinds returns the actions posted of kind k.
func (o *owner) kinds(k queue.ActionKind) []queue.Action {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []queue.Action
	for _, a := range o.acts {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

// wait waits until n actions of kind k were posted and returns them.
func (o *owner) wait(t testing.TB, k queue.ActionKind, n int) []queue.Action {
	t.Helper()
	var got []queue.Action
	eventually(t, "posted actions", func() bool {
		got = o.kinds(k)
		return len(got) >= n
	})
	return got
}

// confirmed returns the confirm outcome of seq, and whether one came.
func (o *owner) confirmed(seq uint64) (ok, came bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ok, came = o.confirms[seq]
	return ok, came
}

// consumer is a queue.Consumer that the proxy never calls directly (it
// posts), so its methods only record.
type consumer struct{ tag string }

func (*consumer) Deliver(queue.Delivery) { panic("a proxy posts deliveries") }
func (*consumer) Cancelled()             { panic("a proxy posts cancellations") }

func message(body string) *queue.Message {
	return &queue.Message{RoutingKey: "k", Body: []byte(body), Timestamp: time.Now(),
		Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}}
}
