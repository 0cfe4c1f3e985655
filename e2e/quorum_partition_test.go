package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file cuts a quorum queue's leader off from the other two nodes
// (network namespaces, netlab_test.go) while clients publish and consume
// on the majority side and a client of the cut-off node publishes too: the
// majority elects a leader and goes on confirming; the minority confirms
// nothing while cut off; once the link is back, no confirmed message is
// lost and nothing unexpected is consumed.

// nsStatus runs `warren cluster status --json` in node i's namespace,
// against its own cluster port (reachable there even while it is cut off).
func nsStatus(t *testing.T, lab *netLab, bin string, i int) clusterStatusJSON {
	t.Helper()
	cmd := lab.command(i, bin, "cluster", "status", "--cluster-addr", lab.clusterAddr(i, 25672), "--json")
	cmd.Env = append(os.Environ(), "WARREN_CLUSTER_SECRET=e2e-partition")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("warren cluster status on node %d: %v: %s", i, err, out)
	}
	var st clusterStatusJSON
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("status is not JSON: %v\n%s", err, out)
	}
	return st
}

// nsQueueLeader returns the leader of quorum queue q as node i's replica
// knows it ("" none).
func nsQueueLeader(t *testing.T, lab *netLab, bin string, i int, q string) string {
	t.Helper()
	for _, sq := range nsStatus(t, lab, bin, i).Queues {
		if sq.Name == q {
			return sq.Leader
		}
	}
	return ""
}

// minorityOutcome is what became of the publishes made on the cut-off
// node.
type minorityOutcome struct {
	mu                        sync.Mutex
	sent                      int
	confirmedCut, nackedCut   []time.Duration // answered while cut off, after the publish
	confirmedHeal, nackedHeal int             // answered after the heal
	healed                    bool
}

// answered records a confirm or nack that came took after its publish.
func (o *minorityOutcome) answered(ack bool, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case !o.healed && ack:
		o.confirmedCut = append(o.confirmedCut, took)
	case !o.healed:
		o.nackedCut = append(o.nackedCut, took)
	case ack:
		o.confirmedHeal++
	default:
		o.nackedHeal++
	}
}

// heal marks the moment the link came back.
func (o *minorityOutcome) heal() {
	o.mu.Lock()
	o.healed = true
	o.mu.Unlock()
}

// answers returns how many publishes were answered so far.
func (o *minorityOutcome) answers() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.confirmedCut) + len(o.nackedCut) + o.confirmedHeal + o.nackedHeal
}

func (o *minorityOutcome) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprintf("%d published on the cut-off node: while cut off %d confirmed, %d nacked (%s after their publish); after the heal %d confirmed, %d nacked; %d unanswered",
		o.sent, len(o.confirmedCut), len(o.nackedCut), durations(o.nackedCut), o.confirmedHeal, o.nackedHeal,
		o.sent-len(o.confirmedCut)-len(o.nackedCut)-o.confirmedHeal-o.nackedHeal)
}

// publishMinority publishes one persistent message every 100 ms on a
// connection to url until stop, recording each outcome; it then waits
// up to linger for the answers still due.
func publishMinority(url, q string, l *totalQueue, o *minorityOutcome, stop <-chan struct{}, linger time.Duration) error {
	c, ch, err := dialQuick(url)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := ch.Confirm(false); err != nil {
		return err
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1024))
	var sentAt []time.Time
	var ids []string
	answer := func(cf amqp.Confirmation) {
		took := time.Since(sentAt[cf.DeliveryTag-1])
		if cf.Ack {
			l.confirm(ids[cf.DeliveryTag-1])
		}
		o.answered(cf.Ack, took)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for publishing := true; publishing; {
		select {
		case <-stop:
			publishing = false
		case cf, ok := <-confirms:
			if !ok {
				return fmt.Errorf("the cut-off node closed the channel")
			}
			answer(cf)
		case <-tick.C:
			id := fmt.Sprintf("m-%d", len(ids)+1)
			l.attempt(id)
			ids, sentAt = append(ids, id), append(sentAt, time.Now())
			o.mu.Lock()
			o.sent++
			o.mu.Unlock()
			if err := ch.Publish("", q, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(id)}); err != nil {
				return err
			}
		}
	}
	deadline := time.After(linger)
	for o.answers() < len(ids) {
		select {
		case cf, ok := <-confirms:
			if !ok {
				return fmt.Errorf("the cut-off node closed the channel")
			}
			answer(cf)
		case <-deadline:
			return nil
		}
	}
	return nil
}

// minorityConsumer consumes with manual acks on the node to be cut off,
// counting its deliveries and noting a basic.cancel.
type minorityConsumer struct {
	deliveries atomic.Int64
	cancelled  atomic.Bool
	closed     atomic.Bool
	done       chan struct{}
}

// consumeMinority starts a consumer on url that runs until c closes.
func consumeMinority(t *testing.T, url, q string, l *totalQueue) *minorityConsumer {
	t.Helper()
	c, ch, err := dialQuick(url)
	mustOK(t, err, "dial the node to be cut off")
	t.Cleanup(func() { c.Close() })
	mustOK(t, ch.Qos(10, 0, false), "qos")
	cancels := ch.NotifyCancel(make(chan string, 1))
	ds, err := ch.Consume(q, "", false, false, false, false, nil)
	mustOK(t, err, "consume on the node to be cut off")
	k := &minorityConsumer{done: make(chan struct{})}
	go func() {
		defer close(k.done)
		for d := range ds {
			l.consume(string(d.Body), d.Redelivered)
			k.deliveries.Add(1)
			d.Ack(false)
		}
		select {
		case <-cancels:
			k.cancelled.Store(true)
		default:
			k.closed.Store(true)
		}
	}()
	t.Cleanup(func() { c.Close(); <-k.done })
	return k
}

// TestQuorumPartition: a quorum queue's leader is cut off from the other
// two nodes while a publisher (confirms) and a consumer (manual acks)
// run on each of those, a consumer runs on the cut-off node and a client
// of the cut-off node publishes one message every 100 ms. The majority
// elects a new leader and confirms again; nothing published on the
// cut-off node is confirmed while it is cut off (each is nacked once the
// queue found no leader in time, or answered after the heal); after the
// heal the old leader follows the new one, the consumer on it gets
// deliveries again (or basic.cancel), and lost = 0, unexpected = 0.
func TestQuorumPartition(t *testing.T) {
	knownQuorumBug(t, bugStrandedConsumer)
	const q = "qq-partition"
	lab, bin, nsNodes, leader := startNSQuorum(t, q)
	urls := make([]string, 3)
	for i, nd := range nsNodes {
		urls[i] = nd.url
	}
	nodes := newClientNodes(urls)
	nodes.set(leader, urls[leader], false) // the load runs on the majority side only
	majority := []int{(leader + 1) % 3, (leader + 2) % 3}
	load := startQuorumLoad(t, q, nodes, majority, 300)
	mc := consumeMinority(t, urls[leader], q, load.ledger)
	load.waitFlow(t, "before the cut", 15*time.Second)
	eventually(t, "the consumer on the node to be cut off gets deliveries", func() bool { return mc.deliveries.Load() > 0 })

	lab.cut(t, leader)
	load.clock.kill()
	healed := false
	t.Cleanup(func() {
		if !healed {
			lab.heal(t, leader)
		}
	})
	out := &minorityOutcome{}
	stopMinority := make(chan struct{})
	minorityDone := make(chan error, 1)
	go func() {
		minorityDone <- publishMinority(urls[leader], q, load.ledger, out, stopMinority, 15*time.Second)
	}()
	deadline := time.Now().Add(failoverBound)
	for {
		if _, _, ok := load.clock.resumed(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the majority confirmed nothing within %v of the cut", failoverBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	gap, sinceCut, _ := load.clock.resumed()
	load.waitFlow(t, "on the majority side while the leader is cut off", 15*time.Second)
	newLeader := ""
	eventually(t, "the majority names a new leader", func() bool {
		newLeader = nsQueueLeader(t, lab, bin, majority[0], q)
		return newLeader != "" && newLeader != nsNodes[leader].name
	})
	// Hold the cut until the cut-off node answers a publish (a nack, once
	// its queue found no leader in time) or 12 s pass.
	holdUntil := time.Now().Add(12 * time.Second)
	for out.answers() == 0 && time.Now().Before(holdUntil) {
		time.Sleep(20 * time.Millisecond)
	}
	heldFor := time.Since(load.clock.killedAt)
	out.heal()
	atHeal := mc.deliveries.Load()
	lab.heal(t, leader)
	healed = true
	close(stopMinority)

	eventually(t, "the old leader follows the new one", func() bool {
		l := nsQueueLeader(t, lab, bin, leader, q)
		return l != "" && l != nsNodes[leader].name
	})
	if err := <-minorityDone; err != nil {
		t.Errorf("the publisher on the cut-off node: %v", err)
	}
	t.Logf("cut %s off for %v: the majority's confirms stopped for %v (first after the cut %v after it), new leader %s; %v",
		nsNodes[leader].name, heldFor.Round(time.Millisecond), gap.Round(time.Millisecond),
		sinceCut.Round(time.Millisecond), newLeader, out)
	out.mu.Lock()
	if n := len(out.confirmedCut); n > 0 {
		t.Errorf("%d publishes on the cut-off node confirmed while it was cut off from the majority", n)
	}
	out.mu.Unlock()
	// The consumer on the healed node gets deliveries again, or is told
	// with basic.cancel that it must subscribe again: never silently
	// left without messages.
	resume := time.Now().Add(10 * time.Second)
	for mc.deliveries.Load() == atHeal && !mc.cancelled.Load() && !mc.closed.Load() && time.Now().Before(resume) {
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the consumer on the cut-off node: %d deliveries before the heal, %d after; cancelled %v, channel closed %v",
		atHeal, mc.deliveries.Load()-atHeal, mc.cancelled.Load(), mc.closed.Load())
	if mc.deliveries.Load() == atHeal && !mc.cancelled.Load() && !mc.closed.Load() {
		t.Errorf("the consumer on the cut-off node got nothing within 10 s of the heal, and no basic.cancel, while the others consumed")
	}
	load.drain(t, 15*time.Second)
	if r := checkTotalQueue(t, load.ledger); len(r.lost) > 0 {
		whereLost(t, q, nodes, r.lost)
	}
}

// declareQuorumAt declares quorum queue q on a connection of its own.
func declareQuorumAt(url, q string) error {
	c, ch, err := dialQuick(url)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	return err
}

// startNSQuorum starts three nodes in namespaces, declares quorum queue
// q and returns the nodes and the index of q's leader, once every replica
// follows it.
func startNSQuorum(t *testing.T, q string) (*netLab, string, []*nsNode, int) {
	t.Helper()
	bin := buildWarren(t)
	lab := newNetLab(t, 3)
	nodes := startNSCluster(t, lab, bin, 3)
	mustOK(t, declareQuorumAt(nodes[0].url, q), "declare")
	leader := -1
	eventually(t, "every replica knows the same leader", func() bool {
		first := nsQueueLeader(t, lab, bin, 0, q)
		for i := 1; i < 3; i++ {
			if nsQueueLeader(t, lab, bin, i, q) != first {
				return false
			}
		}
		for i, nd := range nodes {
			if nd.name == first {
				leader = i
			}
		}
		return leader >= 0
	})
	return lab, bin, nodes, leader
}

// TestQuorumPartitionForwarded: a client of a follower publishes just
// after the leader is cut off, so the follower forwards to the old
// leader; the publish is confirmed once the majority has elected a new
// leader, not once the link to the old one breaks.
func TestQuorumPartitionForwarded(t *testing.T) {
	const q = "qq-forwarded"
	lab, _, nodes, leader := startNSQuorum(t, q)
	follower := (leader + 1) % 3
	c, ch, err := dialQuick(nodes[follower].url)
	mustOK(t, err, "dial the follower")
	defer c.Close()
	mustOK(t, ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 2))
	publish := func(body string) {
		mustOK(t, ch.Publish("", q, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(body)}), "publish")
	}
	publish("before")
	if cf := <-confirms; !cf.Ack {
		t.Fatal("publish before the cut nacked")
	}
	lab.cut(t, leader)
	defer lab.heal(t, leader)
	cutAt := time.Now()
	publish("after")
	select {
	case cf := <-confirms:
		if !cf.Ack {
			t.Fatalf("publish after the cut nacked after %v", time.Since(cutAt))
		}
		t.Logf("publish after the cut confirmed after %v", time.Since(cutAt).Round(time.Millisecond))
	case <-time.After(failoverBound):
		t.Fatalf("publish on a follower just after the leader was cut off not confirmed within %v", failoverBound)
	}
}

// TestQuorumPartitionConsumer: a consumer on a follower that is cut off
// for a few seconds, while messages are published on the leader's node,
// gets every message once the link is back (or is cancelled, so that it
// can subscribe again).
func TestQuorumPartitionConsumer(t *testing.T) {
	knownQuorumBug(t, bugStrandedConsumer)
	const q = "qq-consumer"
	lab, _, nodes, leader := startNSQuorum(t, q)
	follower := (leader + 1) % 3
	l := newTotalQueue()
	mc := consumeMinority(t, nodes[follower].url, q, l)
	publishN := func(prefix string, n int) {
		c, ch, err := dialQuick(nodes[leader].url)
		mustOK(t, err, "dial the leader's node")
		defer c.Close()
		mustOK(t, ch.Confirm(false), "confirm.select")
		confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n))
		for k := range n {
			id := fmt.Sprintf("%s-%d", prefix, k)
			l.attempt(id)
			mustOK(t, ch.Publish("", q, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(id)}), "publish")
		}
		for range n {
			select {
			case cf := <-confirms:
				if !cf.Ack {
					t.Fatalf("publish %d nacked", cf.DeliveryTag)
				}
				l.confirm(fmt.Sprintf("%s-%d", prefix, cf.DeliveryTag-1))
			case <-time.After(failoverBound):
				t.Fatalf("publishes on the leader's node not confirmed within %v", failoverBound)
			}
		}
	}
	publishN("before", 10)
	eventually(t, "the consumer gets what was published before the cut", func() bool { return l.unconsumed() == 0 })
	lab.cut(t, follower)
	publishN("during", 10)
	// The cut lasts until the leader's node takes the follower for
	// failed, as RabbitMQ's nodes take a node they lost for down.
	failed := "node failed\t{\"node\": \"" + nodes[follower].name + "\""
	eventually30(t, "the leader's node marks the cut-off follower failed", func() bool {
		return strings.Contains(nodes[leader].out.String(), failed)
	})
	lab.heal(t, follower)
	publishN("after", 10)
	deadline := time.Now().Add(15 * time.Second)
	for l.unconsumed() > 0 && !mc.cancelled.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	r := l.check()
	t.Logf("%v; cancelled %v", r, mc.cancelled.Load())
	if len(r.lost) > 0 && !mc.cancelled.Load() {
		if c, ch, err := dialQuick(nodes[leader].url); err == nil {
			st, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			t.Logf("the leader's node: %d messages ready, %d consumers (%v)", st.Messages, st.Consumers, err)
			c.Close()
		}
		t.Errorf("the consumer on the node that was cut off got %d deliveries; %d messages never reached it within 15 s of the heal, and it was not cancelled: %s",
			mc.deliveries.Load(), len(r.lost), idRanges(r.lost))
	}
}

// eventually30 is eventually with 30 s: memberlist takes a node it
// cannot reach for failed after its suspicion timeout, several seconds.
func eventually30(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
