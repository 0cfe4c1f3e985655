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
