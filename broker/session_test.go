package broker

import (
	"context"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/queue"
)

// lateType is a test queue type whose queues answer through their
// sessions' owners from other goroutines, as a queue on another node
// would: confirms and deliveries are posted, never called.
type lateType struct {
	mu     sync.Mutex
	queues map[string]*lateQueue
}

// lateTypeName registers lateType under a name RabbitMQ knows (the
// argument checks refuse others); this node runs no quorum type of its
// own.
const lateTypeName = queue.TypeQuorum

func (*lateType) Name() string { return lateTypeName }
func (*lateType) Capabilities() queue.Capabilities {
	return queue.Capabilities{NonDurable: true, Exclusive: true, AutoDelete: true, Args: []string{"x-queue-type"}}
}
func (*lateType) Recover(context.Context, []queue.Ref) error { return nil }
func (*lateType) Close() error                               { return nil }
func (t *lateType) Declare(_ context.Context, d queue.Declaration, _ queue.Hooks) (queue.Queue, error) {
	q := &lateQueue{name: d.Name}
	t.mu.Lock()
	if t.queues == nil {
		t.queues = make(map[string]*lateQueue)
	}
	t.queues[d.Name] = q
	t.mu.Unlock()
	return q, nil
}

func (t *lateType) queue(name string) *lateQueue {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queues[name]
}

// lateQueue keeps what it is told and answers later.
type lateQueue struct {
	name string

	mu       sync.Mutex
	sessions []*lateSession
	msgs     []*queue.Message
	settled  []uint64
}

func (q *lateQueue) Name() string { return q.name }
func (q *lateQueue) NewSession(o queue.SessionOwner) queue.Session {
	s := &lateSession{q: q, owner: o}
	q.mu.Lock()
	q.sessions = append(q.sessions, s)
	q.mu.Unlock()
	return s
}
func (q *lateQueue) Publish(m *queue.Message, _ queue.Confirm) {
	q.mu.Lock()
	q.msgs = append(q.msgs, m)
	q.mu.Unlock()
}
func (q *lateQueue) Touch()                                {}
func (q *lateQueue) UpdateArgs(queue.Args)                 {}
func (q *lateQueue) Purge(context.Context) (uint32, error) { return 0, nil }
func (q *lateQueue) Stats(context.Context) queue.Stats     { return queue.Stats{} }
func (q *lateQueue) Close() error                          { return nil }
func (q *lateQueue) Delete(context.Context, bool, bool) (uint32, error) {
	q.mu.Lock()
	ss := q.sessions
	q.sessions = nil
	q.mu.Unlock()
	for _, s := range ss {
		s.post(queue.Action{Kind: queue.ActionQueueDown})
	}
	return 0, nil
}

// snapshot returns the queue's sessions, messages and settled ids.
func (q *lateQueue) snapshot() ([]*lateSession, int, []uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]*lateSession(nil), q.sessions...), len(q.msgs), append([]uint64(nil), q.settled...)
}

// lateSession answers every operation from another goroutine.
type lateSession struct {
	q     *lateQueue
	owner queue.SessionOwner

	mu     sync.Mutex
	cons   []queue.Consumer
	closed bool
}

// post posts a from a new goroutine and waits for nothing.
func (s *lateSession) post(a queue.Action) {
	go s.owner.Post([]queue.Action{a})
}

func (s *lateSession) Publish(m *queue.Message, c queue.Confirm, out []queue.Action) []queue.Action {
	s.q.Publish(m, c)
	if c.To != nil {
		s.post(queue.Action{Kind: queue.ActionSettled, Seq: c.Seq})
	}
	return out
}
func (s *lateSession) Consume(c queue.Consumer, _ queue.ConsumeOptions, out []queue.Action) ([]queue.Action, error) {
	s.mu.Lock()
	s.cons = append(s.cons, c)
	s.mu.Unlock()
	s.post(queue.Action{Kind: queue.ActionConsumeOK, Consumer: c})
	return out, nil
}
func (s *lateSession) Cancel(c queue.Consumer, out []queue.Action) []queue.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range s.cons {
		if k == c {
			s.cons = append(s.cons[:i], s.cons[i+1:]...)
			break
		}
	}
	return out
}
func (s *lateSession) Get(_ bool, out []queue.Action) []queue.Action {
	s.post(queue.Action{Kind: queue.ActionGetEmpty})
	return out
}
func (s *lateSession) Settle(_ queue.Settlement, ids []uint64, out []queue.Action) []queue.Action {
	s.q.mu.Lock()
	s.q.settled = append(s.q.settled, ids...)
	s.q.mu.Unlock()
	return out
}
func (s *lateSession) Close() {
	s.mu.Lock()
	s.closed = true
	s.cons = nil
	s.mu.Unlock()
}

func (s *lateSession) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// consumer returns the session's only consumer, or nil.
func (s *lateSession) consumer() queue.Consumer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cons) != 1 {
		return nil
	}
	return s.cons[0]
}

// startLateServer starts a broker with lateType registered.
func startLateServer(t *testing.T) (*Server, *lateType) {
	lt := &lateType{}
	s := startServer(t, func(c *Config) { c.extraTypes = []queue.Type{lt} })
	return s, lt
}

func declareLate(t *testing.T, ch *amqp.Channel, lt *lateType, name string) *lateQueue {
	t.Helper()
	if _, err := ch.QueueDeclare(name, false, false, false, false, amqp.Table{"x-queue-type": lateTypeName}); err != nil {
		t.Fatal(err)
	}
	return lt.queue(name)
}

// TestSessionsAnswerLate: a channel opens one session per queue, on first
// use, and reuses it; confirms, consume-ok, deliveries and get-empty that
// the queue posts later from other goroutines reach the client through
// the connection's inbox; acks settle through the session; closing the
// channel closes its sessions.
func TestSessionsAnswerLate(t *testing.T) {
	s, lt := startLateServer(t)
	c := dial(t, s)
	pch := openChannel(t, c)
	q := declareLate(t, pch, lt, "late")
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	acks := pch.NotifyPublish(make(chan amqp.Confirmation, 10))
	for range 3 {
		if err := pch.Publish("", "late", false, false, amqp.Publishing{Body: []byte("m")}); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(1); i <= 3; i++ {
		select {
		case cf := <-acks:
			if !cf.Ack || cf.DeliveryTag != i {
				t.Fatalf("confirm %+v, want ack %d", cf, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no confirm for publish %d", i)
		}
	}
	ss, n, _ := q.snapshot()
	if len(ss) != 1 || n != 3 {
		t.Fatalf("%d sessions and %d messages, want one session for 3 publishes", len(ss), n)
	}
	if p := ss[0].owner.Publisher(); p.Channel != 1 || p.Node != s.cfg.NodeName {
		t.Fatalf("session owner is publisher %+v", p)
	}

	cch := openChannel(t, c)
	ds, err := cch.Consume("late", "k", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, _, _ = q.snapshot()
	if len(ss) != 2 {
		t.Fatalf("%d sessions after a consume on a second channel, want 2", len(ss))
	}
	k := ss[1].consumer()
	if k == nil {
		t.Fatal("the consumer is not subscribed through the consuming channel's session")
	}
	msg := &queue.Message{RoutingKey: "late", Body: []byte("hello")}
	go ss[1].owner.Post([]queue.Action{{Kind: queue.ActionDeliver, Consumer: k, Delivery: queue.Delivery{ID: 42, Message: msg}}})
	select {
	case d := <-ds:
		if string(d.Body) != "hello" || d.ConsumerTag != "k" {
			t.Fatalf("delivered %q to %q", d.Body, d.ConsumerTag)
		}
		if err := d.Ack(false); err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the posted delivery did not arrive")
	}
	eventually(t, "the ack settles id 42 through the session", func() bool {
		_, _, settled := q.snapshot()
		return len(settled) == 1 && settled[0] == 42
	})
	if _, ok, err := cch.Get("late", true); ok || err != nil {
		t.Fatalf("get: ok %v, err %v, want get-empty", ok, err)
	}
	if err := cch.Close(); err != nil {
		t.Fatal(err)
	}
	if !ss[1].isClosed() || ss[0].isClosed() {
		t.Fatalf("closing the consuming channel closed sessions %v and %v, want only its own", ss[0].isClosed(), ss[1].isClosed())
	}
}

// TestSessionForgottenWhenQueueDown: a queue that goes down
// (ActionQueueDown) is forgotten by the channel, which opens a new session
// with the next queue of that name.
func TestSessionForgottenWhenQueueDown(t *testing.T) {
	s, lt := startLateServer(t)
	c := dial(t, s)
	ch := openChannel(t, c)
	q1 := declareLate(t, ch, lt, "down")
	if err := ch.Publish("", "down", false, false, amqp.Publishing{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the publish reaches the first queue", func() bool { _, n, _ := q1.snapshot(); return n == 1 })
	ss, _, _ := q1.snapshot()
	if _, err := ch.QueueDelete("down", false, false, false); err != nil {
		t.Fatal(err)
	}
	q2 := declareLate(t, ch, lt, "down")
	if err := ch.Publish("", "down", false, false, amqp.Publishing{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the publish reaches the second queue", func() bool { _, n, _ := q2.snapshot(); return n == 1 })
	eventually(t, "the down session is closed", ss[0].isClosed)
	if s2, _, _ := q2.snapshot(); len(s2) != 1 {
		t.Fatalf("%d sessions with the new queue, want 1", len(s2))
	}
}

// TestFlowBlockStopsPublishes: a queue that blocks its publisher's
// session stops the connection being read (a publish sent meanwhile does
// not reach the queue) until it unblocks the session or goes down.
func TestFlowBlockStopsPublishes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release queue.ActionKind
	}{
		{"unblocked", queue.ActionUnblock},
		{"queue down", queue.ActionQueueDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, lt := startLateServer(t)
			c := dial(t, s)
			ch := openChannel(t, c)
			q := declareLate(t, ch, lt, "flow")
			if err := ch.Publish("", "flow", false, false, amqp.Publishing{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the first publish arrives", func() bool { _, n, _ := q.snapshot(); return n == 1 })
			ss, _, _ := q.snapshot()
			sc := serverConn(t, s)
			ss[0].owner.Post([]queue.Action{{Kind: queue.ActionBlock}})
			eventually(t, "the writer carries out the block", func() bool { return sc.flowBlocked.Load() == 1 })
			if err := ch.Publish("", "flow", false, false, amqp.Publishing{}); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the read loop pauses", sc.paused.Load)
			if _, n, _ := q.snapshot(); n != 1 {
				t.Fatalf("%d messages reached the queue while it blocked its publisher, want 1", n)
			}
			ss[0].owner.Post([]queue.Action{{Kind: tc.release}})
			eventually(t, "the held publish arrives once released", func() bool { _, n, _ := q.snapshot(); return n == 2 })
			if b := sc.flowBlocked.Load(); b != 0 {
				t.Fatalf("flowBlocked %d once released", b)
			}
		})
	}
}

// serverConn returns the server's only connection.
func serverConn(t *testing.T, s *Server) *conn {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.conns) != 1 {
		t.Fatalf("%d connections, want 1", len(s.conns))
	}
	for c := range s.conns {
		return c
	}
	return nil
}
