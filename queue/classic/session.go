package classic

import (
	"sync"

	"github.com/warrenmq/warren/queue"
)

// session is a channel's queue.Session with a classic queue. Classic
// completes everything at once and keeps its fast path: deliveries,
// cancellations and confirms still reach the Consumer and Confirmer
// directly. The session remembers the consumers subscribed through it, so
// that Close cancels them, and the queue remembers its open sessions, so
// that Delete posts them ActionQueueDown.
type session struct {
	q     *Queue
	owner queue.SessionOwner

	mu     sync.Mutex // guards cons and closed; taken before Queue.mu
	cons   []queue.Consumer
	closed bool
	// blocked: flow control asked the owner to stop publishing (flow.go).
	// Guarded by Queue.mu.
	blocked bool
}

// NewSession opens a session for o (queue.Queue).
func (q *Queue) NewSession(o queue.SessionOwner) queue.Session {
	s := &session{q: q, owner: o}
	q.mu.Lock()
	if !q.deleted {
		if q.sessions == nil {
			q.sessions = make(map[*session]struct{})
		}
		q.sessions[s] = struct{}{}
	}
	q.mu.Unlock()
	return s
}

// Publish implements queue.Session.
func (s *session) Publish(m *queue.Message, c queue.Confirm, out []queue.Action) []queue.Action {
	s.q.publishFrom(m, c, s)
	return out
}

// Consume implements queue.Session.
func (s *session) Consume(c queue.Consumer, o queue.ConsumeOptions, out []queue.Action) ([]queue.Action, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.q.consume(c, o, s.owner.Publisher()); err != nil {
		return out, err
	}
	s.cons = append(s.cons, c)
	return append(out, queue.Action{Kind: queue.ActionConsumeOK, Consumer: c}), nil
}

// Cancel implements queue.Session.
func (s *session) Cancel(c queue.Consumer, out []queue.Action) []queue.Action {
	s.mu.Lock()
	for i, k := range s.cons {
		if k == c {
			s.cons = append(s.cons[:i], s.cons[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	s.q.Cancel(c)
	return out
}

// Get implements queue.Session.
func (s *session) Get(noAck bool, out []queue.Action) []queue.Action {
	d, remaining, ok := s.q.Get(noAck)
	if !ok {
		return append(out, queue.Action{Kind: queue.ActionGetEmpty})
	}
	return append(out, queue.Action{Kind: queue.ActionGetOK, Delivery: d, Count: remaining})
}

// Settle implements queue.Session.
func (s *session) Settle(st queue.Settlement, ids []uint64, out []queue.Action) []queue.Action {
	s.q.Settle(st, ids)
	return out
}

// Close implements queue.Session: the consumers subscribed through it are
// cancelled. A classic queue keeps no state per publisher.
func (s *session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	cons := s.cons
	s.cons = nil
	s.mu.Unlock()
	for _, c := range cons {
		s.q.Cancel(c)
	}
	s.q.mu.Lock()
	delete(s.q.sessions, s)
	s.q.flowForget(s)
	s.q.mu.Unlock()
}

// takeSessions forgets the open sessions, for Delete to post them
// ActionQueueDown once the queue's lock is released. The caller holds
// q.mu.
func (q *Queue) takeSessions() []*session {
	ss := make([]*session, 0, len(q.sessions))
	for s := range q.sessions {
		ss = append(ss, s)
		s.blocked = false
	}
	q.sessions = nil
	q.flowBlocked = nil
	return ss
}

// queueDown posts ActionQueueDown to each session's owner.
func queueDown(ss []*session) {
	down := [1]queue.Action{{Kind: queue.ActionQueueDown}}
	for _, s := range ss {
		s.owner.Post(down[:])
	}
}
