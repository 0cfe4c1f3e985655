package quorum

import (
	"context"
	"maps"
	"net"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// orders returns the orders of rs.
func orders(rs []request) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.order
	}
	return out
}

// requests returns requests of orders from to to, both included.
func requests(from, to uint64) []request {
	var rs []request
	for o := from; o <= to; o++ {
		rs = append(rs, request{cmd: fifo.Touch{}, order: o})
	}
	return rs
}

// TestProposerRetriesInOrder: what a leader did not take is sent again
// in the order it was submitted, whatever else waits to be sent again
// meanwhile: a retry longer than one batch whose first batch fails again
// (before the rest of it went), a new leader's commands (first). Sent out
// of order, a later publish would reach the queue before an earlier one.
func TestProposerRetriesInOrder(t *testing.T) {
	tests := []struct {
		name    string
		retry   []request // waiting to be sent again
		elected bool      // a new leader's commands come while the batch is out
	}{
		{"the rest of a long retry", requests(1, maxBatch+300), false},
		{"a new leader's commands first", requests(1, maxBatch+10), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &proposer{retry: tt.retry, orders: uint64(len(tt.retry))}
			p.pending = requests(p.orders+1, p.orders+5)
			want := orders(append(slices.Clone(tt.retry), p.pending...))
			batch := p.takeFor("leader")
			if len(batch) != maxBatch {
				t.Fatalf("took %d, want a batch of %d", len(batch), maxBatch)
			}
			if tt.elected {
				p.retry = append([]request{{cmd: fifo.LeaderElected{}}}, p.retry...)
				want = append([]uint64{0}, want...)
			}
			if more := p.takeFor("another"); more != nil {
				t.Fatalf("took %d for another leader while a batch is out", len(more))
			}
			p.answered(batch) // the leader did not take it
			var sent []request
			for b := p.takeFor("next"); b != nil; b = p.takeFor("next") {
				sent = append(sent, b...)
				p.answered(nil)
			}
			if got := orders(sent); !slices.Equal(got, want) {
				t.Fatalf("sent again in the order %v…, want %v…", head(got), head(want))
			}
		})
	}
}

// head returns the first few of s and where it first breaks order.
func head(s []uint64) []uint64 {
	for i := 1; i < len(s); i++ {
		if s[i] < s[i-1] {
			return s[max(0, i-2):min(len(s), i+2)]
		}
	}
	return s[:min(len(s), 4)]
}

// heldFuture is an ApplyFuture whose answer the test gives.
type heldFuture struct {
	err     chan error
	errOnce error
	got     bool
}

func (f *heldFuture) Error() error {
	if !f.got {
		f.errOnce, f.got = <-f.err, true
	}
	return f.errOnce
}
func (f *heldFuture) Index() uint64 { return 0 }
func (f *heldFuture) Response() any { return nil }

// declareSingle declares the quorum queue "q" on a node of its own; the
// test closes it and its type.
func declareSingle(t *testing.T) *Queue {
	t.Helper()
	typ, err := OpenType(Config{Node: "queuetest@node"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { typ.Close() })
	args, err := queue.ParseArgs(protocol.Table{"x-queue-type": "quorum"}, "q", "/")
	if err != nil {
		t.Fatal(err)
	}
	q, err := typ.Declare(context.Background(), queue.Declaration{VHost: "/", Name: "q", Durable: true, Args: args}, queue.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	qq := q.(*Queue)
	return qq
}

// singleQueue returns a quorum queue on a node of its own, leading, and
// a session of a channel that publishes with confirms.
func singleQueue(t *testing.T) (*Queue, *session, *testOwner) {
	t.Helper()
	qq := declareSingle(t)
	waitUntil(t, "the queue leads, idle", func() bool {
		p := qq.prop
		p.mu.Lock()
		defer p.mu.Unlock()
		return qq.leading() && p.inflight == 0 && len(p.pending)+len(p.retry) == 0
	})
	o := newTestOwner()
	return qq, qq.NewSession(o).(*session), o
}

// msgOf is a message with body b, and the confirm of publish number n.
func msgOf(b string, o *testOwner, n uint64) (*queue.Message, queue.Confirm) {
	return &queue.Message{Body: []byte(b)}, queue.Confirm{To: noConfirmer{}, Seq: n, From: &o.pub, Num: n}
}

// answers returns the confirms (true) and nacks (false) posted to o, by
// publish number, failing on a publish answered twice.
func (o *testOwner) answers(t *testing.T) map[uint64]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[uint64]bool{}
	for _, a := range o.acts {
		if a.Kind != queue.ActionSettled && a.Kind != queue.ActionRejected {
			continue
		}
		if _, twice := out[a.Seq]; twice {
			t.Fatalf("publish %d answered twice", a.Seq)
		}
		out[a.Seq] = a.Kind == queue.ActionSettled
	}
	return out
}

// heldBodies returns the bodies the replica holds, in enqueue order.
func (q *Queue) heldBodies() []string {
	q.fsm.mu.Lock()
	defer q.fsm.mu.Unlock()
	idx := slices.Sorted(maps.Keys(q.fsm.bodies.mem))
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = string(q.fsm.bodies.mem[k].Body)
	}
	return out
}

// TestProposerResendsOutOfSequence: a publish whose batch the leader did
// not take is overtaken by the next one (here the first batch is held in
// flight, then fails, while the second is committed): the state machine
// refuses the second as out of sequence, the proposer sends both again
// in order, and each message is enqueued once and confirmed once. With
// the earlier publish gone for good instead (refused and nacked), the
// later one is nacked rather than sent again for ever, and the session's
// next publish starts a new run that is enqueued.
func TestProposerResendsOutOfSequence(t *testing.T) {
	t.Run("overtaken", func(t *testing.T) {
		q, s, o := singleQueue(t)
		p := q.prop
		first := s.publishing(msgOf("m1", o, 1))
		second := s.publishing(msgOf("m2", o, 2))
		f := &heldFuture{err: make(chan error, 1)}
		release := func() {
			select {
			case f.err <- raft.ErrLeadershipLost:
			default:
			}
		}
		t.Cleanup(release) // before the queue closes, which waits for it
		p.mu.Lock()
		p.inflight++
		p.flying = append(p.flying, []request{first})
		p.mu.Unlock()
		p.futures.push(inflight{f: f, reqs: []request{first}}, nil)
		applied := q.fsm.appliedSinceSnapshot()
		p.submit(second)
		waitUntil(t, "m2 committed first", func() bool { return q.fsm.appliedSinceSnapshot() > applied })
		if n := q.fsm.counts().Ready; n != 0 {
			t.Fatalf("m2 enqueued before m1: %d ready", n)
		}
		release()
		waitUntil(t, "both answered", func() bool { return len(o.answers(t)) == 2 })
		if got := o.answers(t); !got[1] || !got[2] {
			t.Fatalf("answers %v, want both confirmed", got)
		}
		if got := q.heldBodies(); !slices.Equal(got, []string{"m1", "m2"}) {
			t.Fatalf("the queue holds %q, want m1 then m2, once each", got)
		}
	})
	t.Run("earlier one gone", func(t *testing.T) {
		q, s, o := singleQueue(t)
		s.publishing(msgOf("m1", o, 1)) // numbered, never sent: refused before it went
		m, c := msgOf("m2", o, 2)
		s.Publish(m, c, nil)
		waitUntil(t, "m2 answered", func() bool { return len(o.answers(t)) == 1 })
		if got := o.answers(t); got[2] {
			t.Fatalf("m2 confirmed past a gap that will never fill")
		}
		m, c = msgOf("m3", o, 3)
		s.Publish(m, c, nil)
		waitUntil(t, "m3 answered", func() bool { return len(o.answers(t)) == 2 })
		if got := o.answers(t); !got[3] {
			t.Fatalf("answers %v: the publish after a nack was not confirmed", got)
		}
		if got := q.heldBodies(); !slices.Equal(got, []string{"m3"}) {
			t.Fatalf("the queue holds %q, want m3", got)
		}
	})
}

// dialCounter is a Network that counts the dials of the quorum service.
type dialCounter struct {
	Network
	dials *atomic.Int64
}

func (n dialCounter) Dial(ctx context.Context, addr, service string) (net.Conn, error) {
	if service == Service {
		n.dials.Add(1)
	}
	return n.Network.Dial(ctx, addr, service)
}

// TestProposerDoesNotSpinOnAGoneLeader: a node whose publishes wait for
// a leader that is gone (here a non-member, both members stopped) tries
// again every retryEvery, not in a tight loop: a dial refused at once
// used to be retried at once, a core busy for as long as the node waited.
// The publish is nacked once leaderWait passes.
func TestProposerDoesNotSpinOnAGoneLeader(t *testing.T) {
	var dials atomic.Int64
	c := startWrappedCluster(t, func(node string, n Network) Network {
		if node == "n3" {
			return dialCounter{n, &dials}
		}
		return n
	}, 3, "n1", "n2")
	c.leader("n1", "n2")
	c.publish(c.node("n3"), 1)
	c.close(c.node("n1"))
	c.close(c.node("n2"))
	n3 := c.node("n3")
	n3.s.Publish(&queue.Message{Body: []byte("waits")},
		queue.Confirm{To: noConfirmer{}, Seq: 2, From: &n3.o.pub, Num: 2}, nil)
	// The rate of dials over a second is what is asserted, so this waits
	// out the second.
	before := dials.Load()
	time.Sleep(time.Second)
	got := dials.Load() - before
	// One try per retryEvery (50 ms), a dial at most every redialAfter
	// (100 ms) per address: about 10 in a second; spinning made thousands.
	if got > 40 {
		t.Fatalf("%d dials to the gone members in 1 s, want at most 40 (a retry every %v)", got, retryEvery)
	}
	t.Logf("%d dials to the gone members in 1 s", got)
}

// TestSettleTravelsWithTheNextPublish: on a queue with nothing ready, a
// consumer's ack followed shortly by a publish (a publisher waiting for
// its message to be consumed) takes one Raft entry, not two, so the
// publish does not wait behind the ack's own log write and replication;
// and the next message still reaches the consumer the ack freed.
func TestSettleTravelsWithTheNextPublish(t *testing.T) {
	qq := declareSingle(t)
	qq.prop.mu.Lock()
	qq.prop.linger = time.Second // so that a slow machine cannot make it pass by
	qq.prop.mu.Unlock()
	o := newTestOwner()
	s := qq.NewSession(o).(*session)
	if _, err := s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "c", Prefetch: 1}, nil); err != nil {
		t.Fatal(err)
	}
	s.Publish(&queue.Message{Body: []byte("m0")}, queue.Confirm{}, nil)
	o.waitDelivered(t, "m0")
	var id uint64
	o.mu.Lock()
	for _, a := range o.acts {
		if a.Kind == queue.ActionDeliver {
			id = a.Delivery.ID
		}
	}
	o.mu.Unlock()
	before := qq.raft().LastIndex()
	s.Settle(queue.Ack, []uint64{id}, nil)
	// Without the linger the proposer takes the settle alone at once.
	deadline := time.Now().Add(5 * time.Millisecond)
	for time.Now().Before(deadline) {
		runtime.Gosched()
	}
	s.Publish(&queue.Message{Body: []byte("m1")}, queue.Confirm{}, nil)
	o.waitDelivered(t, "m0", "m1")
	if got := qq.raft().LastIndex() - before; got != 1 {
		t.Fatalf("the ack and the publish took %d Raft entries, want 1", got)
	}
}

// TestSettleNotHeldWhileMessagesWait: with messages ready an ack goes at
// once, as the consumer it frees takes the next one (a prefetch-1
// consumer draining a backlog is not slowed by the linger).
func TestSettleNotHeldWhileMessagesWait(t *testing.T) {
	qq := declareSingle(t)
	qq.prop.mu.Lock()
	qq.prop.linger = time.Minute
	qq.prop.mu.Unlock()
	o := newTestOwner()
	s := qq.NewSession(o).(*session)
	s.Publish(&queue.Message{Body: []byte("m0")}, queue.Confirm{}, nil)
	s.Publish(&queue.Message{Body: []byte("m1")}, queue.Confirm{}, nil)
	if _, err := s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "c", Prefetch: 1}, nil); err != nil {
		t.Fatal(err)
	}
	o.waitDelivered(t, "m0")
	o.mu.Lock()
	var id uint64
	for _, a := range o.acts {
		if a.Kind == queue.ActionDeliver {
			id = a.Delivery.ID
		}
	}
	o.mu.Unlock()
	s.Settle(queue.Ack, []uint64{id}, nil)
	o.waitDelivered(t, "m0", "m1")
}
