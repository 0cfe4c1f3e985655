package e2e

import (
	"os"
	"strings"
	"testing"
)

// This file lists the quorum queue bugs the fault tests
// (quorum_faults_test.go, quorum_partition_test.go) found. A test that
// fails until one is fixed names it with knownQuorumBug and is skipped
// unless WARREN_E2E_KNOWN_BUGS is set; once a bug is fixed, delete its
// constant and the calls that name it.
const (
	bugRestartedReplica = "a restarted member never runs its replica again: recovery starts the queue before the node has joined " +
		"its cluster, and quorum.Type.startRaft looks up every member's address (Network.NodeAddr, empty until joined) " +
		"even when the replica's Raft state already holds them (\"cannot start queue ... member ... has no address\")"
	bugForwardDeadlock = "quorum link.forward sends errLinkDown a second time when the link fails between registering " +
		"the request and queueing its frame (fail already answered it); the one-slot channel is full, so the proposer's " +
		"loop blocks for ever and that node's channels never again get a confirm, consume-ok or settle from the queue"
	bugDedupReorder = "a batch retried after a leader change is committed after later batches of the same channel, " +
		"and fifo's enqueue answers Duplicate for any sequence at or below the last one seen, so those publishes are " +
		"confirmed and never enqueued: confirmed messages lost"
	bugForwardedErrors = "a forwarded proposal's error comes back as text (link_codec.go, statusFailed), so raft's " +
		"ErrLeadershipLost or ErrNotLeader from the leader's Apply is not retried as the proposer retries its own: " +
		"publishes are nacked and basic.consume closes the connection with 541 \"timeout waiting for queue ...: " +
		"leadership lost while committing log\" during an ordinary failover"
	bugLeaseFlaps = "a leader elected while the only other live member is still catching up (restarted after a kill) " +
		"steps down again and again (\"failed to contact quorum of nodes, stepping down\": LeaderLeaseTimeout is " +
		"150 ms) on a loaded 2-core machine, so confirms stop for more than 5 s after some kills; with 300 ms, 20 " +
		"kill rounds passed"
	bugForwardNoTimeout = "a proposal forwarded to a leader cut off without its connection closing waits until the " +
		"link breaks (about 20 s), and the proposer answers in order, so every later proposal of that node waits too, " +
		"although the majority elects a new leader within a second"
	bugStrandedConsumer = "a consumer on a node the others marked failed during a partition is ended for good " +
		"(fifo.NodeDown returns its messages and drops it) and its channel is never told: after the heal it gets no " +
		"delivery and no basic.cancel while messages wait in the queue (RabbitMQ's rabbit_fifo marks such consumers " +
		"suspected_down and makes them up again at nodeup)"
)

// knownQuorumBug skips t, which fails until bugs are fixed, unless
// WARREN_E2E_KNOWN_BUGS is set.
func knownQuorumBug(t *testing.T, bugs ...string) {
	t.Helper()
	if os.Getenv("WARREN_E2E_KNOWN_BUGS") == "" {
		t.Skipf("fails until these quorum queue bugs are fixed (WARREN_E2E_KNOWN_BUGS=1 runs it):\n- %s", strings.Join(bugs, "\n- "))
	}
}
