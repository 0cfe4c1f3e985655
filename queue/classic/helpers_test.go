package classic

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// fakeConsumer records its deliveries. credit is the prefetch the test
// subscribed it with (-1: unlimited); a delivery past it panics, since the
// queue keeps the credit and must never exceed it.
type fakeConsumer struct {
	mu        sync.Mutex
	credit    int
	got       []queue.Delivery
	cancelled bool
}

func newConsumer(credit int) *fakeConsumer { return &fakeConsumer{credit: credit} }

func (f *fakeConsumer) Deliver(d queue.Delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.credit == 0 {
		panic("delivered past the consumer's prefetch")
	}
	if f.credit > 0 {
		f.credit--
	}
	f.got = append(f.got, d)
}

func (f *fakeConsumer) Cancelled() {
	f.mu.Lock()
	f.cancelled = true
	f.mu.Unlock()
}

// settled gives the consumer back the credit of n deliveries it settled.
func (f *fakeConsumer) settled(n int) {
	f.mu.Lock()
	if f.credit >= 0 {
		f.credit += n
	}
	f.mu.Unlock()
}

// ack acks the consumer's i-th delivery, giving its credit back.
func (h *harness) ack(c *fakeConsumer, i int) {
	c.mu.Lock()
	id := c.got[i].ID
	c.mu.Unlock()
	c.settled(1)
	h.q.Settle(queue.Ack, []uint64{id})
}

// pausedLimiter is a channel limiter that lets nothing through.
func pausedLimiter() *queue.Limiter {
	l := &queue.Limiter{}
	l.Pause()
	return l
}

// bodies returns the bodies delivered so far.
func (f *fakeConsumer) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.got))
	for i, d := range f.got {
		out[i] = string(d.Message.Body)
	}
	return out
}

func (f *fakeConsumer) ids() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]uint64, len(f.got))
	for i, d := range f.got {
		out[i] = d.ID
	}
	return out
}

// fakeClock is a manual clock whose timers fire in Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c      *fakeClock
	at     time.Time
	f      func()
	active bool
}

func newClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f, active: true}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active, t.at = true, t.c.now.Add(d)
	return was
}

// Advance moves the clock forward by d, firing due timers in time order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, t := range c.timers {
			if t.active && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			c.now = end
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		next.active = false
		c.mu.Unlock()
		next.f()
	}
}

// Jump moves the clock forward without firing timers, to test the lazy
// expiry paths.
func (c *fakeClock) Jump(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// armed reports how many timers are pending.
func (c *fakeClock) armed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

// confirms records publisher confirms.
type confirms struct {
	mu  sync.Mutex
	got map[uint64]bool
}

func (c *confirms) Confirmed(seq uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got == nil {
		c.got = map[uint64]bool{}
	}
	if _, dup := c.got[seq]; dup {
		panic("confirmed twice")
	}
	c.got[seq] = ok
}

// harness is a queue with a fake clock that records what it dead-letters
// and whether it asked to be deleted.
type harness struct {
	t       *testing.T
	q       *Queue
	clock   *fakeClock
	mu      sync.Mutex
	dead    []*queue.Message
	expired int
	onDead  func([]*queue.Message)
}

func newHarness(t *testing.T, args protocol.Table, opts Options) *harness {
	t.Helper()
	a, err := queue.ParseArgs(args, "q", "/")
	if err != nil {
		t.Fatalf("ParseArgs: %v", err)
	}
	opts.VHost = "/"
	opts.Args = a
	h := &harness{t: t, clock: newClock()}
	q, err := New("q", opts, Env{
		DeadLetter: func(ms []*queue.Message) {
			h.mu.Lock()
			h.dead = append(h.dead, ms...)
			f := h.onDead
			h.mu.Unlock()
			if f != nil {
				f(ms)
			}
		},
		Expired: func() {
			h.mu.Lock()
			h.expired++
			h.mu.Unlock()
		},
		Now:       h.clock.Now,
		AfterFunc: h.clock.AfterFunc,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.q = q
	return h
}

func (h *harness) msg(body string) *queue.Message {
	return &queue.Message{Exchange: "x", RoutingKey: "k", Body: []byte(body), Timestamp: h.clock.Now()}
}

func (h *harness) publish(bodies ...string) {
	for _, b := range bodies {
		h.q.Publish(h.msg(b), queue.Confirm{})
	}
}

// deadLettered returns the bodies and reasons dead-lettered so far.
func (h *harness) deadLettered() (bodies, reasons []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.dead {
		bodies = append(bodies, string(m.Body))
		reasons = append(reasons, m.Props.Headers["x-last-death-reason"].(string))
	}
	return bodies, reasons
}

func (h *harness) expiredCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.expired
}

// drain takes every ready message with basic.get (no-ack) and returns the
// bodies, marking redelivered ones with a trailing '*'.
func (h *harness) drain() []string {
	var out []string
	for {
		d, _, ok := h.q.Get(true)
		if !ok {
			return out
		}
		s := string(d.Message.Body)
		if d.Redelivered {
			s += "*"
		}
		out = append(out, s)
	}
}

func (h *harness) stats(ready, unacked, consumers uint32) {
	h.t.Helper()
	want := queue.Stats{Ready: ready, Unacked: unacked, Consumers: consumers}
	if got := h.q.Stats(bg); got != want {
		h.t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}

func errText(err error) string {
	if pe, ok := err.(*protocol.Error); ok {
		return pe.Text
	}
	if err == nil {
		return ""
	}
	return "not an AMQP exception: " + err.Error()
}

// bg is the context the tests pass to queue methods that take one.
var bg = context.Background()
