package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file runs `warren cluster …` against three real warren processes:
// status, forget, and an alarm on one node blocking publishers on another.

// clusterAddr is node i's cluster address.
func (c *testCluster) clusterAddr(t *testing.T, i int) string {
	t.Helper()
	args := c.nodes[i].args
	if k := slices.Index(args, "--cluster-listen"); k >= 0 && k+1 < len(args) {
		return args[k+1]
	}
	t.Fatalf("node %d has no --cluster-listen", i)
	return ""
}

// warrenCluster runs `warren cluster ARGS…` against node i with secret
// and returns its output and exit status.
func (c *testCluster) warrenCluster(t *testing.T, i int, secret string, args ...string) (string, int) {
	t.Helper()
	sub, rest := args[0], args[1:]
	full := append([]string{"cluster", sub, "--cluster-addr", c.clusterAddr(t, i)}, rest...)
	cmd := exec.Command(c.nodes[i].bin, full...)
	cmd.Env = append(os.Environ(), "WARREN_CLUSTER_SECRET="+secret)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("warren %v: %v", full, err)
	}
	return string(out), code
}

// clusterStatusJSON is `warren cluster status --json` as users read it.
type clusterStatusJSON struct {
	Node    string      `json:"node"`
	Leader  string      `json:"leader"`
	Voters  []voterJSON `json:"voters"`
	Members []struct {
		Name        string   `json:"name"`
		State       string   `json:"state"`
		ClusterAddr string   `json:"cluster_addr"`
		AMQPAddr    string   `json:"amqp_addr"`
		Voter       bool     `json:"voter"`
		Alarms      []string `json:"alarms"`
	} `json:"members"`
	Queues []struct {
		Node    string   `json:"node"`
		Vhost   string   `json:"vhost"`
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Durable bool     `json:"durable"`
		Members []string `json:"members"`
		Leader  string   `json:"leader"`
		Resting bool     `json:"resting"`
	} `json:"queues"`
}

// voterJSON is a voter in the status.
type voterJSON struct {
	Node string `json:"node"`
	Addr string `json:"addr"`
}

// status runs `warren cluster status --json` against node i.
func (c *testCluster) status(t *testing.T, i int) clusterStatusJSON {
	t.Helper()
	out, code := c.warrenCluster(t, i, "e2e-secret", "status", "--json")
	if code != 0 {
		t.Fatalf("warren cluster status: exit %d: %s", code, out)
	}
	var st clusterStatusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	return st
}

// TestClusterStatusAndForget: status from any node lists the three
// members alive with their addresses, the leader among the voters and
// each node's queues; a node that is running cannot be forgotten; when
// it stops (SIGTERM) the consumers of its queues on other nodes hear
// basic.cancel, and once forgotten it leaves the voters and its queues
// are gone from every node.
func TestClusterStatusAndForget(t *testing.T) {
	c := startCluster(t, 3)
	if _, err := c.channel(t, 2).QueueDeclare("on-n3", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.channel(t, 0).QueueDeclare("on-n1", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, "node 2 has both queues", func() bool { return len(c.status(t, 1).Queues) == 2 })
	st := c.status(t, 1)
	if st.Node != c.names[1] {
		t.Errorf("answered by %q, want %q", st.Node, c.names[1])
	}
	for i, m := range st.Members {
		if m.Name != c.names[i] || m.State != "alive" || !m.Voter || m.ClusterAddr != c.clusterAddr(t, i) {
			t.Errorf("member %d: %+v", i, m)
		}
	}
	if len(st.Members) != 3 || len(st.Voters) != 3 ||
		!slices.ContainsFunc(st.Voters, func(v voterJSON) bool { return v.Node == st.Leader }) {
		t.Errorf("members %+v, voters %+v, leader %q", st.Members, st.Voters, st.Leader)
	}
	q := st.Queues
	if q[0].Node != c.names[0] || q[0].Name != "on-n1" || q[1].Node != c.names[2] || q[1].Name != "on-n3" ||
		q[1].Type != "classic" || !q[1].Durable || q[1].Vhost != "/" {
		t.Errorf("queues %+v", q)
	}
	out, code := c.warrenCluster(t, 0, "e2e-secret", "status")
	if code != 0 || !strings.Contains(out, "Cluster status of node "+c.names[0]) || !strings.Contains(out, "on-n3") {
		t.Errorf("status table: exit %d\n%s", code, out)
	}
	if out, code := c.warrenCluster(t, 0, "wrong", "status"); code != 1 || !strings.Contains(out, "secret") {
		t.Errorf("status with a wrong secret: exit %d: %s", code, out)
	}
	if out, code := c.warrenCluster(t, 0, "e2e-secret", "forget", c.names[2]); code != 1 || !strings.Contains(out, "still running") {
		t.Errorf("forget of a running node: exit %d: %s", code, out)
	}

	ch := c.channel(t, 0)
	cancels := ch.NotifyCancel(make(chan string, 1))
	if _, err := ch.Consume("on-n3", "far", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	c.nodes[2].stop(t)
	select {
	case tag := <-cancels:
		if tag != "far" {
			t.Errorf("basic.cancel for %q", tag)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no basic.cancel within 10 s of the queue's node stopping")
	}

	eventually(t, "node 3 left, and a leader among the others", func() bool {
		st := c.status(t, 0)
		return st.Leader != "" && st.Leader != c.names[2] && st.Members[2].State == "left"
	})
	out, code = c.warrenCluster(t, 1, "e2e-secret", "forget", c.names[2])
	if code != 0 || !strings.Contains(out, "1 queue(s)") {
		t.Fatalf("forget: exit %d: %s", code, out)
	}
	for i := range 2 {
		// A passive declare of on-n3 fails from the moment its node is
		// down (404, home node down); the definition goes when node i
		// applies the forget's delete, which status shows.
		eventually(t, "the forgotten node's queue is gone", func() bool { return len(c.status(t, i).Queues) == 1 })
		if c.queueExists(t, i, "on-n3") {
			t.Errorf("node %d still serves on-n3", i)
		}
		st := c.status(t, i)
		if len(st.Voters) != 2 || len(st.Members) != 2 || st.Queues[0].Name != "on-n1" {
			t.Errorf("node %d after forget: %+v", i, st)
		}
	}
}

// TestClusterAlarmBlocksEveryNode: a disk alarm raised on node 3 (its
// limit set above its free space) blocks a publisher on node 1 with
// connection.blocked "low on disk" and holds its publish unconfirmed;
// lowering the limit again unblocks it and the publish is confirmed.
func TestClusterAlarmBlocksEveryNode(t *testing.T) {
	c := startCluster(t, 3)
	conn := c.dial(t, 0)
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("alarmed", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 4))
	pub := func(body string) {
		t.Helper()
		if err := ch.PublishWithContext(context.Background(), "", "alarmed", false, false, amqp.Publishing{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	pub("before")
	waitConfirm(t, confirms, 1)

	if out, code := c.warrenCluster(t, 2, "e2e-secret", "set-disk-free-limit", "1000TB"); code != 0 {
		t.Fatalf("set-disk-free-limit: exit %d: %s", code, out)
	}
	waitBlocking(t, blocked, true, "low on disk")
	pub("held")
	select {
	case cf := <-confirms:
		t.Fatalf("publish confirmed while another node has an alarm: %+v", cf)
	case <-time.After(300 * time.Millisecond):
	}
	if st := c.status(t, 0); !slices.Equal(st.Members[2].Alarms, []string{"disk"}) || len(st.Members[0].Alarms) != 0 {
		t.Errorf("status alarms: %+v", st.Members)
	}
	if out, code := c.warrenCluster(t, 2, "e2e-secret", "set-disk-free-limit", "1MB"); code != 0 {
		t.Fatalf("set-disk-free-limit: exit %d: %s", code, out)
	}
	waitBlocking(t, blocked, false, "")
	waitConfirm(t, confirms, 2)
}

func waitConfirm(t *testing.T, confirms <-chan amqp.Confirmation, tag uint64) {
	t.Helper()
	select {
	case cf := <-confirms:
		if cf.DeliveryTag != tag || !cf.Ack {
			t.Fatalf("confirm %+v, want ack of %d", cf, tag)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no confirm of %d within 10 s", tag)
	}
}

func waitBlocking(t *testing.T, blocked <-chan amqp.Blocking, active bool, reason string) {
	t.Helper()
	select {
	case b := <-blocked:
		if b.Active != active || b.Reason != reason {
			t.Fatalf("blocking %+v, want active=%v reason %q", b, active, reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no connection.blocked (active=%v) within 10 s", active)
	}
}
