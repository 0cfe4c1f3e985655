package broker

import (
	"sync/atomic"

	"github.com/warrenmq/warren/queue"
)

// session is a channel's queue.Session with one queue and the
// queue.SessionOwner the queue posts late actions to. The channel opens
// one on first use of a queue (publish, consume, get) and closes them all
// when it is released.
type session struct {
	ch *channel
	q  queue.Queue
	s  queue.Session
	// down is set when the queue said it is gone (ActionQueueDown); the
	// read loop then forgets the session.
	down atomic.Bool
	// blocked is set by ActionBlock and cleared by ActionUnblock, both
	// handled on the writer or the read loop (conn.flowBlocked counts the
	// connection's blocked sessions).
	blocked atomic.Bool
	// qc are the queue's counters on this node and qt its type's index
	// (counters.go), found when the session opens.
	qc *queueCounters
	qt uint8
}

// Publisher implements queue.SessionOwner.
func (s *session) Publisher() *queue.Publisher { return &s.ch.from }

// Post implements queue.SessionOwner: the actions go to the connection's
// inbox, which its writer drains.
func (s *session) Post(acts []queue.Action) { s.ch.c.post(s, acts) }

// session returns the channel's session with q, opening it on first use.
// It runs on the read loop; the usual case, the same queue as last time,
// costs a comparison.
func (ch *channel) session(q queue.Queue) *session {
	if s := ch.lastSess; s != nil && s.q == q && !s.down.Load() {
		return s
	}
	if ch.sessDown.Load() {
		ch.forgetDownSessions()
	}
	s := ch.sessions[q]
	if s == nil || s.down.Load() {
		s = &session{ch: ch, q: q}
		s.qc, s.qt = ch.c.vh.queueCountersOf(q)
		s.s = q.NewSession(s)
		if ch.sessions == nil {
			ch.sessions = make(map[queue.Queue]*session)
		}
		ch.sessions[q] = s
	}
	ch.lastSess = s
	return s
}

// forgetDownSessions drops the sessions whose queue is gone, so a channel
// publishing to many short-lived queues (RPC replies) does not keep them
// all. Read loop only.
func (ch *channel) forgetDownSessions() {
	ch.sessDown.Store(false)
	for q, s := range ch.sessions {
		if s.down.Load() {
			delete(ch.sessions, q)
			s.s.Close()
		}
	}
	if ch.lastSess != nil && ch.lastSess.down.Load() {
		ch.lastSess = nil
	}
}

// closeSessions closes every session: the queues learn the channel is
// gone. It runs on the read loop when the channel is released, after its
// consumers were cancelled and its deliveries requeued.
func (ch *channel) closeSessions() {
	for q, s := range ch.sessions {
		delete(ch.sessions, q)
		s.s.Close()
		s.unblock()
	}
	ch.lastSess = nil
}

// blockSession handles ActionBlock. A session whose queue went down, or
// of a released channel, is not blocked: the check and the block are made
// under ch.mu, which release (closed) and ActionQueueDown (down) take
// before they unblock, so a block cannot outlive them.
func (ch *channel) blockSession(s *session) {
	ch.mu.Lock()
	if !ch.closed && !s.down.Load() {
		s.block()
	}
	ch.mu.Unlock()
}

// block marks the session blocked by its queue: the connection stops
// reading publishes until every blocked session is unblocked.
func (s *session) block() {
	if s.blocked.CompareAndSwap(false, true) {
		s.ch.c.flowBlocked.Add(1)
	}
}

// unblock ends block.
func (s *session) unblock() {
	if s.blocked.CompareAndSwap(true, false) {
		if s.ch.c.flowBlocked.Add(-1) == 0 {
			select {
			case s.ch.c.flowWake <- struct{}{}:
			default:
			}
		}
	}
}

// handle carries out the actions a session operation returned on the read
// loop, and keeps their buffer for the next operation.
func (s *session) handle(acts []queue.Action) {
	if len(acts) > 0 {
		s.ch.handleActions(s, acts)
	}
	s.ch.actBuf = acts[:0]
}
