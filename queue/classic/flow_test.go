package classic

import (
	"strings"
	"sync"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// fakeOwner is a session's owner on connection conn; it records the block
// and unblock actions posted to it.
type fakeOwner struct {
	pub  queue.Publisher
	mu   sync.Mutex
	acts []queue.ActionKind
}

func newOwner(conn uint64) *fakeOwner {
	return &fakeOwner{pub: queue.Publisher{Node: "n", Conn: conn, Channel: 1}}
}

func (o *fakeOwner) Publisher() *queue.Publisher { return &o.pub }

func (o *fakeOwner) Post(acts []queue.Action) {
	o.mu.Lock()
	for _, a := range acts {
		if a.Kind == queue.ActionBlock || a.Kind == queue.ActionUnblock {
			o.acts = append(o.acts, a.Kind)
		}
	}
	o.mu.Unlock()
}

// flow returns the posted blocks and unblocks as a string of B and U.
func (o *fakeOwner) flow() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	for _, k := range o.acts {
		if k == queue.ActionBlock {
			b.WriteByte('B')
		} else {
			b.WriteByte('U')
		}
	}
	return b.String()
}

// publishN publishes n messages of size bytes through s.
func publishN(h *harness, s queue.Session, n, size int) {
	body := strings.Repeat("x", size)
	for range n {
		s.Publish(h.msg(body), queue.Confirm{}, nil)
	}
}

// subscribe consumes from h's queue through a session of owner o, with
// prefetch 10, and returns the consumer.
func subscribe(t *testing.T, h *harness, o *fakeOwner) (*fakeConsumer, queue.Session) {
	t.Helper()
	s := h.q.NewSession(o)
	c := newConsumer(10)
	if _, err := s.Consume(c, queue.ConsumeOptions{Prefetch: 10}, nil); err != nil {
		t.Fatal(err)
	}
	return c, s
}

// TestFlowBlocksPublisherOfLaggingQueue: a queue whose consumer lags
// blocks its publisher once, when the ready messages reach the high
// watermark, and unblocks it once, only when they fall to the low one.
func TestFlowBlocksPublisherOfLaggingQueue(t *testing.T) {
	h := newHarness(t, nil, Options{})
	c, _ := subscribe(t, h, newOwner(2))
	pub := newOwner(1)
	s := h.q.NewSession(pub)

	publishN(h, s, 10+flowHighMessages-1, 16) // 10 delivered, the rest ready
	if got := pub.flow(); got != "" {
		t.Fatalf("below the high watermark: posted %q, want nothing", got)
	}
	publishN(h, s, 1, 16)
	if got := pub.flow(); got != "B" {
		t.Fatalf("at the high watermark: posted %q, want one block", got)
	}
	publishN(h, s, 100, 16) // published before the pause took hold
	if got := pub.flow(); got != "B" {
		t.Fatalf("publishing while blocked: posted %q, want still one block", got)
	}
	// Each ack delivers one more ready message.
	acked := 0
	for h.q.readyN() > flowLowMessages+1 {
		h.ack(c, acked)
		acked++
	}
	if got := pub.flow(); got != "B" {
		t.Fatalf("above the low watermark: posted %q, want no unblock yet", got)
	}
	h.ack(c, acked)
	if got := pub.flow(); got != "BU" {
		t.Fatalf("at the low watermark: posted %q, want block then unblock", got)
	}
}

// TestFlowUnblocks: every way out of a block that does not wait for the
// backlog to drain.
func TestFlowUnblocks(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(h *harness, c *fakeConsumer, cs queue.Session)
	}{
		{"last consumer cancelled", func(h *harness, c *fakeConsumer, cs queue.Session) { cs.Cancel(c, nil) }},
		{"consumer's channel closed", func(h *harness, c *fakeConsumer, cs queue.Session) { cs.Close() }},
		{"purged", func(h *harness, c *fakeConsumer, cs queue.Session) {
			if _, err := h.q.Purge(bg); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, Options{})
			c, cs := subscribe(t, h, newOwner(2))
			pub := newOwner(1)
			s := h.q.NewSession(pub)
			publishN(h, s, 10+flowHighMessages, 16)
			if got := pub.flow(); got != "B" {
				t.Fatalf("posted %q, want one block", got)
			}
			tc.do(h, c, cs)
			if got := pub.flow(); got != "BU" {
				t.Fatalf("posted %q, want block then unblock", got)
			}
		})
	}
}

// TestFlowDoesNotBlock: publishers a lagging backlog must not stop.
func TestFlowDoesNotBlock(t *testing.T) {
	t.Run("no consumers", func(t *testing.T) {
		h := newHarness(t, nil, Options{})
		pub := newOwner(1)
		publishN(h, h.q.NewSession(pub), 2*flowHighMessages, 16)
		if got := pub.flow(); got != "" {
			t.Fatalf("posted %q to the publisher of a queue without consumers, want nothing", got)
		}
	})
	t.Run("publisher's connection consumes from the queue", func(t *testing.T) {
		h := newHarness(t, nil, Options{})
		pub := newOwner(1)
		subscribe(t, h, newOwner(1)) // another channel of the same connection
		publishN(h, h.q.NewSession(pub), 2*flowHighMessages, 16)
		if got := pub.flow(); got != "" {
			t.Fatalf("posted %q to a publisher whose own acks drain the queue, want nothing", got)
		}
	})
}

// TestFlowBlocksOnBytes: large messages block the publisher before the
// count does.
func TestFlowBlocksOnBytes(t *testing.T) {
	h := newHarness(t, nil, Options{})
	subscribe(t, h, newOwner(2))
	pub := newOwner(1)
	const size = 1 << 20
	publishN(h, h.q.NewSession(pub), 10+flowHighBytes/size-1, size)
	if got := pub.flow(); got != "" {
		t.Fatalf("below the byte watermark: posted %q", got)
	}
	publishN(h, h.q.NewSession(pub), 1, size)
	if got := pub.flow(); got != "B" {
		t.Fatalf("at the byte watermark: posted %q, want one block", got)
	}
}

// TestFlowForgetsClosedSession: a blocked session that closes is not
// posted an unblock later (its owner unblocked it when closing it); the
// others still are.
func TestFlowForgetsClosedSession(t *testing.T) {
	h := newHarness(t, protocol.Table{}, Options{})
	c, cs := subscribe(t, h, newOwner(2))
	gone, kept := newOwner(1), newOwner(3)
	sg, sk := h.q.NewSession(gone), h.q.NewSession(kept)
	publishN(h, sg, 10+flowHighMessages, 16)
	publishN(h, sk, 1, 16)
	if g, k := gone.flow(), kept.flow(); g != "B" || k != "B" {
		t.Fatalf("posted %q and %q, want a block each", g, k)
	}
	sg.Close()
	cs.Cancel(c, nil)
	if g, k := gone.flow(), kept.flow(); g != "B" || k != "BU" {
		t.Fatalf("after close and cancel: posted %q and %q, want the open session unblocked only", g, k)
	}
}
