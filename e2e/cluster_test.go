package e2e

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file runs three Warren processes as one cluster on loopback: the
// definitions replicated by Raft, membership by gossip, each node on its
// own AMQP and cluster ports and data dir.

// testCluster is a cluster of warren processes.
type testCluster struct {
	nodes []*warrenProc
	names []string
}

// startCluster starts n nodes that form one cluster, and waits until each
// serves the default vhost.
func startCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	return startClusterWith(t, n)
}

// startClusterWith starts a cluster as startCluster does, each node with
// the extra flags.
func startClusterWith(t *testing.T, n int, extra ...string) *testCluster {
	t.Helper()
	bin := buildWarren(t)
	c := &testCluster{}
	var clusterAddrs []string
	for range n {
		clusterAddrs = append(clusterAddrs, freeAddr(t))
	}
	for i := range n {
		p := newWarrenProc(t, bin, t.TempDir())
		name := fmt.Sprintf("n%d@localhost", i+1)
		p.args = []string{"--node-name", name, "--cluster-listen", clusterAddrs[i],
			"--join", strings.Join(clusterAddrs, ","), "--bootstrap-expect", fmt.Sprint(n),
			"--cluster-secret", "e2e-secret"}
		p.args = append(p.args, extra...)
		c.nodes = append(c.nodes, p)
		c.names = append(c.names, name)
	}
	t.Cleanup(func() { // registered first, so that a node that never started shows its log too
		if t.Failed() {
			for i, p := range c.nodes {
				if p.out != nil {
					t.Logf("node %s log:\n%s", c.names[i], p.out)
				}
			}
		}
	})
	for _, p := range c.nodes {
		p.launch(t)
	}
	for _, p := range c.nodes {
		p.waitReady(t)
	}
	return c
}

// restart starts node i again after it was killed or stopped, on a new
// AMQP port: while it was down, another test's socket may have taken the
// old one, which was only free when startCluster picked it. Its cluster
// port stays, since the other nodes know the node by it.
func (c *testCluster) restart(t *testing.T, i int) {
	t.Helper()
	c.nodes[i].addr = freeAddr(t)
	c.nodes[i].start(t)
}

// dial connects to node i.
func (c *testCluster) dial(t *testing.T, i int) *amqp.Connection {
	t.Helper()
	conn, err := amqp.Dial(c.nodes[i].url())
	if err != nil {
		t.Fatalf("dial node %d: %v", i, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// channel opens a channel on node i.
func (c *testCluster) channel(t *testing.T, i int) *amqp.Channel {
	t.Helper()
	ch, err := c.dial(t, i).Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// queueExists reports whether node i has the queue, by a passive declare
// on a connection of its own.
func (c *testCluster) queueExists(t *testing.T, i int, name string) bool {
	t.Helper()
	conn, err := amqp.Dial(c.nodes[i].url())
	if err != nil {
		t.Fatalf("dial node %d: %v", i, err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	_, err = ch.QueueDeclarePassive(name, false, false, false, false, nil)
	var ae *amqp.Error
	switch {
	case err == nil:
		return true
	case errors.As(err, &ae) && ae.Code == amqp.NotFound:
		return false
	}
	t.Fatalf("passive declare of %s on node %d: %v", name, i, err)
	return false
}

// eventually polls cond until it holds, failing t after 10 s: another
// node applies a committed change when the leader next tells it the
// commit index, within a heartbeat.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterDefinitionsReplicate: what is declared on one node is there
// on that node when declare-ok arrives and on every other node a moment
// later; a delete on another node is seen everywhere.
func TestClusterDefinitionsReplicate(t *testing.T) {
	c := startCluster(t, 3)
	a := c.channel(t, 0)
	if err := a.ExchangeDeclare("cx", "topic", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.QueueDeclare("cq", true, false, false, false, amqp.Table{"x-max-length": int32(5)}); err != nil {
		t.Fatal(err)
	}
	if err := a.QueueBind("cq", "k.#", "cx", false, nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 3; i++ {
		eventually(t, fmt.Sprintf("node %d has the queue declared on node 0", i), func() bool { return c.queueExists(t, i, "cq") })
		ch := c.channel(t, i)
		if err := ch.ExchangeDeclarePassive("cx", "topic", true, false, false, false, nil); err != nil {
			t.Fatalf("node %d: exchange: %v", i, err)
		}
		// A redeclare with other arguments is refused on any node.
		_, err := ch.QueueDeclare("cq", true, false, false, false, amqp.Table{"x-max-length": int32(6)})
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed {
			t.Fatalf("node %d: inequivalent redeclare: %v", i, err)
		}
	}
	if _, err := c.channel(t, 2).QueueDelete("cq", false, false, false); err != nil {
		t.Fatal(err)
	}
	if c.queueExists(t, 2, "cq") {
		t.Fatal("node 2 still has the queue it deleted")
	}
	for i := range 2 {
		eventually(t, fmt.Sprintf("node %d drops the queue deleted on node 2", i), func() bool { return !c.queueExists(t, i, "cq") })
	}
}

// TestClusterConcurrentDeclares: two nodes declaring one name at once end
// as RabbitMQ's would: equivalent declares both succeed, and of two
// inequivalent ones exactly one does while the other gets 406.
func TestClusterConcurrentDeclares(t *testing.T) {
	c := startCluster(t, 3)
	chans := []*amqp.Channel{c.channel(t, 0), c.channel(t, 1)}
	for round := range 20 {
		name := fmt.Sprintf("race-%d", round)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, ch := range chans {
			wg.Add(1)
			go func() {
				defer wg.Done()
				args := amqp.Table{"x-max-length": int32(10)}
				if round%2 == 1 {
					args = amqp.Table{"x-max-length": int32(10 + i)} // inequivalent
				}
				_, errs[i] = ch.QueueDeclare(name, true, false, false, false, args)
			}()
		}
		wg.Wait()
		failed := 0
		for i, err := range errs {
			if err == nil {
				continue
			}
			var ae *amqp.Error
			if !errors.As(err, &ae) || ae.Code != amqp.PreconditionFailed {
				t.Fatalf("round %d node %d: %v", round, i, err)
			}
			failed++
			ch, err := c.dial(t, i).Channel()
			if err != nil {
				t.Fatal(err)
			}
			chans[i] = ch
		}
		if want := round % 2; failed != want {
			t.Fatalf("round %d: %d declares refused, want %d: %v", round, failed, want, errs)
		}
	}
}

// TestClusterNodeDownAndBack: with one node killed (SIGKILL) the other two
// go on committing definitions; the node, restarted, catches up on what
// it missed.
func TestClusterNodeDownAndBack(t *testing.T) {
	c := startCluster(t, 3)
	c.nodes[2].kill()
	ch := c.channel(t, 0)
	for i := range 20 {
		if _, err := ch.QueueDeclare(fmt.Sprintf("while-down-%d", i), true, false, false, false, nil); err != nil {
			t.Fatalf("declare %d with one node down: %v", i, err)
		}
	}
	c.restart(t, 2)
	eventually(t, "the restarted node catches up", func() bool { return c.queueExists(t, 2, "while-down-19") })
	for i := range 20 {
		if !c.queueExists(t, 2, fmt.Sprintf("while-down-%d", i)) {
			t.Fatalf("the restarted node misses while-down-%d", i)
		}
	}
}
