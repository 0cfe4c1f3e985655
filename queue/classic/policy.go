package classic

import "github.com/warrenmq/warren/queue"

// UpdateArgs implements queue.Queue, as rabbit_amqqueue_process applies a
// changed policy (process_args_policy): the new length limits drop or
// dead-letter the head at once under drop-head, a new x-message-ttl
// applies to messages published from now on (each message keeps the
// expiry it was given), a changed x-expires counts from now, and
// dead-lettering uses the new exchange and routing key. The queue's type,
// priorities and single active consumer stay as declared. q.args is
// replaced, never changed in place, so that what read it outside the lock
// keeps a consistent copy.
//
// A durable queue recovered with a backlog paged on disk, and no
// x-max-length-bytes then, counts the bytes of that backlog only as it
// reads it back: a max-length-bytes that arrives later bounds the rest.
func (q *Queue) UpdateArgs(a queue.Args) {
	q.mu.Lock()
	if q.deleted {
		q.unlock()
		return
	}
	cur := q.args
	a.Type, a.MaxPriority, a.SingleActiveConsumer = cur.Type, cur.MaxPriority, cur.SingleActiveConsumer
	var now int64
	if a.Expires > 0 && a.Expires != cur.Expires {
		q.lastUsed = q.nowNs(&now)
	}
	q.args = &a
	q.ttl = -1
	if a.HasMessageTTL {
		q.ttl = int64(a.MessageTTL)
		q.ttlSeen = true
	}
	q.dropHeads(&now)
	q.dropExpired(&now)
	q.schedule(&now)
	q.unlock()
}
