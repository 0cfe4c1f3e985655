package queue

import "time"

// RaftMetrics are the Raft figures of a replicated queue's replica on
// this node, those RabbitMQ's ra reports for a quorum queue's member.
type RaftMetrics struct {
	// Leader is set while this replica leads the group.
	Leader bool
	// Term is the replica's current term.
	Term uint64
	// CommitIndex is the highest index known committed; AppliedIndex
	// the highest applied to the state machine; LastIndex the highest
	// written to the replica's log; SnapshotIndex the index of its
	// latest snapshot (0 before the first).
	CommitIndex, AppliedIndex, LastIndex, SnapshotIndex uint64
	// CommitLatency is the time from the leader appending the entry last
	// applied here to its being applied (0 before the first).
	CommitLatency time.Duration
}

// RaftReporter is a queue that may hold a Raft replica on this node.
// RaftMetrics reports false when it holds none (a client of a group on
// other nodes).
type RaftReporter interface {
	RaftMetrics() (RaftMetrics, bool)
}
