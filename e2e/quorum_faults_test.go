package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file kills a quorum queue's leader with kill -9, round after
// round, while publishers with confirms and consumers with manual acks
// run on the three nodes, and checks the queue as Jepsen's total-queue
// checker does: every confirmed message consumed at least once, nothing
// consumed that was never published.

// quorumKills is how many rounds TestQuorumLeaderKills runs:
// WARREN_QUORUM_KILLS, 3 by default (`make quorum-kills` runs 20).
func quorumKills(t *testing.T) int {
	s := os.Getenv("WARREN_QUORUM_KILLS")
	if s == "" {
		return 3
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("WARREN_QUORUM_KILLS=%q: want a positive number of rounds", s)
	}
	return n
}

// leaderOf returns the node that leads quorum queue q, as that node's
// own replica says (so not a follower's stale view), polling until one
// does.
func (c *testCluster) leaderOf(t *testing.T, q string, up []int) int {
	t.Helper()
	leader := -1
	eventually(t, "a node says it leads "+q, func() bool {
		for _, i := range up {
			for _, sq := range c.status(t, i).Queues {
				if sq.Name == q && sq.Leader == c.names[i] {
					leader = i
					return true
				}
			}
		}
		return false
	})
	return leader
}

// rejoined waits until node i's replica of q follows a leader.
func (c *testCluster) rejoined(t *testing.T, i int, q string) {
	t.Helper()
	eventually(t, fmt.Sprintf("node %d's replica of %s knows its leader", i, q), func() bool {
		for _, sq := range c.status(t, i).Queues {
			if sq.Name == q && sq.Leader != "" {
				return true
			}
		}
		return false
	})
}

// electionClient connects to url right after a kill, while the queue
// elects a new leader, and publishes n messages with confirms. It
// returns how long the confirms took, or why they did not all come
// within the bound.
func electionClient(url, q, prefix string, n int, l *totalQueue, within time.Duration) (time.Duration, error) {
	begin := time.Now()
	c, ch, err := dialQuick(url)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	if err := ch.Confirm(false); err != nil {
		return 0, fmt.Errorf("confirm.select: %w", err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n))
	ids := make([]string, n)
	for k := range n {
		ids[k] = fmt.Sprintf("%s-%d", prefix, k)
		l.attempt(ids[k])
		if err := ch.Publish("", q, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(ids[k])}); err != nil {
			return 0, fmt.Errorf("publish: %w", err)
		}
	}
	timeout := time.After(within)
	for k := range n {
		select {
		case cf, ok := <-confirms:
			if !ok {
				return 0, fmt.Errorf("channel closed after %v", time.Since(begin))
			}
			if !cf.Ack {
				return 0, fmt.Errorf("publish %d nacked after %v", cf.DeliveryTag, time.Since(begin))
			}
			l.confirm(ids[cf.DeliveryTag-1])
		case <-timeout:
			return 0, fmt.Errorf("%d of %d publishes confirmed within %v", k, n, within)
		}
	}
	return time.Since(begin), nil
}

// leaderKill is what one kill of a quorum queue's leader showed.
type leaderKill struct {
	leader         int
	gap, sinceKill time.Duration   // the confirm gap, and from the kill to the first confirm after it
	election       []time.Duration // per survivor, how long its election client waited
}

// killLeader finds q's leader among up, kills it with kill -9 while load
// runs and waits until confirms resume; meanwhile a client connects to
// each survivor, during the election, and publishes with confirms. It
// fails t unless confirms resume within failoverBound and every election
// client is confirmed within electionClientBound. The clients of load are
// told the node is down.
func killLeader(t *testing.T, c *testCluster, q string, up []int, nodes *clientNodes, load *quorumLoad, round int) leaderKill {
	t.Helper()
	k := leaderKill{leader: c.leaderOf(t, q, up)}
	var survivors []int
	for _, i := range up {
		if i != k.leader {
			survivors = append(survivors, i)
		}
	}
	nodes.set(k.leader, nodes.url(k.leader), false)
	load.clock.kill()
	c.nodes[k.leader].kill()

	type result struct {
		took time.Duration
		err  error
	}
	during := make([]chan result, len(survivors))
	for n, i := range survivors {
		during[n] = make(chan result, 1)
		go func() {
			took, err := electionClient(nodes.url(i), q, fmt.Sprintf("e%d.%d", round, i), 20, load.ledger, electionClientBound)
			during[n] <- result{took, err}
		}()
	}
	deadline := time.Now().Add(failoverBound)
	for {
		var ok bool
		if k.gap, k.sinceKill, ok = load.clock.resumed(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("round %d: no confirm within %v of killing the leader, node %d", round, failoverBound, k.leader)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for n, i := range survivors {
		r := <-during[n]
		if r.err != nil {
			t.Fatalf("round %d: a client that connected to node %d during the election: %v", round, i, r.err)
		}
		k.election = append(k.election, r.took)
	}
	load.waitFlow(t, fmt.Sprintf("round %d: after the kill", round), 15*time.Second)
	return k
}

// startQuorumKills starts three nodes, declares quorum queue q and runs
// a publisher and a consumer homed on each node.
func startQuorumKills(t *testing.T, q string) (*testCluster, *clientNodes, *quorumLoad) {
	t.Helper()
	c := startCluster(t, 3)
	_, err := c.channel(t, 0).QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	mustOK(t, err, "declare")
	urls := make([]string, 3)
	for i := range 3 {
		c.rejoined(t, i, q)
		urls[i] = c.nodes[i].url()
	}
	nodes := newClientNodes(urls)
	load := startQuorumLoad(t, q, nodes, []int{0, 1, 2}, 300)
	load.waitFlow(t, "before the first kill", 15*time.Second)
	return c, nodes, load
}

// finishQuorumKills drains the queue, checks it and reports the kills.
func finishQuorumKills(t *testing.T, q string, nodes *clientNodes, load *quorumLoad, kills []leaderKill) {
	t.Helper()
	load.drain(t, 15*time.Second)
	if r := checkTotalQueue(t, load.ledger); len(r.lost) > 0 {
		whereLost(t, q, nodes, r.lost)
	}
	nacks := 0
	for _, p := range load.pubs {
		nacks += p.nacks
	}
	var gaps, sinceKills, election []time.Duration
	over := 0
	for _, k := range kills {
		gaps, sinceKills = append(gaps, k.gap), append(sinceKills, k.sinceKill)
		election = append(election, k.election...)
		if k.gap > failoverTarget {
			over++
		}
	}
	t.Logf("%d kills: confirm gaps %s (%d above the %v target); first confirm after the kill %s; election clients confirmed in %s; %d nacks resent; %d reconnects",
		len(kills), durations(gaps), over, failoverTarget, durations(sinceKills), durations(election), nacks, load.clock.reconnects.Load())
}

// TestQuorumLeaderKills: three nodes, one quorum queue, a publisher
// (confirms) and a consumer (manual acks, prefetch 50) homed on each
// node, all reconnecting to a survivor when their connection dies and
// sending again what was not confirmed. Each round finds the queue's
// leader, kills it with kill -9, waits until confirms flow again (the
// gap is recorded), has a client that connects to each survivor during
// the election publish with confirms, restarts the killed node and waits
// until its replica has rejoined. Then the queue is drained and checked:
// lost = 0 and unexpected = 0.
func TestQuorumLeaderKills(t *testing.T) {
	rounds := quorumKills(t)
	const q = "qq-kills"
	c, nodes, load := startQuorumKills(t, q)
	var kills []leaderKill
	for round := range rounds {
		reconnects := load.clock.reconnects.Load()
		k := killLeader(t, c, q, []int{0, 1, 2}, nodes, load, round)
		kills = append(kills, k)
		c.restart(t, k.leader)
		c.rejoined(t, k.leader, q)
		nodes.set(k.leader, c.nodes[k.leader].url(), true)
		t.Logf("round %d: killed leader %s; confirms stopped for %v (first after the kill %v after it); election clients confirmed in %s; %d reconnects",
			round, c.names[k.leader], k.gap.Round(time.Millisecond), k.sinceKill.Round(time.Millisecond),
			durations(k.election), load.clock.reconnects.Load()-reconnects)
		load.waitFlow(t, fmt.Sprintf("round %d: after the restart", round), 15*time.Second)
	}
	finishQuorumKills(t, q, nodes, load, kills)
}

// TestQuorumLeaderKillOnce is one round of TestQuorumLeaderKills, the
// killed node left down: clients on both survivors are confirmed after
// the election, and no confirmed message is lost.
func TestQuorumLeaderKillOnce(t *testing.T) {
	const q = "qq-kill-once"
	c, nodes, load := startQuorumKills(t, q)
	k := killLeader(t, c, q, []int{0, 1, 2}, nodes, load, 0)
	finishQuorumKills(t, q, nodes, load, []leaderKill{k})
}

// TestQuorumMemberRestart: a member killed with kill -9 and restarted
// runs its replica again (it follows the leader), and serves the queue
// to its clients.
func TestQuorumMemberRestart(t *testing.T) {
	c := startCluster(t, 3)
	const q = "qq-restart"
	_, err := c.channel(t, 0).QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": "quorum"})
	mustOK(t, err, "declare")
	leader := c.leaderOf(t, q, []int{0, 1, 2})
	follower := (leader + 1) % 3
	c.nodes[follower].kill()
	c.restart(t, follower)
	if !c.queueExists(t, follower, q) {
		t.Errorf("the restarted node %s answers 404 for the quorum queue", c.names[follower])
	}
	c.rejoined(t, follower, q)
	publishConfirmedOn(t, c, follower, q, 0, 10)
}
