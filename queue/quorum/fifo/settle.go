package fifo

import "github.com/warrenmq/warren/queue"

// settled removes the deliveries ids from the consumer id and calls done
// with each message; ids it does not hold (settled already, or returned
// by a node down) are ignored.
func (s *State) settled(id ConsumerID, ids []uint64, done func(msg)) Result {
	c, ok := s.consumers[id]
	if !ok {
		return Result{Outcome: UnknownConsumer}
	}
	for _, d := range ids {
		m, held := c.checked[d]
		if !held {
			continue
		}
		delete(c.checked, d)
		done(m)
	}
	s.tidy(c)
	return Result{}
}

// settle acknowledges deliveries: the messages go.
func (s *State) settle(id ConsumerID, ids []uint64) Result {
	return s.settled(id, ids, func(m msg) { s.left = append(s.left, m.index) })
}

// giveBack returns deliveries as failed: each goes back to the front with
// its delivery count incremented, or past the delivery limit is
// dead-lettered.
func (s *State) giveBack(id ConsumerID, ids []uint64) Result {
	return s.settled(id, ids, func(m msg) { s.requeue(m, true) })
}

// discard rejects deliveries without requeue: dead-lettered, reason
// rejected.
func (s *State) discard(id ConsumerID, ids []uint64) Result {
	return s.settled(id, ids, func(m msg) { s.deadLetter(queue.Rejected, m) })
}

// requeue puts a message that came back from a consumer at the front of
// the queue (after the other returns, as RabbitMQ 4's returns queue).
// failed counts it as a failed delivery, which the delivery limit bounds.
func (s *State) requeue(m msg, failed bool) {
	m.acquired++
	if failed {
		m.count++
		if s.cfg.DeliveryLimit >= 0 && int64(m.count) > s.cfg.DeliveryLimit {
			s.deadLetter(queue.DeliveryLimit, m)
			return
		}
	}
	s.returns.push(m)
	s.readyBytes += uint64(m.size)
}
