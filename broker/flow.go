package broker

import "time"

// flowPoll bounds one wait of a connection blocked by a queue, so that a
// close from the broker (shutdown) is noticed.
const flowPoll = 100 * time.Millisecond

// waitWhileFlowBlocked pauses a publishing connection's read loop while
// any of its sessions is blocked by its queue (ActionBlock), until every
// one is unblocked (ActionUnblock), the session is closed or its queue
// goes down. Like the alarm pause (waitWhileBlocked) and RabbitMQ's
// credit flow, it stops reading the whole connection: the frames of its
// other channels, acks included, wait too, so a queue must not make
// unblocking depend on acks from the publisher's own connection. The
// peer's silence does not count against its heartbeats meanwhile, and the
// client is not sent connection.blocked (RabbitMQ sends it for alarms
// only). A close from the broker ends the pause.
func (c *conn) waitWhileFlowBlocked() {
	if c.flowBlocked.Load() <= 0 || !c.published.Load() {
		return
	}
	c.paused.Store(true)
	defer c.paused.Store(false)
	t := time.NewTimer(flowPoll)
	defer t.Stop()
	for c.flowBlocked.Load() > 0 && !c.closeSent.Load() {
		select {
		case <-c.flowWake:
		case <-c.srv.stop:
			return
		case <-t.C:
			t.Reset(flowPoll)
		}
	}
}
