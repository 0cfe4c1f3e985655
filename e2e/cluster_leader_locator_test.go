package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file checks where three nodes place the leaders of new quorum
// queues: by x-queue-leader-locator, the queue-leader-locator policy key
// and queue_leader_locator in the configuration file, resolved as
// RabbitMQ resolves them (the policy over the argument over the file).

// quorumLeaders returns the index of the node leading each of queues, as
// node i's status reports them, polling until every one has a leader.
func (c *testCluster) quorumLeaders(t *testing.T, i int, queues []string) []int {
	t.Helper()
	leaders := make([]int, len(queues))
	eventually(t, fmt.Sprint("quorum queues ", queues, " have leaders"), func() bool {
		st := c.status(t, i)
		for k, q := range queues {
			leaders[k] = -1
			for _, sq := range st.Queues {
				if sq.Name == q && sq.Leader != "" {
					leaders[k] = slices.Index(c.names, sq.Leader)
				}
			}
			if leaders[k] < 0 {
				return false
			}
		}
		return true
	})
	return leaders
}

// declareQuorum declares the durable quorum queues names on node i, one
// after the other, with the extra arguments args.
func (c *testCluster) declareQuorum(t *testing.T, i int, names []string, args amqp.Table) {
	t.Helper()
	ch := c.channel(t, i)
	for _, name := range names {
		a := amqp.Table{"x-queue-type": "quorum"}
		for k, v := range args {
			a[k] = v
		}
		if _, err := ch.QueueDeclare(name, true, false, false, false, a); err != nil {
			t.Fatalf("declare %s on node %d: %v", name, i, err)
		}
	}
}

// queueNames returns prefix0 … prefix(n-1).
func queueNames(prefix string, n int) []string {
	var out []string
	for k := range n {
		out = append(out, fmt.Sprint(prefix, k))
	}
	return out
}

// TestClusterQuorumLeaderLocator: on three nodes configured with
// queue_leader_locator = balanced, quorum queues declared through one
// node with x-queue-leader-locator=balanced are led two by each node;
// with client-local all by the declaring node; with no argument, the
// configured balanced keeps them off the node that leads the most; and
// a policy's client-local wins over the argument's balanced.
func TestClusterQuorumLeaderLocator(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "rabbitmq.conf")
	mustOK(t, os.WriteFile(conf, []byte("queue_leader_locator = balanced\n"), 0o644), "write the configuration file")
	c := startClusterWith(t, 3, "--config", conf)

	balanced := queueNames("balanced-", 6)
	c.declareQuorum(t, 0, balanced, amqp.Table{"x-queue-leader-locator": "balanced"})
	perNode := make([]int, 3)
	leaders := c.quorumLeaders(t, 0, balanced)
	for _, l := range leaders {
		perNode[l]++
	}
	if !slices.Equal(perNode, []int{2, 2, 2}) {
		t.Fatalf("balanced queues declared through node 1: leaders %v, %v per node; want 2 each", leaders, perNode)
	}

	// Node 2 now leads five of eleven.
	local := queueNames("local-", 3)
	c.declareQuorum(t, 1, local, amqp.Table{"x-queue-leader-locator": "client-local"})
	if leaders := c.quorumLeaders(t, 2, local); !slices.Equal(leaders, []int{1, 1, 1}) {
		t.Fatalf("client-local queues declared through node 2: leaders %v, want node 2's (1)", leaders)
	}

	plain := queueNames("plain-", 3)
	c.declareQuorum(t, 1, plain, nil)
	if leaders := c.quorumLeaders(t, 0, plain); slices.Contains(leaders, 1) {
		t.Fatalf("queues declared through node 2 under the configured balanced: leaders %v, want none on node 2 (1), which leads the most", leaders)
	}

	api := newAPI(t, "http://"+c.nodes[1].mgmt, "guest", "guest")
	api.must(http.StatusCreated, "PUT", "/api/policies/%2F/local-leaders", map[string]any{"pattern": "^policy-",
		"definition": map[string]any{"queue-leader-locator": "client-local"}, "apply-to": "quorum_queues"})
	byPolicy := queueNames("policy-", 3)
	c.declareQuorum(t, 1, byPolicy, amqp.Table{"x-queue-leader-locator": "balanced"})
	if leaders := c.quorumLeaders(t, 0, byPolicy); !slices.Equal(leaders, []int{1, 1, 1}) {
		t.Fatalf("queues declared through node 2 with balanced under a client-local policy: leaders %v, want node 2's (1)", leaders)
	}
}
