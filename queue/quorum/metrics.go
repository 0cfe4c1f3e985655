package quorum

import (
	"strconv"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue"
)

var _ queue.RaftReporter = (*Queue)(nil)

// RaftMetrics implements queue.RaftReporter: the replica's term and log
// indexes as its Raft reports them, and the commit latency its fsm
// measured last.
func (q *Queue) RaftMetrics() (queue.RaftMetrics, bool) {
	r := q.raft()
	if r == nil {
		if st := q.resting.Load(); st != nil {
			return st.metrics, true
		}
		return queue.RaftMetrics{}, false
	}
	snap, _ := strconv.ParseUint(r.Stats()["last_snapshot_index"], 10, 64)
	return queue.RaftMetrics{
		Leader:        r.State() == raft.Leader,
		Term:          r.CurrentTerm(),
		CommitIndex:   r.CommitIndex(),
		AppliedIndex:  r.AppliedIndex(),
		LastIndex:     r.LastIndex(),
		SnapshotIndex: snap,
		CommitLatency: time.Duration(q.fsm.latency.Load()),
	}, true
}
