package broker

import (
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// txPublish is a publish held until tx.commit. It is routed when it
// arrives, but its queues are looked up by name at the commit, as
// RabbitMQ 3.10 does: a queue deleted meanwhile does not get it, and a
// mandatory publish left with no queue is returned then.
type txPublish struct {
	msg       *queue.Message
	x         *exchangeCounters // the exchange's, counted at commit
	mandatory bool
	queues    []string
	replies   []replyTarget
}

// txAck is an ack, nack or reject held until tx.commit.
type txAck struct {
	entries []unackedEntry
	s       queue.Settlement
}

// txState is a transactional channel's uncommitted work.
type txState struct {
	publishes []txPublish
	acks      []txAck
}

// settledEntries returns the deliveries settled in the transaction.
func (t *txState) settledEntries() []unackedEntry {
	var out []unackedEntry
	for _, a := range t.acks {
		out = append(out, a.entries...)
	}
	return out
}

func (ch *channel) txSelect() error {
	if ch.confirm {
		return protocol.NewError(protocol.PreconditionFailed, "cannot switch from confirm to tx mode")
	}
	if ch.tx == nil {
		ch.tx = &txState{}
		ch.confirms.mu.Lock()
		ch.confirms.tx = true
		ch.confirms.mu.Unlock()
	}
	ch.c.sendMethod(ch.id, &protocol.TxSelectOk{})
	return nil
}

func (ch *channel) txCommit() error {
	if ch.tx == nil {
		return protocol.NewError(protocol.PreconditionFailed, "channel is not transactional")
	}
	tx := ch.tx
	ch.tx = &txState{}
	now := time.Now()
	var qs []queue.Queue
	ch.askAnswer(nil)
	ch.committing = true
	for _, p := range tx.publishes {
		// The queues receive the message now: its TTL counts from here.
		p.msg.Timestamp = now
		qs = ch.c.vh.queuesNamed(p.queues, qs[:0])
		ch.enqueue(p.msg, p.x, p.mandatory, qs, p.replies)
	}
	ch.committing = false
	for _, a := range tx.acks {
		ch.settle(a.entries, a.s)
		ch.returnCredit(a.entries)
	}
	ch.confirms.awaitCommit()
	ch.awaitAnswer()
	if ch.busy {
		ch.onAnswer = ch.commitDone
		return nil
	}
	return ch.commitDone()
}

// commitDone answers tx.commit once every queue has confirmed its
// publishes: commit-ok, or, if a queue refused one, RabbitMQ's 406.
func (ch *channel) commitDone() error {
	if ch.confirms.takeTxFailed() {
		return protocol.NewError(protocol.PreconditionFailed, "partial tx completion").For(&protocol.TxCommit{})
	}
	ch.c.sendMethod(ch.id, &protocol.TxCommitOk{})
	return nil
}

func (ch *channel) txRollback() error {
	if ch.tx == nil {
		return protocol.NewError(protocol.PreconditionFailed, "channel is not transactional")
	}
	entries := ch.tx.settledEntries()
	ch.tx = &txState{}
	ch.mu.Lock()
	ch.unacked.restore(entries)
	ch.mu.Unlock()
	ch.c.sendMethod(ch.id, &protocol.TxRollbackOk{})
	return nil
}
