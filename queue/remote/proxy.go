package remote

import (
	"context"
	"errors"
	"sync"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// proxyQueue is a queue on the peer, reached through the link: every
// method goes over the wire.
type proxyQueue struct {
	l           *Link
	vhost, name string

	mu       sync.Mutex
	closed   bool
	sessions map[*proxySession]struct{}
}

var (
	_ queue.Queue   = (*proxyQueue)(nil)
	_ queue.Session = (*proxySession)(nil)
)

// Name implements queue.Queue.
func (q *proxyQueue) Name() string { return q.name }

// homeDown is RabbitMQ's exception for a queue whose node cannot be
// reached (rabbit_amqqueue's absent/2, reason nodedown).
func (q *proxyQueue) homeDown() *protocol.Error {
	return protocol.NewError(protocol.NotFound,
		"home node '%s' of durable queue '%s' in vhost '%s' is down or inaccessible", q.l.cfg.Peer, q.name, q.vhost)
}

// closedErr answers what a closed proxy is asked, as a closed classic
// queue does.
func (q *proxyQueue) closedErr() error {
	return protocol.NewError(protocol.InternalError,
		"queue '%s' in vhost '%s' is closed: the node is shutting down", q.name, q.vhost)
}

func (q *proxyQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// NewSession implements queue.Queue: a session opened on the peer over
// the link's current connection (dialled if need be). A session opened
// while the peer cannot be reached is down from the start.
func (q *proxyQueue) NewSession(o queue.SessionOwner) queue.Session {
	s := &proxySession{q: q, owner: o, cons: make(map[uint32]*proxyConsumer),
		ids: make(map[queue.Consumer]uint32), unconfirmed: make(map[uint64]struct{})}
	q.mu.Lock()
	closed := q.closed
	if !closed {
		q.sessions[s] = struct{}{}
	}
	q.mu.Unlock()
	lc := q.l.conn()
	if closed || lc == nil || !lc.add(s) {
		s.down = true
		o.Post([]queue.Action{{Kind: queue.ActionQueueDown}})
		return s
	}
	if e := lc.out.lock(); e != nil {
		at := e.begin(fOpen)
		e.u32(s.sid)
		e.str(q.vhost)
		e.str(q.name)
		p := o.Publisher()
		if p == nil {
			p = &queue.Publisher{}
		}
		e.str(p.Node)
		e.u64(p.Conn)
		e.u16(p.Channel)
		e.end(at)
		lc.out.unlock()
	}
	return s
}

// add registers s on the connection, giving it an id, unless the
// connection failed.
func (lc *linkConn) add(s *proxySession) bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.failed {
		return false
	}
	lc.nextSID++
	s.sid, s.lc = lc.nextSID, lc
	lc.sessions[s.sid] = s
	return true
}

// Publish implements queue.Queue: a session-less publish, confirmed to
// c.To when set; nacked if the link fails first.
func (q *proxyQueue) Publish(m *queue.Message, c queue.Confirm) {
	lc := q.l.conn()
	if lc == nil || q.isClosed() {
		if c.To != nil {
			c.To.Confirmed(c.Seq, false)
		}
		return
	}
	lc.mu.Lock()
	if lc.failed {
		lc.mu.Unlock()
		if c.To != nil {
			c.To.Confirmed(c.Seq, false)
		}
		return
	}
	lc.nextReq++
	req := lc.nextReq
	if c.To != nil {
		lc.pubs[req] = c
	}
	lc.mu.Unlock()
	if e := lc.out.lock(); e != nil {
		at := e.begin(fQPub)
		e.u64(req)
		e.str(q.vhost)
		e.str(q.name)
		if c.To != nil {
			e.u8(flagConfirm)
		} else {
			e.u8(0)
		}
		e.message(m)
		e.end(at)
		lc.out.unlock()
	}
}

// Touch implements queue.Queue.
func (q *proxyQueue) Touch() {
	if q.isClosed() {
		return
	}
	if lc := q.l.conn(); lc != nil {
		if e := lc.out.lock(); e != nil {
			at := e.begin(fTouch)
			e.str(q.vhost)
			e.str(q.name)
			e.end(at)
			lc.out.unlock()
		}
	}
}

// UpdateArgs implements queue.Queue: the queue's home node applies the
// same policy change to the queue itself, so the proxy does nothing.
func (q *proxyQueue) UpdateArgs(queue.Args) {}

// call sends request t and waits for the reply; a link that fails first
// answers with the home-node-down exception.
func (q *proxyQueue) call(ctx context.Context, t byte, flags byte) reply {
	if q.isClosed() {
		return reply{err: q.closedErr()}
	}
	r := q.l.conn().request(ctx, func(e *encoder, req uint64) {
		at := e.begin(t)
		e.u64(req)
		e.str(q.vhost)
		e.str(q.name)
		if t == fDelete {
			e.u8(flags)
		}
		e.end(at)
	})
	if errors.Is(r.err, errPeerDown) {
		r.err = q.homeDown()
	}
	return r
}

// Purge implements queue.Queue.
func (q *proxyQueue) Purge(ctx context.Context) (uint32, error) {
	r := q.call(ctx, fPurge, 0)
	return r.n, r.err
}

// Delete implements queue.Queue.
func (q *proxyQueue) Delete(ctx context.Context, ifUnused, ifEmpty bool) (uint32, error) {
	var flags byte
	if ifUnused {
		flags |= flagIfUnused
	}
	if ifEmpty {
		flags |= flagIfEmpty
	}
	r := q.call(ctx, fDelete, flags)
	return r.n, r.err
}

// Stats implements queue.Queue; a queue that cannot be reached counts
// nothing.
func (q *proxyQueue) Stats(ctx context.Context) queue.Stats {
	return q.call(ctx, fStats, 0).stats
}

// CheckedStats is Stats that says when the queue cannot be reached: the
// home-node-down exception when its node is down, or the exception its
// node answered (404 for a queue it no longer has).
func (q *proxyQueue) CheckedStats(ctx context.Context) (queue.Stats, error) {
	r := q.call(ctx, fStats, 0)
	return r.stats, r.err
}

// Close implements queue.Queue: it closes the proxy only. Its sessions
// end (on the peer too, which requeues what they held); the queue on the
// peer is untouched.
func (q *proxyQueue) Close() error {
	q.mu.Lock()
	q.closed = true
	ss := make([]*proxySession, 0, len(q.sessions))
	for s := range q.sessions {
		ss = append(ss, s)
	}
	q.mu.Unlock()
	for _, s := range ss {
		s.Close()
	}
	return nil
}

// forget drops a closed session.
func (q *proxyQueue) forget(s *proxySession) {
	q.mu.Lock()
	delete(q.sessions, s)
	q.mu.Unlock()
}
