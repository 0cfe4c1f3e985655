package classic

import (
	"time"

	"github.com/warrenmq/warren/queue"
)

// expirationNs is the TTL a message's expiration property asks for, in
// nanoseconds, or -1. The broker has validated it with
// queue.ParseExpiration at publish; an invalid one is ignored here.
func expirationNs(s string) int64 {
	ms, err := queue.ParseExpiration(s)
	if err != nil {
		return -1
	}
	return ms * int64(time.Millisecond)
}

// expiryOf returns when m expires in this queue, in Unix nanoseconds (0:
// never), and the TTL that applies (-1: none): the lower of the queue's
// x-message-ttl and the message's expiration, counted from its Timestamp.
// It is computed at publish and again when a paged message is read back.
func (q *Queue) expiryOf(m *queue.Message, now *int64) (expiry, ttl int64) {
	ttl = q.ttl
	if m.Props.Expiration != "" {
		if t := expirationNs(m.Props.Expiration); t >= 0 && (ttl < 0 || t < ttl) {
			ttl = t
		}
		q.ttlSeen = true
	}
	if ttl < 0 {
		return 0, ttl
	}
	base := m.Timestamp.UnixNano()
	if m.Timestamp.IsZero() {
		base = q.nowNs(now)
	}
	expiry = base + ttl
	if expiry == 0 {
		expiry = 1 // 0 means "never"
	}
	return expiry, ttl
}

// used renews the x-expires lease: the queue was consumed from, read with
// basic.get or redeclared.
func (q *Queue) used(now *int64) {
	if q.args.Expires > 0 {
		q.lastUsed = q.nowNs(now)
	}
}

// dropExpired dead-letters (reason expired) every expired message at the
// head of a priority level. Like RabbitMQ, it looks at heads only: a
// message behind one that has not expired waits its turn.
func (q *Queue) dropExpired(now *int64) {
	if !q.ttlSeen {
		return
	}
	for l := len(q.ready.levels) - 1; l >= 0; l-- {
		r := &q.ready.levels[l]
		for r.n > 0 {
			h := r.front()
			if h.expiry == 0 || h.expiry > q.nowNs(now) {
				break
			}
			q.drop(q.take(l), queue.Expired, now)
		}
	}
}

// deadline returns when the queue next needs attention, in Unix ns: the
// earliest expiry among the heads of its levels, or its x-expires deadline
// while it has no consumers. It is 0 when nothing is due.
func (q *Queue) deadline() int64 {
	var d int64
	if q.ttlSeen {
		for l := range q.ready.levels {
			r := &q.ready.levels[l]
			if r.n > 0 {
				if x := r.front().expiry; x != 0 && (d == 0 || x < d) {
					d = x
				}
			}
		}
	}
	if q.args.Expires > 0 && q.cons.count == 0 && !q.expireSent {
		if x := q.lastUsed + int64(q.args.Expires); d == 0 || x < d {
			d = x
		}
	}
	return d
}

// schedule arms the queue's one timer for its next deadline, unless it is
// already armed for that time or earlier (then it re-arms when it fires).
func (q *Queue) schedule(now *int64) {
	if !q.ttlSeen && q.args.Expires == 0 {
		return
	}
	d := q.deadline()
	if d == 0 || (q.timerAt != 0 && q.timerAt <= d) {
		return
	}
	q.timerAt = d
	wait := time.Duration(d - q.nowNs(now))
	if wait < 0 {
		wait = 0
	}
	if q.timer == nil {
		q.timer = q.env.AfterFunc(wait, q.onTimer)
	} else {
		q.timer.Reset(wait)
	}
}

// onTimer expires messages and the queue itself when their time has come,
// and re-arms the timer for what is next.
func (q *Queue) onTimer() {
	q.mu.Lock()
	q.timerAt = 0
	if q.deleted {
		q.unlock()
		return
	}
	var now int64
	q.dropExpired(&now)
	if q.args.Expires > 0 && q.cons.count == 0 && !q.expireSent &&
		q.nowNs(&now) >= q.lastUsed+int64(q.args.Expires) {
		q.expire("x-expires")
	}
	q.schedule(&now)
	q.unlock()
}
