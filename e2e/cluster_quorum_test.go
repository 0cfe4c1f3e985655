package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file runs quorum queues on three warren processes: replicated by
// Raft over the three nodes, reachable from any node, and surviving the
// loss of any one of them, its leader included.

// quorumLeader returns the index of the node leading quorum queue q, as
// node i's status reports it, polling until one is known.
func (c *testCluster) quorumLeader(t *testing.T, i int, q string) int {
	t.Helper()
	leader := -1
	eventually(t, "quorum queue "+q+" has a leader", func() bool {
		for _, sq := range c.status(t, i).Queues {
			if sq.Name == q && sq.Leader != "" {
				leader = slices.Index(c.names, sq.Leader)
				return leader >= 0
			}
		}
		return false
	})
	return leader
}

// TestClusterQuorumQueue: a quorum queue declared on one node has the
// three nodes as members; messages published with confirms on a second
// node are consumed on the third; when the leader is killed with kill -9,
// a new one is elected, publishing and consuming go on from the
// survivors, and no confirmed message is lost.
func TestClusterQuorumQueue(t *testing.T) {
	c := startCluster(t, 3)
	q := "qq-cluster"
	ch := c.channel(t, 0)
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	var members []string
	for _, sq := range c.status(t, 0).Queues {
		if sq.Name == q {
			members = sq.Members
		}
	}
	if got := slices.Sorted(slices.Values(members)); !slices.Equal(got, c.names) {
		t.Fatalf("members %v, want %v", members, c.names)
	}
	leader := c.quorumLeader(t, 0, q)
	pubNode, conNode := (leader+1)%3, (leader+2)%3
	confirmed := publishConfirmedOn(t, c, pubNode, q, 0, 100)

	// The consumer's node applies the declaration a moment after the
	// declaring node answered it; the queue's leader, elected at once,
	// may confirm the publishes before that.
	eventually(t, "the consumer's node knows the queue", func() bool {
		for _, sq := range c.status(t, conNode).Queues {
			if sq.Name == q {
				return true
			}
		}
		return false
	})
	con := c.channel(t, conNode)
	mustOK(t, con.Qos(10, 0, false), "qos")
	d, err := con.Consume(q, "", false, false, false, false, nil)
	mustOK(t, err, "consume")
	got := map[string]bool{}
	take := func(n int) {
		t.Helper()
		for range n {
			select {
			case m := <-d:
				got[string(m.Body)] = true
				mustOK(t, m.Ack(false), "ack")
			case <-time.After(10 * time.Second):
				t.Fatalf("consumed %d of %d", len(got), len(confirmed))
			}
		}
	}
	take(50)

	c.nodes[leader].kill()
	confirmed = append(confirmed, publishConfirmedOn(t, c, pubNode, q, 100, 100)...)
	take(len(confirmed) - len(got))
	for _, b := range confirmed {
		if !got[b] {
			t.Fatalf("confirmed message %s never consumed", b)
		}
	}
	if after := c.quorumLeader(t, pubNode, q); after == leader {
		t.Fatalf("the killed node %d still leads", leader)
	}
}

// publishConfirmedOn publishes n persistent messages numbered from first to
// q on node i with confirms, and returns the bodies confirmed (every one:
// a nack fails the test).
func publishConfirmedOn(t *testing.T, c *testCluster, i int, q string, first, n int) []string {
	t.Helper()
	ch := c.channel(t, i)
	mustOK(t, ch.Confirm(false), "confirm")
	acks := ch.NotifyPublish(make(chan amqp.Confirmation, n))
	var bodies []string
	for k := first; k < first+n; k++ {
		b := fmt.Sprint("m", k)
		mustOK(t, ch.Publish("", q, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(b)}), "publish")
		bodies = append(bodies, b)
	}
	for range n {
		select {
		case a := <-acks:
			if !a.Ack {
				t.Fatalf("publish %d nacked", a.DeliveryTag)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("confirms did not arrive")
		}
	}
	return bodies
}

// TestClusterQuorumQueueRests: a quorum queue left idle rests on every
// node (each node's status says so, and still names its leader), keeps
// its messages, and a client on any node uses it as before: a publish
// through a follower's node is confirmed, a consumer on the third node
// gets every message; and a resting queue whose leader's node is killed
// elects a leader among the survivors without being used.
func TestClusterQuorumQueueRests(t *testing.T) {
	c := startClusterWith(t, 3, "--quorum-rest-after", "500ms")
	q := "qq-rests"
	mustOK(t, func() error {
		_, err := c.channel(t, 0).QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
		return err
	}(), "queue.declare")
	leader := c.quorumLeader(t, 0, q)
	pubNode, conNode := (leader+1)%3, (leader+2)%3
	confirmed := publishConfirmedOn(t, c, pubNode, q, 0, 10)
	resting := func(i int) (bool, string) {
		for _, sq := range c.status(t, i).Queues {
			if sq.Name == q {
				return sq.Resting, sq.Leader
			}
		}
		return false, ""
	}
	restingAll := func(nodes ...int) func() bool {
		return func() bool {
			for _, i := range nodes {
				if r, _ := resting(i); !r {
					return false
				}
			}
			return true
		}
	}
	// The leader rests once its followers acknowledged its commit index,
	// which Raft repeats every 3-6 s: seconds, more under load.
	eventually30(t, "the queue resting on every node", restingAll(0, 1, 2))
	for i := range 3 {
		if _, l := resting(i); l != c.names[leader] {
			t.Fatalf("node %d names leader %q while resting, want %s", i, l, c.names[leader])
		}
	}

	confirmed = append(confirmed, publishConfirmedOn(t, c, pubNode, q, 10, 10)...)
	con := c.channel(t, conNode)
	got := map[string]bool{}
	for range confirmed {
		m, ok, err := con.Get(q, false)
		mustOK(t, err, "basic.get")
		if !ok {
			t.Fatalf("queue empty after %d of %d", len(got), len(confirmed))
		}
		got[string(m.Body)] = true
		mustOK(t, m.Ack(false), "ack")
	}
	for _, b := range confirmed {
		if !got[b] {
			t.Fatalf("confirmed message %s not in the queue", b)
		}
	}

	// Rest again, then lose the leader's node: the survivors elect.
	confirmed = publishConfirmedOn(t, c, pubNode, q, 20, 5)
	eventually30(t, "the queue resting again", restingAll(0, 1, 2))
	leader = c.quorumLeader(t, pubNode, q)
	survivor := (leader + 1) % 3
	c.nodes[leader].kill()
	eventually(t, "a survivor leads", func() bool {
		_, l := resting(survivor)
		return l != "" && l != c.names[leader]
	})
	con = c.channel(t, survivor)
	for _, want := range confirmed {
		m, ok, err := con.Get(q, false)
		mustOK(t, err, "basic.get")
		if !ok || string(m.Body) != want {
			t.Fatalf("got %q (%v), want %s", m.Body, ok, want)
		}
		mustOK(t, m.Ack(false), "ack")
	}
}
