package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file partitions a three-node cluster: each node runs in a network
// namespace of its own (netlab_test.go), and one node's cluster link is
// cut while its clients still reach it. The cut-off node is a minority of
// one: it refuses definitions changes, within the commit timeout, with
// RabbitMQ's 541 and a text that says why, and logs why; it still serves
// the queue it is home to. The other two go on declaring. Once the link
// is back every node has the same definitions.

// partitionCommitTimeout is the nodes' --definitions-timeout.
const partitionCommitTimeout = 3 * time.Second

// nsNode is a warren process in a namespace of a netLab.
type nsNode struct {
	name   string
	args   []string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	url    string
}

// startNSCluster starts a node in each of lab's namespaces, forming one
// cluster, and waits until each serves the default vhost.
func startNSCluster(t *testing.T, lab *netLab, bin string, n int) []*nsNode {
	t.Helper()
	const clusterPort, amqpPort = 25672, 5672
	var join []string
	for i := range n {
		join = append(join, lab.clusterAddr(i, clusterPort))
	}
	nodes := make([]*nsNode, n)
	for i := range n {
		nd := &nsNode{name: fmt.Sprintf("p%d@warren", i+1), url: "amqp://warren:warren@" + lab.clientAddr(i, amqpPort) + "/"}
		nd.args = []string{bin, "--listen", lab.clientAddr(i, amqpPort), "--data-dir", t.TempDir(),
			"--disk-free-limit", "1MB", "--node-name", nd.name, "--default-user", "warren", "--default-pass", "warren",
			"--cluster-listen", lab.clusterAddr(i, clusterPort), "--join", strings.Join(join, ","),
			"--bootstrap-expect", fmt.Sprint(n), "--cluster-secret", "e2e-partition",
			"--definitions-timeout", partitionCommitTimeout.String()}
		nd.cmd = lab.command(i, nd.args...)
		nd.out = &lockedBuffer{}
		nd.cmd.Stdout, nd.cmd.Stderr = nd.out, nd.out
		if err := nd.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		nd.exited = make(chan struct{})
		go func() { nd.cmd.Wait(); close(nd.exited) }()
		t.Cleanup(func() {
			nd.cmd.Process.Signal(syscall.SIGKILL)
			<-nd.exited
		})
		nodes[i] = nd
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, nd := range nodes {
				t.Logf("node %s log:\n%s", nd.name, nd.out)
			}
		}
	})
	for _, nd := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, _, err := dialQuick(nd.url)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-nd.exited:
				t.Fatalf("node %s exited at start-up: %v\n%s", nd.name, nd.cmd.ProcessState, nd.out)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s does not serve the default vhost: %v\n%s", nd.name, err, nd.out)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

// TestClusterPartition cuts off, in turn, the definitions leader and a
// follower of a three-node cluster, each in a cluster of its own.
func TestClusterPartition(t *testing.T) {
	bin := buildWarren(t)
	for _, cut := range []string{"leader", "follower"} {
		t.Run(cut, func(t *testing.T) { testPartition(t, bin, cut == "leader") })
	}
}

func testPartition(t *testing.T, bin string, cutLeader bool) {
	lab := newNetLab(t, 3)
	nodes := startNSCluster(t, lab, bin, 3)
	names := make([]string, len(nodes))
	urls := make([]string, len(nodes))
	for i, nd := range nodes {
		names[i], urls[i] = nd.name, nd.url
	}
	leader := agreedLeader(t, names, func(i int) string { return nodes[i].out.String() })
	minority := leader
	if !cutLeader {
		minority = (leader + 1) % 3
	}
	majority := (minority + 1) % 3
	min, maj := urls[minority], urls[majority]

	// Before the cut: a durable queue homed on the minority node, with a
	// message, and a queue the majority deletes during the partition.
	home := "home-of-minority"
	mustOK(t, declareAt(min, home), "declare on the node to be cut off")
	mustOK(t, declareAt(maj, "deleted-while-cut"), "declare on the majority")
	transient := "transient-of-minority"
	mustOK(t, declareTransientOn(min, transient), "declare a transient queue on the node to be cut off")
	publishOn(t, min, home, "before")
	converge(t, urls, map[string]bool{home: true, "deleted-while-cut": true, transient: true}, 10*time.Second)

	lab.cut(t, minority)
	cutAt := time.Now()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		checkMinority(t, min, home)
	}()
	majorityNames := []string{"majority-0", "majority-1", "majority-2"}
	go func() {
		defer wg.Done()
		// The majority elects a leader (if it lost its own) and commits.
		for _, q := range majorityNames {
			if err := declareRetrying(maj, q, 15*time.Second); err != nil {
				t.Errorf("majority declare of %s: %v", q, err)
			}
		}
		c, ch, err := dialQuick(urls[3-minority-majority])
		if err != nil {
			t.Errorf("dial the other majority node: %v", err)
			return
		}
		defer c.Close()
		if _, err := ch.QueueDelete("deleted-while-cut", false, false, false); err != nil {
			t.Errorf("majority delete: %v", err)
		}
	}()
	wg.Wait()
	eventually(t, "the minority node logs that it has no definitions leader", func() bool {
		return strings.Contains(nodes[minority].out.String(),
			"no definitions leader: a majority of the cluster's nodes is not reachable from this node")
	})
	// The majority takes the node for failed, as RabbitMQ takes a node
	// it lost for down: the transient queues it was home to go.
	eventually(t, "the majority removes the cut-off node's transient queues", func() bool {
		line := "transient and exclusive queues of a node removed\t{\"node\": \"" + names[minority]
		return strings.Contains(nodes[majority].out.String(), line) || strings.Contains(nodes[3-minority-majority].out.String(), line)
	})
	if t.Failed() {
		return
	}
	t.Logf("partition held for %v", time.Since(cutAt).Round(time.Millisecond))

	lab.heal(t, minority)
	want := map[string]bool{home: true, "deleted-while-cut": false, "declared-on-minority": false, transient: false}
	for _, q := range majorityNames {
		want[q] = true
	}
	converge(t, urls, want, 30*time.Second)
	// The minority node takes definitions changes again, and the others
	// see them.
	mustOK(t, declareRetrying(min, "after-heal", 15*time.Second), "declare on the healed node")
	want["after-heal"] = true
	converge(t, urls, want, 10*time.Second)
	// The message published on the minority node during the partition
	// is there for a consumer on another node.
	getRetrying(t, maj, home, "during-2", 15*time.Second)
}

// checkMinority checks, on the cut-off node at url, that a declare is
// refused within the commit timeout with 541 and a text that says why,
// and that the queue it is home to still takes and delivers messages.
func checkMinority(t *testing.T, url, home string) {
	start := time.Now()
	err := declareAt(url, "declared-on-minority")
	took := time.Since(start)
	var ae *amqp.Error
	switch {
	case !errors.As(err, &ae) || ae.Code != amqp.InternalError:
		t.Errorf("declare on the cut-off node: %v, want 541 INTERNAL_ERROR", err)
	case !strings.Contains(ae.Reason, "failed to declare queue 'declared-on-minority' in vhost '/' because the metadata store operation timed out") ||
		(!strings.Contains(ae.Reason, "no majority of the cluster's nodes is reachable") &&
			!strings.Contains(ae.Reason, "the definitions leader lost its majority or did not answer")):
		t.Errorf("declare on the cut-off node refused with %q, which does not say why", ae.Reason)
	case took > partitionCommitTimeout+2*time.Second:
		t.Errorf("declare on the cut-off node refused after %v, want within the commit timeout %v", took, partitionCommitTimeout)
	default:
		t.Logf("the cut-off node refused a declare after %v: %s", took.Round(time.Millisecond), ae.Reason)
	}
	// Publishing to and consuming from its own queue goes on.
	c, ch, err := dialQuick(url)
	if err != nil {
		t.Errorf("dial the cut-off node: %v", err)
		return
	}
	defer c.Close()
	for _, body := range []string{"during-1", "during-2"} {
		if err := ch.Publish("", home, false, false, amqp.Publishing{Body: []byte(body), DeliveryMode: amqp.Persistent}); err != nil {
			t.Errorf("publish on the cut-off node: %v", err)
		}
	}
	for _, want := range []string{"before", "during-1"} {
		d, ok, err := getWithin(ch, home, 5*time.Second)
		if err != nil || !ok || string(d.Body) != want {
			t.Errorf("basic.get on the cut-off node: %q %v %v, want %q", d.Body, ok, err, want)
			return
		}
		d.Ack(false)
	}
}

// declareTransientOn declares the non-durable queue name on a connection
// of its own.
func declareTransientOn(url, name string) error {
	c, ch, err := dialQuick(url)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = ch.QueueDeclare(name, false, false, false, false, nil)
	return err
}

// publishOn publishes body to queue q through the default exchange, with
// confirms, on a connection of its own.
func publishOn(t *testing.T, url, q, body string) {
	t.Helper()
	c, ch, err := dialQuick(url)
	mustOK(t, err, "dial")
	defer c.Close()
	mustOK(t, ch.Confirm(false), "confirm.select")
	conf, err := ch.PublishWithDeferredConfirm("", q, false, false, amqp.Publishing{Body: []byte(body), DeliveryMode: amqp.Persistent})
	mustOK(t, err, "publish")
	if !conf.Wait() {
		t.Fatalf("publish of %q to %s nacked", body, q)
	}
}

// getWithin polls basic.get on ch until a message comes or d passes.
func getWithin(ch *amqp.Channel, q string, d time.Duration) (amqp.Delivery, bool, error) {
	deadline := time.Now().Add(d)
	for {
		m, ok, err := ch.Get(q, false)
		if err != nil || ok || time.Now().After(deadline) {
			return m, ok, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// getRetrying gets one message from q on the node at url, on new
// connections while the node cannot reach the queue's home yet, and
// checks its body.
func getRetrying(t *testing.T, url, q, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var (
			d   amqp.Delivery
			ok  bool
			err error
		)
		c, ch, err := dialQuick(url)
		if err == nil {
			d, ok, err = getWithin(ch, q, time.Second)
			if ok {
				d.Ack(false)
			}
			c.Close()
		}
		if ok {
			if string(d.Body) != want {
				t.Fatalf("basic.get from %s: %q, want %q", q, d.Body, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("basic.get from %s: nothing within %v (last error %v)", q, within, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
