package quorum

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/warrenmq/warren/queue"
)

// startRestingCluster starts three nodes running "qq" whose groups rest
// after after idle.
func startRestingCluster(t *testing.T, after time.Duration) *memberCluster {
	return startClusterOf(t, &memberCluster{restAfter: after}, 3, "n1", "n2", "n3")
}

// allRest waits until every running node's replica of "qq" rests.
func (c *memberCluster) allRest() {
	c.t.Helper()
	waitUntil(c.t, "every replica resting", func() bool {
		for _, nd := range c.nodes {
			if nd.typ != nil && (nd.q.resting.Load() == nil || nd.q.raft() != nil) {
				return false
			}
		}
		return true
	})
}

// get takes one message through nd's session with basic.get and returns
// its body, "" when the queue is empty.
func get(t *testing.T, nd *memberNode) string {
	t.Helper()
	nd.s.Get(true, nil)
	a := nd.o.waitGet(t)
	if a.Kind == queue.ActionGetEmpty {
		return ""
	}
	return string(a.Delivery.Message.Body)
}

// TestIdleGroupRests: a group idle for RestAfter stops its Raft on every
// node, which frees the goroutines it ran, while every node still reports
// its leader, voters and messages; a publish through a follower's node
// wakes it and is confirmed, and every message, from before and after
// the rest, is there to get.
func TestIdleGroupRests(t *testing.T) {
	c := startRestingCluster(t, 300*time.Millisecond)
	leader := c.leader("n1", "n2", "n3")
	var follower *memberNode
	for _, nd := range c.nodes {
		if nd != leader {
			follower = nd
		}
	}
	c.publish(follower, 3)
	awake := runtime.NumGoroutine()
	c.allRest()
	// Each replica ran at least Raft's three goroutines (its loop, its
	// state machine's and its snapshots') and its proposer's two; the
	// leader more.
	waitUntil(t, "the replicas' goroutines to end", func() bool { return runtime.NumGoroutine() <= awake-15 })
	for _, nd := range c.nodes {
		if got := nd.q.Leader(); got != leader.name {
			t.Errorf("%s reports leader %q while resting, want %s", nd.name, got, leader.name)
		}
		if v := nd.q.Voters(); !slices.Equal(v, []string{"n1", "n2", "n3"}) {
			t.Errorf("%s reports voters %v while resting", nd.name, v)
		}
		if st := nd.q.Stats(context.Background()); st.Ready != 3 {
			t.Errorf("%s reports %d ready while resting, want 3", nd.name, st.Ready)
		}
		if m, ok := nd.q.RaftMetrics(); !ok || m.Leader != (nd == leader) || m.CommitIndex == 0 {
			t.Errorf("%s reports raft metrics %+v (%v) while resting", nd.name, m, ok)
		}
	}
	start := time.Now()
	c.publish(follower, 2)
	t.Logf("first publish after the rest confirmed in %v", time.Since(start))
	var got []string
	for range 5 {
		got = append(got, get(t, follower))
	}
	slices.Sort(got)
	name := follower.name
	want := []string{name + "-1", name + "-2", name + "-3", name + "-4", name + "-5"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if b := get(t, leader); b != "" {
		t.Fatalf("got %q from an emptied queue", b)
	}
}

// TestRestingGroupWakesWithoutItsLeader: the node whose replica led a
// resting group is gone; the survivors wake and elect a leader without
// a command, which then confirms a publish.
func TestRestingGroupWakesWithoutItsLeader(t *testing.T) {
	c := startRestingCluster(t, 300*time.Millisecond)
	leader := c.leader("n1", "n2", "n3")
	var others []string
	for _, nd := range c.nodes {
		if nd != leader {
			others = append(others, nd.name)
		}
	}
	c.publish(leader, 1)
	c.allRest()
	c.close(leader)
	start := time.Now()
	nl := c.leader(others...)
	t.Logf("%s leads %v after the leader's node closed", nl.name, time.Since(start))
	// The other survivor hears of the new leader with its first append.
	for _, name := range others {
		waitUntil(t, name+" reporting leader "+nl.name, func() bool { return c.node(name).q.Leader() == nl.name })
	}
	c.publish(c.node(others[0]), 1)
	if got := get(t, c.node(others[1])); got != leader.name+"-1" {
		t.Fatalf("first message %q, want %s-1", got, leader.name)
	}
}

// TestRestingGroupChangesMembers: a member change reaches a resting
// group: its replicas wake and the leader removes the member.
func TestRestingGroupChangesMembers(t *testing.T) {
	c := startRestingCluster(t, 300*time.Millisecond)
	c.leader("n1", "n2", "n3")
	c.allRest()
	c.setMembers("n1", "n2")
	waitUntil(t, "voters n1, n2 on n1 and n2", func() bool {
		return replicaHolds(c.node("n1"), 0, "n1", "n2") && replicaHolds(c.node("n2"), 0, "n1", "n2")
	})
}

// TestRestingQueuesCloseAndDelete: a resting queue closes and deletes as
// a running one does: a node whose replica rests closes without leaving
// a goroutine behind, and a resting queue deleted on a node deletes its
// data there.
func TestRestingQueuesCloseAndDelete(t *testing.T) {
	base := runtime.NumGoroutine()
	c := startRestingCluster(t, 300*time.Millisecond)
	c.leader("n1", "n2", "n3")
	c.allRest()
	n3 := c.node("n3")
	if _, err := n3.q.Delete(context.Background(), false, false); err != nil {
		t.Fatal(err)
	}
	if n3.typ.keptReplica(n3.q.group) {
		t.Fatal("n3 kept the deleted queue's data")
	}
	for _, nd := range c.nodes {
		c.close(nd)
	}
	goroutinesBack(t, base)
}
