package broker

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestDefsTimingRidesOutStalls: the definitions group's configuration is
// one hashicorp/raft accepts, and its leader stays leader through a
// stall of two seconds without hearing from its followers (measured:
// garbage collections of 1.4 s and quorum queue election rounds on a
// node with thousands of quorum queues), where the library's default
// lease of 500 ms deposed it and failed the declares in flight.
func TestDefsTimingRidesOutStalls(t *testing.T) {
	rc := raft.DefaultConfig()
	rc.LocalID = "n1"
	configureDefsTiming(rc)
	if err := raft.ValidateConfig(rc); err != nil {
		t.Fatalf("hashicorp/raft refuses the definitions timing: %v", err)
	}
	const stall = 2 * time.Second
	if rc.LeaderLeaseTimeout < stall {
		t.Errorf("leader lease %v: a stall of %v deposes the definitions leader", rc.LeaderLeaseTimeout, stall)
	}
	if rc.HeartbeatTimeout < stall {
		t.Errorf("heartbeat timeout %v: a stall of %v has a follower stand", rc.HeartbeatTimeout, stall)
	}
}
