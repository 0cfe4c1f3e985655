package classic

import "github.com/warrenmq/warren/queue"

// Flow control keeps a queue's consumers from falling ever further behind
// its publishers, as RabbitMQ's credit flow slows a publisher its queue
// cannot keep up with. Publishes run inline on the publisher's read loop,
// so a publisher can outpace a consumer until the backlog fills memory;
// instead, once the ready messages of a queue with consumers reach
// flowHighMessages (or flowHighBytes), each session publishing into it is
// blocked (queue.ActionBlock) and its connection stops being read. The
// sessions are unblocked (queue.ActionUnblock) once the ready messages fall
// to flowLowMessages and flowLowBytes, the hysteresis that lets the
// publisher send in bursts, or at once when the last consumer goes: a queue
// without consumers takes publishes up to its length limit or the memory
// alarm, never a dead stop.
//
// A publisher whose connection also consumes from the queue is never
// blocked: its own acks, which the pause would hold up, are what drains the
// queue. Both actions are posted (queue.SessionOwner.Post) under the
// queue's lock, so the owner sees them in the order the queue decided them.
const (
	flowHighMessages = 8192
	flowHighBytes    = 16 << 20
	flowLowMessages  = flowHighMessages / 2
	flowLowBytes     = flowHighBytes / 2
)

// flowFull reports whether the queue blocks its publishers: its consumers
// lag by the high watermark.
func (q *Queue) flowFull() bool {
	return q.cons.count > 0 && (q.readyN() >= flowHighMessages || q.readyBytes() >= flowHighBytes)
}

// flowClear reports whether the blocked publishers may go on.
func (q *Queue) flowClear() bool {
	return q.cons.count == 0 || q.deleted ||
		(q.readyN() <= flowLowMessages && q.readyBytes() <= flowLowBytes)
}

// flowCheck blocks s, which has just published, when the queue is full.
// The caller holds q.mu.
func (q *Queue) flowCheck(s *session) {
	if s.blocked || !q.flowFull() || q.consumesFrom(s.owner.Publisher()) {
		return
	}
	s.blocked = true
	q.flowBlocked = append(q.flowBlocked, s)
	block := [1]queue.Action{{Kind: queue.ActionBlock}}
	s.owner.Post(block[:])
}

// flowRelease unblocks every blocked session once the queue has drained
// enough. It runs in unlock, holding q.mu.
func (q *Queue) flowRelease() {
	if len(q.flowBlocked) == 0 || !q.flowClear() {
		return
	}
	unblock := [1]queue.Action{{Kind: queue.ActionUnblock}}
	for i, s := range q.flowBlocked {
		s.blocked = false
		s.owner.Post(unblock[:])
		q.flowBlocked[i] = nil
	}
	q.flowBlocked = q.flowBlocked[:0]
}

// flowForget drops s from the blocked sessions (it is closing; its owner
// unblocks it). The caller holds q.mu.
func (q *Queue) flowForget(s *session) {
	if !s.blocked {
		return
	}
	s.blocked = false
	for i, b := range q.flowBlocked {
		if b == s {
			q.flowBlocked = append(q.flowBlocked[:i], q.flowBlocked[i+1:]...)
			break
		}
	}
}

// consumesFrom reports whether a consumer of the queue was subscribed
// through a session of p's connection.
func (q *Queue) consumesFrom(p *queue.Publisher) bool {
	if p == nil {
		return false
	}
	for gi := range q.cons.groups {
		for _, c := range q.cons.groups[gi].members {
			if c.from != nil && c.from.Conn == p.Conn && c.from.Node == p.Node {
				return true
			}
		}
	}
	return false
}
