package quorum

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/internal/holdfs"
	"github.com/warrenmq/warren/queue/quorum/wal"
)

// TestLeaderEntryActsOnlyOnItsDisk: with the leader's fsyncs held back,
// the leader still replicates its entries and Raft commits them (the
// leader counts its copy, the followers wrote theirs), but nothing acts
// on them: no confirm, no follower applies one (the commit index the
// leader sends stops at what is on its disk). Once the leader's disk has
// them they are confirmed and every replica applies them. A confirm so
// means the message is on a majority of disks, the leader's included,
// and the leader's fsync no longer comes before the followers' writes.
func TestLeaderEntryActsOnlyOnItsDisk(t *testing.T) {
	c := startClusterOf(t, &memberCluster{holdFS: true}, 3, "n1", "n2", "n3")
	lead := c.leader("n1", "n2", "n3")
	c.publish(lead, 1) // everything before the hold is settled
	r := lead.q.raft()
	lead.fs.Hold()
	defer lead.fs.Release()

	publish := func() uint64 {
		t.Helper()
		before := r.LastIndex()
		lead.num++
		lead.s.Publish(&queue.Message{Body: []byte(fmt.Sprint(lead.name, "-", lead.num))},
			queue.Confirm{To: noConfirmer{}, Seq: lead.num, From: &lead.o.pub, Num: lead.num}, nil)
		var index uint64
		waitUntil(t, "Raft commits the publish while the leader's fsync is held", func() bool {
			index = r.LastIndex()
			return index > before && r.CommitIndex() >= index
		})
		return index
	}
	first := publish()
	publish() // its append carries the leader's commit index to the followers
	if lead.fs.Waiting() == 0 {
		t.Fatal("the leader's fsync is not held")
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := settled(lead.o); n != 1 {
			t.Fatalf("%d confirms with the leader's fsync held, want only the one before", n)
		}
		for _, nd := range c.nodes {
			if applied := nd.q.raft().AppliedIndex(); nd != lead && applied >= first {
				t.Fatalf("%s applied up to %d, entry %d is not on the leader's disk", nd.name, applied, first)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}

	lead.fs.Release()
	waitUntil(t, "both publishes confirmed once on the leader's disk", func() bool { return settled(lead.o) == 3 })
	c.publish(lead, 1) // carries the commit index on
	waitUntil(t, "the followers apply the entries", func() bool {
		for _, nd := range c.nodes {
			if nd.q.raft().AppliedIndex() < first+1 {
				return false
			}
		}
		return true
	})
}

// settled counts the confirms posted to o.
func settled(o *testOwner) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := 0
	for _, a := range o.acts {
		if a.Kind == queue.ActionSettled {
			n++
		}
	}
	return n
}

// TestSteppedDownReplicaSettlesFirst: entries a replica appended as
// leader are not on disk when it steps down; before anything it does as
// a follower (Raft's GetLog of the entries it holds, which precedes an
// acknowledgement of them) they are, so it never acknowledges to a new
// leader what its own disk may not have.
func TestSteppedDownReplicaSettlesFirst(t *testing.T) {
	fs := &holdfs.FS{}
	w, err := wal.Open(t.TempDir(), wal.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer fs.Release()
	gs, err := w.Group("g")
	if err != nil {
		t.Fatal(err)
	}
	var lead atomic.Bool
	rl := &replicaLog{GroupStore: gs, leading: lead.Load}
	lead.Store(true)
	fs.Hold()
	entries := []*raft.Log{{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("a")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("b")}}
	if err := rl.StoreLogs(entries); err != nil { // returns with its fsync held
		t.Fatal(err)
	}
	var e raft.Log
	if err := rl.GetLog(2, &e); err != nil || string(e.Data) != "b" { // as leader: no wait
		t.Fatalf("leader's GetLog: %+v, %v", e, err)
	}

	lead.Store(false) // stepped down
	got := make(chan error, 1)
	go func() { got <- rl.GetLog(2, &raft.Log{}) }()
	select {
	case err := <-got:
		t.Fatalf("a follower's GetLog returned (%v) before its leader writes were on disk", err)
	case <-time.After(200 * time.Millisecond):
	}
	fs.Release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if d := gs.DurableIndex(); d != 2 {
		t.Fatalf("durable index %d after the settle, want 2", d)
	}
}
