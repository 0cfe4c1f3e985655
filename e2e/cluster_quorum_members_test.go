package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file changes the members of quorum queues on warren processes
// with `warren cluster quorum-add-member|quorum-delete-member|quorum-grow`,
// as rabbitmq-queues add_member, delete_member and grow do.

// quorumQueueJSON is a quorum queue in `warren cluster status --json`.
type quorumQueueJSON struct {
	Name    string   `json:"name"`
	Members []string `json:"members"`
	Leader  string   `json:"leader"`
	Voters  []string `json:"voters"`
}

// findQueue returns queue q as node i's status shows it, if it does.
func (c *testCluster) findQueue(t *testing.T, i int, q string) (quorumQueueJSON, bool) {
	t.Helper()
	out, code := c.warrenCluster(t, i, "e2e-secret", "status", "--json")
	if code != 0 {
		t.Fatalf("warren cluster status: exit %d: %s", code, out)
	}
	var st struct {
		Queues []quorumQueueJSON `json:"queues"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	for _, sq := range st.Queues {
		if sq.Name == q {
			return sq, true
		}
	}
	return quorumQueueJSON{}, false
}

// waitMembers waits until every node of on shows queue q with members
// (in any order) and, on those of them that are members, a Raft group of
// exactly those voters.
func (c *testCluster) waitMembers(t *testing.T, q string, on []int, members ...string) {
	t.Helper()
	want := slices.Sorted(slices.Values(members))
	for _, i := range on {
		eventually(t, fmt.Sprintf("node %d shows %s with members and voters %v", i, q, want), func() bool {
			sq, ok := c.findQueue(t, i, q)
			if !ok || !slices.Equal(slices.Sorted(slices.Values(sq.Members)), want) {
				return false
			}
			if slices.Contains(want, c.names[i]) {
				return slices.Equal(sq.Voters, want)
			}
			return len(sq.Voters) == 0
		})
	}
}

// consumeAll consumes from q on node i until every body of want arrived.
func consumeAll(t *testing.T, c *testCluster, i int, q string, want []string) {
	t.Helper()
	ch := c.channel(t, i)
	d, err := ch.Consume(q, "", true, false, false, false, nil)
	mustOK(t, err, "consume")
	got := map[string]bool{}
	for len(got) < len(want) {
		select {
		case m := <-d:
			got[string(m.Body)] = true
		case <-time.After(15 * time.Second):
			var missing []string
			for _, b := range want {
				if !got[b] {
					missing = append(missing, b)
				}
			}
			t.Fatalf("consumed %d of %d messages on node %d; missing %v", len(got), len(want), i, missing)
		}
	}
	for _, b := range want {
		if !got[b] {
			t.Fatalf("confirmed message %s never consumed", b)
		}
	}
}

// TestClusterQuorumAddDeleteMember: a quorum queue of two members takes
// the third node; the member that declared it is then deleted, and the
// queue keeps serving and confirming through the two left (the new
// replica among them) and through the node that left, as a non-member;
// with one of the two killed it has no majority and confirms nothing
// until that node is back; no confirmed message is lost.
func TestClusterQuorumAddDeleteMember(t *testing.T) {
	c := startCluster(t, 3)
	q := "qq-members"
	n1, n2, n3 := c.names[0], c.names[1], c.names[2]
	if _, err := c.channel(t, 0).QueueDeclare(q, true, false, false, false,
		amqp.Table{"x-queue-type": "quorum", "x-quorum-initial-group-size": int32(2)}); err != nil {
		t.Fatal(err)
	}
	c.waitMembers(t, q, []int{0, 1, 2}, n1, n2)
	confirmed := publishConfirmedOn(t, c, 2, q, 0, 100)

	out, code := c.warrenCluster(t, 2, "e2e-secret", "quorum-add-member", "/", q, n3)
	if code != 0 || !strings.Contains(out, "node "+n3+" added to quorum queue '"+q+"' in vhost '/'") {
		t.Fatalf("quorum-add-member: exit %d: %s", code, out)
	}
	c.waitMembers(t, q, []int{0, 1, 2}, n1, n2, n3)

	out, code = c.warrenCluster(t, 1, "e2e-secret", "quorum-delete-member", "/", q, n1)
	if code != 0 || !strings.Contains(out, "members: "+n2+", "+n3) {
		t.Fatalf("quorum-delete-member: exit %d: %s", code, out)
	}
	c.waitMembers(t, q, []int{0, 1, 2}, n2, n3)
	// A group of n2 and n3 commits only with both: the new replica takes
	// part, and node 1 publishes as a non-member.
	confirmed = append(confirmed, publishConfirmedOn(t, c, 0, q, 100, 50)...)

	c.nodes[1].kill()
	ch := c.channel(t, 0)
	mustOK(t, ch.Confirm(false), "confirm")
	acks := ch.NotifyPublish(make(chan amqp.Confirmation, 1))
	mustOK(t, ch.Publish("", q, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte("m150")}), "publish")
	select {
	case a := <-acks:
		t.Fatalf("a publish was confirmed (ack %v) with one of the group's two members down", a.Ack)
	case <-time.After(2 * time.Second):
	}
	c.restart(t, 1)
	select {
	case a := <-acks:
		if !a.Ack {
			t.Fatal("the publish held while the group had no majority was nacked")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the publish held while the group had no majority was not confirmed once it had one")
	}
	confirmed = append(confirmed, "m150")
	consumeAll(t, c, 0, q, confirmed)
}

// TestClusterQuorumGrowAfterReplace: a node of three stops for good and
// is forgotten, which removes it from the quorum queue's members; a new
// node joins in its place, and quorum-grow adds it to the queue; the new
// replica takes part at once: with one of the two old members killed,
// the queue serves every confirmed message from the other and the new
// one.
func TestClusterQuorumGrowAfterReplace(t *testing.T) {
	c := startCluster(t, 3)
	q := "qq-grow"
	n1, n2, n3 := c.names[0], c.names[1], c.names[2]
	if _, err := c.channel(t, 0).QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"}); err != nil {
		t.Fatal(err)
	}
	c.waitMembers(t, q, []int{0, 1, 2}, n1, n2, n3)
	confirmed := publishConfirmedOn(t, c, 1, q, 0, 50)

	c.nodes[2].stop(t)
	eventually(t, "node 3 left, and a leader among the others", func() bool {
		st := c.status(t, 0)
		return st.Leader != "" && st.Leader != n3 && st.Members[2].State == "left"
	})
	out, code := c.warrenCluster(t, 0, "e2e-secret", "forget", n3)
	if code != 0 || !strings.Contains(out, "removed from 1 quorum queue(s)") {
		t.Fatalf("forget: exit %d: %s", code, out)
	}
	c.waitMembers(t, q, []int{0, 1}, n1, n2)
	if out, code := c.warrenCluster(t, 0, "e2e-secret", "quorum-grow", "n4@localhost"); code != 1 ||
		!strings.Contains(out, "node n4@localhost is not a member of this cluster") {
		t.Fatalf("grow onto a node not yet there: exit %d: %s", code, out)
	}

	n4 := c.addNode(t, "n4@localhost")
	eventually(t, "n4 is a voter of the definitions", func() bool {
		return slices.ContainsFunc(c.status(t, 0).Voters, func(v voterJSON) bool { return v.Node == c.names[n4] })
	})
	eventually(t, "n4 has the queue's definition", func() bool {
		_, ok := c.findQueue(t, n4, q)
		return ok
	})
	out, code = c.warrenCluster(t, n4, "e2e-secret", "quorum-grow", c.names[n4])
	if code != 0 || !strings.Contains(out, q) || !strings.Contains(out, "ok") {
		t.Fatalf("quorum-grow: exit %d: %s", code, out)
	}
	c.waitMembers(t, q, []int{0, 1, n4}, n1, n2, c.names[n4])
	if out, code := c.warrenCluster(t, 0, "e2e-secret", "quorum-grow", c.names[n4]); code != 0 ||
		!strings.Contains(out, "no quorum queue to grow onto node "+c.names[n4]) {
		t.Fatalf("quorum-grow again: exit %d: %s", code, out)
	}

	c.nodes[0].kill()
	confirmed = append(confirmed, publishConfirmedOn(t, c, n4, q, 50, 10)...)
	consumeAll(t, c, 1, q, confirmed)
}

// addNode starts another node that joins the cluster through the
// running nodes' cluster ports, and returns its index.
func (c *testCluster) addNode(t *testing.T, name string) int {
	t.Helper()
	var join []string
	for i, p := range c.nodes {
		if p.cmd != nil {
			join = append(join, c.clusterAddr(t, i))
		}
	}
	p := newWarrenProc(t, c.nodes[0].bin, t.TempDir())
	p.args = []string{"--node-name", name, "--cluster-listen", freeAddr(t), "--join", strings.Join(join, ","),
		"--bootstrap-expect", "3", "--cluster-secret", "e2e-secret"}
	c.nodes = append(c.nodes, p)
	c.names = append(c.names, name)
	p.start(t)
	return len(c.nodes) - 1
}
