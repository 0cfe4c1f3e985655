package broker

import (
	"time"

	"github.com/hashicorp/raft"
)

// The definitions' Raft group runs on the same nodes, processes and Go
// schedulers as every quorum queue's group, so its timers must ride out
// what thousands of those cost a node now and then: a garbage
// collection that marks tens of thousands of goroutine stacks, a round
// of quorum queue elections after a node's beats came late, a machine
// whose other processes take the cores. With hashicorp/raft's defaults
// (a leader lease of 500 ms, heartbeat and election timeouts of 1 s) a
// stall of half a second deposed the definitions leader, and the
// declares in flight were refused with 541 (the leader lost its
// majority before confirming them): on two shared cores, declaring
// 10,000 quorum queues through one node lost the leader dozens of times
// and stopped after 1,500 to 4,500 queues. Consul runs the same library
// with a lease of 2.5 s by default (its raft_multiplier of 5, chosen so
// that a server starved of CPU stays leader) for the same reason.
//
// A follower stands only after a heartbeat timeout without contact, at
// least the lease (hashicorp/raft requires it), and asks for pre-votes
// first, which the others refuse while they hear from the leader. The
// price is slower failover of the definitions leader alone: one whose
// process is killed is replaced 2.5 to 5 s later (an election of a new
// cluster waits as long), well within the 15 s commit timeout, so a
// declare under way still completes. Quorum queues do not wait for it:
// their groups fail over on their own (queue/quorum's failover.go).
const (
	// defsLeaderLease is how long a leader stays one without hearing
	// from a majority.
	defsLeaderLease = 2500 * time.Millisecond
	// defsHeartbeatTimeout is how long a follower goes without hearing
	// from the leader before it stands (a random time up to twice as
	// long); the leader heartbeats every tenth of it.
	defsHeartbeatTimeout = defsLeaderLease
	// defsElectionTimeout is how long a candidate waits for votes.
	defsElectionTimeout = defsLeaderLease
)

// configureDefsTiming sets the definitions group's timeouts on rc.
func configureDefsTiming(rc *raft.Config) {
	rc.HeartbeatTimeout = defsHeartbeatTimeout
	rc.ElectionTimeout = defsElectionTimeout
	rc.LeaderLeaseTimeout = defsLeaderLease
}
