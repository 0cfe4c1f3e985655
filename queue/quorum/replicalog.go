package quorum

import (
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue/quorum/wal"
)

// A replica's log is its group's store in the node's WAL, written as
// Raft asks with one difference on the leader. hashicorp/raft stores a
// leader's new entries (StoreLogs, which returns once they are on disk)
// before it sends them to the followers, so a confirm waited for the
// leader's fsync and then a follower's, one after the other. A leader's
// entries are appended without waiting (wal.GroupStore.AppendLogs) and
// reach its disk while the followers write theirs.
//
// Raft then counts the leader's copy as matched before it is on disk, so
// nothing acts on an entry until it is on the leader's disk as well as
// on a follower's:
//
//   - the leader's FSM applies an entry (its confirms, deliveries and
//     dead-lettering) only once the entry is on the leader's disk
//     (fsm.Apply waits in durable);
//   - the commit index a leader sends its followers never passes what is
//     on its disk (groupTrans.AppendEntries caps it with capCommit), so a
//     follower applies only entries that are on a majority's disks;
//   - a replica that stepped down acknowledges nothing it wrote as leader
//     before that is on disk: its first store call as a follower waits
//     for those writes (settle), the GetLog with which Raft checks the
//     entries it holds included.
//
// An entry Raft counted as committed whose leader's write was then lost
// (the process killed before the WAL wrote it) was applied nowhere: no
// replica's state, no publisher and no consumer saw it, and it is lost
// as an entry that was never committed is. A membership change, whose
// future hashicorp/raft answers on commit rather than on apply, may be
// answered before the leader's own write is on disk; if that write is
// lost, the members' reconciliation (members.go) makes the change again.
type replicaLog struct {
	*wal.GroupStore
	// leading reports whether the replica leads (Queue.leading).
	leading func() bool
	// pending is the last entry appended while leading, 0 once every
	// entry so appended is known to be on disk.
	pending atomic.Uint64
}

// StoreLog implements raft.LogStore.
func (l *replicaLog) StoreLog(e *raft.Log) error { return l.StoreLogs([]*raft.Log{e}) }

// StoreLogs implements raft.LogStore: a leader's entries are appended
// without waiting for the disk, a follower's are on disk (with
// everything appended before them) when it returns.
func (l *replicaLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if l.leading() {
		if err := l.GroupStore.AppendLogs(logs); err != nil {
			return err
		}
		l.pending.Store(logs[len(logs)-1].Index)
		return nil
	}
	if err := l.GroupStore.StoreLogs(logs); err != nil {
		return err
	}
	l.pending.Store(0)
	return nil
}

// GetLog implements raft.LogStore.
func (l *replicaLog) GetLog(index uint64, out *raft.Log) error {
	if err := l.settle(); err != nil {
		return err
	}
	return l.GroupStore.GetLog(index, out)
}

// DeleteRange implements raft.LogStore.
func (l *replicaLog) DeleteRange(min, max uint64) error {
	if err := l.settle(); err != nil {
		return err
	}
	return l.GroupStore.DeleteRange(min, max)
}

// settle waits, once the replica no longer leads, until what it appended
// while it led is on disk.
func (l *replicaLog) settle() error {
	p := l.pending.Load()
	if p == 0 || l.leading() {
		return nil
	}
	return l.syncTo(p)
}

// durable waits until the entry at index is on disk.
func (l *replicaLog) durable(index uint64) error {
	if p := l.pending.Load(); p == 0 || index > p {
		return nil // appended as a follower: on disk already
	}
	return l.syncTo(index)
}

// syncTo waits for the entries up to index; pending is cleared once it
// is covered.
func (l *replicaLog) syncTo(index uint64) error {
	if err := l.GroupStore.Sync(index); err != nil {
		return err
	}
	if p := l.pending.Load(); p <= index {
		l.pending.CompareAndSwap(p, 0)
	}
	return nil
}

// capCommit returns commit, a leader's commit index, capped to the last
// entry on its disk.
func (l *replicaLog) capCommit(commit uint64) uint64 {
	if l.pending.Load() == 0 {
		return commit
	}
	return min(commit, l.GroupStore.DurableIndex())
}
