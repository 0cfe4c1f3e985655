package broker

import (
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// handleActions carries out what a session's queue reported. It runs on
// the read loop for the actions a session operation returned, and on the
// connection's writer for those the queue posted later (conn.post); it is
// called with no lock held, and calls nothing in the queue.
func (ch *channel) handleActions(s *session, acts []queue.Action) {
	for i := range acts {
		a := &acts[i]
		switch a.Kind {
		case queue.ActionDeliver:
			if k, ok := a.Consumer.(*consumer); ok {
				k.deliverPosted(a.Delivery)
			}
		case queue.ActionSettled, queue.ActionRejected:
			ch.confirms.Confirmed(a.Seq, a.Kind == queue.ActionSettled)
		case queue.ActionBlock:
			ch.blockSession(s)
		case queue.ActionUnblock:
			s.unblock()
		case queue.ActionConsumeOK:
			if k, ok := a.Consumer.(*consumer); ok {
				ch.startConsumer(k)
			}
			ch.answered(s)
		case queue.ActionGetOK:
			ch.getOK(s, a.Delivery, a.Count)
			ch.answered(s)
		case queue.ActionGetEmpty:
			if !ch.isClosed() {
				s.countGetEmpty()
				ch.c.sendMethod(ch.id, &protocol.BasicGetEmpty{})
			}
			ch.answered(s)
		case queue.ActionCancelled:
			if k, ok := a.Consumer.(*consumer); ok {
				k.Cancelled()
			}
		case queue.ActionQueueDown:
			ch.mu.Lock()
			s.down.Store(true)
			ch.mu.Unlock()
			ch.sessDown.Store(true)
			s.unblock()
			ch.answered(s)
		case queue.ActionRefused:
			if k, ok := a.Consumer.(*consumer); ok {
				ch.dropRefused(k)
			}
			ch.refused(s, ch.c.asProtocolError(a.Err, nil))
		}
	}
	clear(acts)
}

// isClosed reports whether the channel takes no more deliveries.
func (ch *channel) isClosed() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.closed
}

// getOK sends basic.get-ok for d, got through s, with remaining ready
// messages left, and records it as unacked unless the get was no-ack.
func (ch *channel) getOK(s *session, d queue.Delivery, remaining uint32) {
	ch.mu.Lock()
	if ch.closed {
		if !ch.getNoAck {
			ch.orphans = append(ch.orphans, unackedEntry{id: d.ID, s: s})
		}
		ch.mu.Unlock()
		return
	}
	ch.nextTag++
	tag := ch.nextTag
	if !ch.getNoAck {
		ch.unacked.push(unackedEntry{tag: tag, id: d.ID, s: s, at: ch.c.srv.now()})
	}
	s.countDelivery(true, ch.getNoAck, d.Redelivered)
	msg := d.Message
	ch.c.sendContent(ch.id, &protocol.BasicGetOk{
		DeliveryTag:  tag,
		Redelivered:  d.Redelivered,
		Exchange:     msg.Exchange,
		RoutingKey:   msg.RoutingKey,
		MessageCount: remaining,
	}, &msg.Props, msg.RawProps, msg.Body)
	ch.mu.Unlock()
}
