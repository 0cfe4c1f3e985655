package quorum

import (
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// A policy reaches a quorum queue as new arguments on every node that
// runs it (the broker's reconciler calls UpdateArgs on each), and each
// proposes the configuration they make as a fifo.UpdateConfig, which
// every replica applies in log order; the same configuration again
// changes nothing, so the copies cost one entry each and no more. A
// leader newly elected proposes its node's configuration when the
// state's differs (fsm.go), so that a change whose proposals found no
// majority, or that a replica restarted from an older log missed, is
// applied once the group has a leader. A node that applied the policy change later than
// another may propose the older configuration first; its next proposal
// (it proposes again once it applies the change) brings the queue to
// the newest.

// UpdateArgs implements queue.Queue.
func (q *Queue) UpdateArgs(a queue.Args) {
	cur := q.args.Load()
	a.Type, a.SingleActiveConsumer, a.InitialGroupSize = cur.Type, cur.SingleActiveConsumer, cur.InitialGroupSize
	q.args.Store(&a)
	q.proposeConfig()
}

// config is the configuration the queue's current arguments make.
func (q *Queue) config() fifo.Config {
	a := q.args.Load()
	return fifo.ConfigFromArgs(*a, a.DeadLetterStrategy, 0)
}

// proposeConfig proposes the configuration of the current arguments.
func (q *Queue) proposeConfig() {
	q.propose(fifo.UpdateConfig{Config: q.config(), Now: now()}, nil, nil, nil)
}
