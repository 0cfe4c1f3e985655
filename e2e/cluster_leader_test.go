package e2e

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file kills the definitions leader (SIGKILL) in the middle of a
// stream of declares, made on another node and on the leader itself.
// What was acknowledged is never lost, and nothing is applied twice: a
// queue whose declare-ok arrived exists on the surviving nodes and, after
// a restart, on the killed one; a queue deleted after it was declared
// does not come back; each queue is bound once; and the exclusive queues
// of connections that closed, or of the killed node, are gone.

// declareLedger records what a stream of declares was told.
type declareLedger struct {
	mu        sync.Mutex
	acked     map[string]string // durable queue → the node it was declared on
	deleted   map[string]bool   // acked, then deleted: true once delete-ok arrived, false while its fate is unknown
	exclusive map[string]bool   // exclusive queue → its connection is still open
	failures  int               // declares refused or cut short
	open      []*amqp.Connection
}

func newDeclareLedger() *declareLedger {
	return &declareLedger{acked: map[string]string{}, deleted: map[string]bool{}, exclusive: map[string]bool{}}
}

// count returns how many durable declares were acked on each node.
func (l *declareLedger) count(node string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, on := range l.acked {
		if on == node {
			n++
		}
	}
	return n
}

// declareStream declares, on the node at url, durable queues prefix-0,
// prefix-1, … each bound to exchange x, deletes every third once
// declared, and declares a server-named exclusive queue every other
// round, until stop is closed. A refused or cut-short declare is counted
// and a new connection opened; the exclusive queues of the one that
// failed must go with it. The connection open at the end is left in
// l.open, its exclusive queues alive.
func declareStream(url, node, prefix, x string, l *declareLedger, stop <-chan struct{}) {
	var (
		c      *amqp.Connection
		ch     *amqp.Channel
		mine   []string // exclusive queues of c
		closed = func() {
			l.mu.Lock()
			for _, q := range mine {
				l.exclusive[q] = false
			}
			l.mu.Unlock()
			mine = nil
			if c != nil {
				c.Close()
				c = nil
			}
		}
	)
	defer func() {
		if c != nil {
			l.mu.Lock()
			l.open = append(l.open, c)
			l.mu.Unlock()
		}
	}()
	fail := func() {
		l.mu.Lock()
		l.failures++
		l.mu.Unlock()
		closed()
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		if c == nil {
			var err error
			if c, ch, err = dialQuick(url); err != nil {
				c = nil
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
				i--
				continue
			}
		}
		name := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := ch.QueueDeclare(name, true, false, false, false, nil); err != nil {
			fail()
			continue
		}
		if err := ch.QueueBind(name, "", x, false, nil); err != nil {
			fail() // declared, but the binding's fate is unknown: not counted
			continue
		}
		l.mu.Lock()
		l.acked[name] = node
		l.mu.Unlock()
		if i%3 == 2 {
			l.mu.Lock()
			l.deleted[name] = false
			l.mu.Unlock()
			if _, err := ch.QueueDelete(name, false, false, false); err != nil {
				fail()
				continue
			}
			l.mu.Lock()
			l.deleted[name] = true
			l.mu.Unlock()
		}
		if i%2 == 1 {
			q, err := ch.QueueDeclare("", false, false, true, false, nil)
			if err != nil {
				fail()
				continue
			}
			mine = append(mine, q.Name)
			l.mu.Lock()
			l.exclusive[q.Name] = true
			l.mu.Unlock()
		}
	}
}

// exclusiveState tells, by a passive declare from another connection,
// whether the exclusive queue exists: 405 RESOURCE_LOCKED (another
// connection's) or 404.
func exclusiveState(url, name string) (bool, error) {
	c, ch, err := dialQuick(url)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_, err = ch.QueueDeclarePassive(name, false, false, true, false, nil)
	var ae *amqp.Error
	switch {
	case errors.As(err, &ae) && ae.Code == amqp.ResourceLocked:
		return true, nil
	case errors.As(err, &ae) && ae.Code == amqp.NotFound:
		return false, nil
	case err == nil:
		return false, fmt.Errorf("passive declare of another connection's exclusive queue %s succeeded", name)
	}
	return false, err
}

// TestClusterLeaderKilledMidDeclares kills the definitions leader while
// a node that is not the leader, and the leader itself, declare.
func TestClusterLeaderKilledMidDeclares(t *testing.T) {
	// A commit timeout shorter than an election: some declares on the
	// follower are refused while there is no leader, and so are the
	// deletes of the exclusive queues of the connections they close.
	t.Setenv("WARREN_DEFINITIONS_TIMEOUT", "1s")
	c := startCluster(t, 3)
	leader := agreedLeader(t, c.names, func(i int) string { return c.nodes[i].out.String() })
	follower, other := (leader+1)%3, (leader+2)%3
	const x = "kill-fanout"
	mustOK(t, c.channel(t, follower).ExchangeDeclare(x, "fanout", true, false, false, false, nil), "exchange.declare")

	l := newDeclareLedger()
	t.Cleanup(func() {
		for _, conn := range l.open {
			conn.Close()
		}
	})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	stream := func(node int, prefix string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			declareStream(c.nodes[node].url(), c.names[node], prefix, x, l, stop)
		}()
	}
	for w := range 3 {
		stream(follower, fmt.Sprintf("on-follower-%d", w))
	}
	stream(leader, "on-leader")
	fName, lName := c.names[follower], c.names[leader]
	eventually(t, "declares acknowledged on both nodes", func() bool { return l.count(fName) >= 10 && l.count(lName) >= 3 })
	c.nodes[leader].kill()
	killedAt, before := time.Now(), l.count(fName)
	// The survivors elect a new definitions leader 2.5 to 5 s after the
	// kill (broker/defs_timing.go), and more on a loaded machine.
	eventually30(t, "declares acknowledged on the follower again after the kill", func() bool { return l.count(fName) >= before+10 })
	close(stop)
	wg.Wait()
	closedExclusive := 0
	for _, open := range l.exclusive {
		if !open {
			closedExclusive++
		}
	}
	t.Logf("the follower's declares went on %v after the kill; %d acknowledged, %d refused or cut short; %d exclusive queues, %d of closed connections",
		time.Since(killedAt).Round(time.Millisecond), len(l.acked), l.failures, len(l.exclusive), closedExclusive)

	// The survivors have every queue declared on the follower (those
	// homed on the killed node answer 404 while it is down), and the
	// exclusive queues of closed connections and of the killed node are
	// gone.
	checkLedger(t, c, l, []int{follower, other}, fName)
	c.restart(t, leader)
	checkLedger(t, c, l, []int{0, 1, 2}, "")
	checkBoundOnce(t, c, l, x)
}

// checkLedger checks, on the nodes given, that every acknowledged queue
// declared on node home (on any node if "") exists, that none deleted
// after its declare exists (a queue whose delete was cut short may or
// may not), and that exclusive queues exist exactly while their
// connection is open.
func checkLedger(t *testing.T, c *testCluster, l *declareLedger, nodes []int, home string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var urls []string
	for _, i := range nodes {
		urls = append(urls, c.nodes[i].url())
	}
	want := map[string]bool{}
	for q, on := range l.acked {
		deleted, deleting := l.deleted[q]
		if (home == "" || on == home) && (deleted || !deleting) {
			want[q] = !deleted
		}
	}
	converge(t, urls, want, 15*time.Second)
	for q, open := range l.exclusive {
		for _, url := range urls {
			var (
				got bool
				err error
			)
			eventually(t, fmt.Sprintf("exclusive queue %s to exist only while its connection is open (open: %v)", q, open), func() bool {
				got, err = exclusiveState(url, q)
				return err == nil && got == open
			})
		}
	}
}

// checkBoundOnce publishes one message to the fanout x on each node and
// checks that each queue acknowledged and never deleted got exactly one
// from each: no node's router holds a binding twice, and none lacks one.
func checkBoundOnce(t *testing.T, c *testCluster, l *declareLedger, x string) {
	t.Helper()
	for i := range c.nodes {
		conn, ch, err := dialQuick(c.nodes[i].url())
		mustOK(t, err, "dial")
		mustOK(t, ch.Confirm(false), "confirm.select")
		conf, err := ch.PublishWithDeferredConfirm(x, "", false, false, amqp.Publishing{Body: []byte(fmt.Sprint(i))})
		mustOK(t, err, "publish")
		if !conf.Wait() {
			t.Fatalf("publish to %s on node %d nacked", x, i)
		}
		conn.Close()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	conn, ch, err := dialQuick(c.nodes[0].url())
	mustOK(t, err, "dial")
	defer conn.Close()
	for q := range l.acked {
		if _, deleting := l.deleted[q]; deleting {
			continue
		}
		info, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
		if err != nil {
			t.Fatalf("passive declare of %s: %v", q, err)
		}
		if info.Messages != len(c.nodes) {
			t.Errorf("queue %s holds %d messages from one publish on each of %d nodes", q, info.Messages, len(c.nodes))
		}
	}
}
