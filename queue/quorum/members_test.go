package quorum

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/internal/holdfs"
)

// addrBook maps node names to cluster addresses, as membership does.
type addrBook struct {
	mu sync.Mutex
	m  map[string]string
}

func (b *addrBook) set(node, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.m[node] = addr
}

// testNet is Network on a real cluster port on loopback.
type testNet struct {
	*cluster.Transport
	book *addrBook
}

// NodeAddr implements Network.
func (n testNet) NodeAddr(node string) string {
	n.book.mu.Lock()
	defer n.book.mu.Unlock()
	return n.book.m[node]
}

// memberNode is one node of a test cluster: its cluster port, its quorum
// queue type and its part of the queue "qq".
type memberNode struct {
	name string
	dir  string
	port *cluster.Transport
	typ  *Type
	q    *Queue
	o    *testOwner
	s    queue.Session
	num  uint64 // publishes so far
	// fs is the node's WAL file system, when the cluster holds its
	// fsyncs (memberCluster.holdFS).
	fs *holdfs.FS
}

// memberCluster is nodes n1…nN on loopback running the quorum queue "qq".
type memberCluster struct {
	t     *testing.T
	book  *addrBook
	nodes []*memberNode
	// wrap, if set, wraps a node's Network as it opens.
	wrap func(node string, n Network) Network
	// restAfter, if set, is the nodes' Config.RestAfter.
	restAfter time.Duration
	// holdFS gives each node a WAL file system whose fsyncs the test can
	// hold back (memberNode.fs).
	holdFS bool
}

// startMemberCluster starts n nodes and declares "qq" with members on
// each; everything closes when the test ends.
func startMemberCluster(t *testing.T, n int, members ...string) *memberCluster {
	return startWrappedCluster(t, nil, n, members...)
}

// startWrappedCluster is startMemberCluster with each node's Network
// wrapped by wrap.
func startWrappedCluster(t *testing.T, wrap func(string, Network) Network, n int, members ...string) *memberCluster {
	return startClusterOf(t, &memberCluster{wrap: wrap}, n, members...)
}

// startClusterOf starts c, a cluster configured by its wrap and
// restAfter, as startMemberCluster does.
func startClusterOf(t *testing.T, c *memberCluster, n int, members ...string) *memberCluster {
	c.t, c.book = t, &addrBook{m: map[string]string{}}
	for i := range n {
		c.nodes = append(c.nodes, &memberNode{name: fmt.Sprintf("n%d", i+1), dir: t.TempDir()})
	}
	for _, nd := range c.nodes {
		c.open(nd)
	}
	for _, nd := range c.nodes {
		c.declare(nd, members)
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			c.close(nd)
		}
	})
	return c
}

// open starts nd's cluster port (on a new address) and quorum type.
func (c *memberCluster) open(nd *memberNode) {
	c.t.Helper()
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(c.t).Named(nd.name)
	}
	port, err := cluster.Listen(cluster.TransportConfig{Addr: "127.0.0.1:0", Secret: "members-test", Log: log})
	if err != nil {
		c.t.Fatal(err)
	}
	c.book.set(nd.name, port.Addr())
	var n Network = testNet{port, c.book}
	if c.wrap != nil {
		n = c.wrap(nd.name, n)
	}
	cfg := Config{Node: nd.name, Dir: nd.dir, Logger: log, Net: n, RestAfter: c.restAfter}
	if c.holdFS {
		if nd.fs == nil {
			nd.fs = &holdfs.FS{}
		}
		cfg.WALFS = nd.fs
	}
	if testing.Verbose() {
		cfg.RaftLogger = cluster.NewHCLogger(log, "raft")
	}
	typ, err := OpenType(cfg)
	if err != nil {
		port.Close()
		c.t.Fatal(err)
	}
	nd.port, nd.typ = port, typ
}

// declare runs "qq" on nd with members, as the broker does on every node.
func (c *memberCluster) declare(nd *memberNode, members []string) {
	c.t.Helper()
	args, err := queue.ParseArgs(protocol.Table{"x-queue-type": "quorum"}, "qq", "/")
	if err != nil {
		c.t.Fatal(err)
	}
	q, err := nd.typ.Declare(context.Background(), queue.Declaration{VHost: "/", Name: "qq", Durable: true,
		Args: args, Members: members}, queue.Hooks{})
	if err != nil {
		c.t.Fatal(err)
	}
	nd.q = q.(*Queue)
	nd.o = newTestOwner()
	nd.o.pub.Node = nd.name
	nd.s = q.NewSession(nd.o)
}

// close stops nd: its queue, its type, then its port.
func (c *memberCluster) close(nd *memberNode) {
	if nd.typ == nil {
		return
	}
	nd.s.Close()
	nd.q.Close()
	nd.typ.Close()
	nd.port.Close()
	nd.typ = nil
}

// setMembers tells every running node the queue's new members, as the
// broker's reconciler does once the definition changed.
func (c *memberCluster) setMembers(members ...string) {
	for _, nd := range c.nodes {
		if nd.typ != nil {
			nd.q.SetMembers(members)
		}
	}
}

// node returns the node named.
func (c *memberCluster) node(name string) *memberNode {
	for _, nd := range c.nodes {
		if nd.name == name {
			return nd
		}
	}
	c.t.Fatalf("no node %s", name)
	return nil
}

// leader returns the node whose replica leads, waiting for one among
// names.
func (c *memberCluster) leader(names ...string) *memberNode {
	c.t.Helper()
	var found *memberNode
	waitUntil(c.t, "a leader among "+fmt.Sprint(names), func() bool {
		for _, n := range names {
			if nd := c.node(n); nd.typ != nil && nd.q.leading() {
				found = nd
				return true
			}
		}
		return false
	})
	return found
}

// publish publishes n messages through nd's session and waits for their
// confirms (posted to the session's owner), failing on a nack.
func (c *memberCluster) publish(nd *memberNode, n int) {
	c.t.Helper()
	first := nd.num + 1
	for range n {
		nd.num++
		nd.s.Publish(&queue.Message{Body: []byte(fmt.Sprint(nd.name, "-", nd.num))},
			queue.Confirm{To: noConfirmer{}, Seq: nd.num, From: &nd.o.pub, Num: nd.num}, nil)
	}
	waitUntil(c.t, fmt.Sprintf("%d confirms on %s", n, nd.name), func() bool {
		nd.o.mu.Lock()
		defer nd.o.mu.Unlock()
		seen := 0
		for _, a := range nd.o.acts {
			switch {
			case a.Seq < first:
			case a.Kind == queue.ActionRejected:
				c.t.Fatalf("publish %d on %s nacked", a.Seq, nd.name)
			case a.Kind == queue.ActionSettled:
				seen++
			}
		}
		return seen == n
	})
}

// noConfirmer asks for confirms, which a quorum session posts to its
// owner instead.
type noConfirmer struct{}

// Confirmed implements queue.Confirmer.
func (noConfirmer) Confirmed(uint64, bool) {}

// waitUntil polls cond, failing t after 15 s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 15 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// replicaHolds reports whether nd runs a replica whose group's voters
// are want and which holds ready messages.
func replicaHolds(nd *memberNode, ready uint32, want ...string) bool {
	return nd.q.raft() != nil && slices.Equal(nd.q.Voters(), want) && nd.q.Stats(context.Background()).Ready == ready
}

// goroutinesBack polls until no more goroutines run than base.
func goroutinesBack(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines still running, want at most %d:\n%s", runtime.NumGoroutine(), base,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMembersGrowAndShrink: a queue of two members takes a third, whose
// new replica receives every message from the leader; a member that
// leads is removed, and so is then a follower: each time the group's
// voters follow, the node that left deletes its replica's data and still
// publishes to the queue as a non-member, and the replicas that stay
// hold every confirmed message. Closing every node leaves no goroutine
// behind.
func TestMembersGrowAndShrink(t *testing.T) {
	base := runtime.NumGoroutine()
	c := startMemberCluster(t, 3, "n1", "n2")
	n3 := c.node("n3")
	if n3.q.raft() != nil {
		t.Fatal("a node that is not a member runs a replica")
	}
	c.leader("n1", "n2")
	c.publish(n3, 20)

	c.setMembers("n1", "n2", "n3")
	waitUntil(t, "n3's new replica holds the 20 messages, a voter of three", func() bool {
		return replicaHolds(n3, 20, "n1", "n2", "n3")
	})

	old := c.leader("n1", "n2", "n3")
	var rest []string
	for _, nd := range c.nodes {
		if nd != old {
			rest = append(rest, nd.name)
		}
	}
	c.setMembers(rest...)
	waitUntil(t, "the leader leaves, and its data goes", func() bool {
		return old.q.raft() == nil && !old.typ.keptReplica(old.q.group)
	})
	c.leader(rest...)
	c.publish(old, 5)
	for _, n := range rest {
		waitUntil(t, n+" holds 25 messages in a group of the two left", func() bool {
			return replicaHolds(c.node(n), 25, rest...)
		})
	}

	last, gone := c.node(rest[0]), c.node(rest[1])
	c.setMembers(last.name)
	waitUntil(t, gone.name+" leaves, "+last.name+" leads alone", func() bool {
		return gone.q.raft() == nil && !gone.typ.keptReplica(gone.q.group) && replicaHolds(last, 25, last.name)
	})
	c.leader(last.name)
	c.publish(gone, 1)
	c.publish(old, 1)
	if got := last.q.Stats(context.Background()).Ready; got != 27 {
		t.Fatalf("the last member holds %d messages, want 27", got)
	}

	for _, nd := range c.nodes {
		c.close(nd)
	}
	goroutinesBack(t, base)
}

// TestMemberRemovedWhileDown: a member removed while its node was down
// finds, once it starts again, that the group left it out; it starts its
// kept replica only to leave, deleting its data, and meanwhile serves
// the queue as a non-member, through the leader.
func TestMemberRemovedWhileDown(t *testing.T) {
	saved := leaveGrace
	leaveGrace = time.Second
	t.Cleanup(func() { leaveGrace = saved })
	c := startMemberCluster(t, 3, "n1", "n2", "n3")
	c.leader("n1", "n2", "n3")
	c.publish(c.node("n2"), 10)
	n1 := c.node("n1")
	waitUntil(t, "n1 holds the messages", func() bool { return replicaHolds(n1, 10, "n1", "n2", "n3") })
	c.close(n1)
	for _, n := range []string{"n2", "n3"} {
		c.node(n).typ.NodeDown("n1")
	}
	c.setMembers("n2", "n3")
	for _, n := range []string{"n2", "n3"} {
		waitUntil(t, n+" counts n2 and n3 only", func() bool { return replicaHolds(c.node(n), 10, "n2", "n3") })
	}

	c.open(n1)
	c.declare(n1, []string{"n2", "n3"})
	if n1.q.raft() == nil {
		t.Fatal("the former member did not start its kept replica to leave the group")
	}
	c.publish(n1, 3)
	waitUntil(t, "n1's replica leaves and its data goes", func() bool {
		return n1.q.raft() == nil && !n1.typ.keptReplica(n1.q.group)
	})
	if _, err := os.Stat(n1.typ.snapDir(n1.q.group)); !os.IsNotExist(err) {
		t.Fatalf("the former member's snapshots are still there: %v", err)
	}
	c.publish(n1, 2)
	waitUntil(t, "the members hold all 15 messages", func() bool {
		return replicaHolds(c.node("n2"), 15, "n2", "n3") && replicaHolds(c.node("n3"), 15, "n2", "n3")
	})
}

// TestMembersReplaceTheOnlyOne: a queue whose only member is replaced by
// another node moves there whole: the leader adds the new member before
// it removes itself, so the group never loses its state.
func TestMembersReplaceTheOnlyOne(t *testing.T) {
	c := startMemberCluster(t, 2, "n1")
	n1, n2 := c.node("n1"), c.node("n2")
	c.leader("n1")
	c.publish(n2, 12)
	c.setMembers("n2")
	waitUntil(t, "n2 alone holds the 12 messages, n1 holds nothing", func() bool {
		return replicaHolds(n2, 12, "n2") && n1.q.raft() == nil && !n1.typ.keptReplica(n1.q.group)
	})
	c.leader("n2")
	c.publish(n1, 1)
	if got := n2.q.Stats(context.Background()).Ready; got != 13 {
		t.Fatalf("n2 holds %d messages, want 13", got)
	}
}

// TestMembersChangeWhilePublishing: a node publishes without pause while
// the members change under it, each change removing the member that
// leads; every publish confirmed is in the queue at the end, in memory
// or paged, once the last leader applied what its predecessors
// committed (a publish refused by a node that is not the leader is sent
// again in order, and one that overtook it anyway is refused as out of
// sequence and sent again after it, so none is judged a duplicate of a
// later one).
func TestMembersChangeWhilePublishing(t *testing.T) {
	c := startMemberCluster(t, 4, "n1", "n2", "n3")
	pub := c.node("n4")
	c.leader("n1", "n2", "n3")
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for range 20 {
				pub.num++
				pub.s.Publish(&queue.Message{Body: []byte(fmt.Sprint("p-", pub.num))},
					queue.Confirm{To: noConfirmer{}, Seq: pub.num, From: &pub.o.pub, Num: pub.num}, nil)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	all := []string{"n1", "n2", "n3", "n4"}
	members := []string{"n1", "n2", "n3"}
	for range 4 {
		old := c.leader(members...)
		next := slices.DeleteFunc(slices.Clone(all), func(n string) bool { return n == old.name })
		c.setMembers(next...)
		waitUntil(t, old.name+" leaves", func() bool { return old.q.raft() == nil })
		members = next
	}
	close(stop)
	<-done
	var confirmed []uint64
	waitUntil(t, "every publish answered", func() bool {
		pub.o.mu.Lock()
		defer pub.o.mu.Unlock()
		confirmed = confirmed[:0]
		answered := 0
		for _, a := range pub.o.acts {
			switch a.Kind {
			case queue.ActionSettled:
				confirmed = append(confirmed, a.Seq)
				answered++
			case queue.ActionRejected:
				answered++
			}
		}
		return answered == int(pub.num)
	})
	leader := c.leader(members...)
	// A leader just elected applies the entries its predecessor
	// committed only once it commits one of its own: the barrier waits
	// for that, as a consumer of the new leader would.
	if err := leader.q.raft().Barrier(10 * time.Second).Error(); err != nil {
		t.Fatalf("barrier on %s: %v", leader.name, err)
	}
	held := heldBodies(leader.q)
	var missing []uint64
	for _, seq := range confirmed {
		if !held[fmt.Sprint("p-", seq)] {
			missing = append(missing, seq)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d publishes were confirmed but are not in the queue (%d confirmed of %d; first %d)",
			len(missing), len(confirmed), pub.num, missing[0])
	}
	if len(confirmed) < int(pub.num)/2 {
		t.Fatalf("only %d of %d publishes confirmed", len(confirmed), pub.num)
	}
}

// heldBodies returns the bodies q's replica holds, in memory and in its
// page log.
func heldBodies(q *Queue) map[string]bool {
	q.fsm.mu.Lock()
	defer q.fsm.mu.Unlock()
	b := q.fsm.bodies
	held := map[string]bool{}
	for _, m := range b.mem {
		held[string(m.Body)] = true
	}
	if pl := b.pl; pl != nil {
		for i, r := range pl.runs {
			end := pl.end
			if i+1 < len(pl.runs) {
				end = pl.runs[i+1].seq
			}
			for seq := r.seq; seq < end; seq++ {
				if m := b.get(r.index + (seq - r.seq)); m != nil {
					held[string(m.Body)] = true
				}
			}
		}
	}
	return held
}

// TestCloseWithoutMajorityIsPrompt: a leader cut off from its group (its
// streams open, no answers) holds a publish it can never commit; closing
// its queue, as its node shuts down, fails the publish (a nack) once the
// leader steps down, within its lease. It used to wait for the append in
// flight to time out (10 s) as well, one queue after another as a node
// stopped: 11.5 s.
func TestCloseWithoutMajorityIsPrompt(t *testing.T) {
	gates := map[string]*gate{}
	c := startWrappedCluster(t, func(node string, n Network) Network {
		gates[node] = &gate{}
		return gateNet{n, gates[node]}
	}, 3, "n1", "n2", "n3")
	l := c.leader("n1", "n2", "n3")
	c.publish(l, 1)
	// The leader is cut off, its streams open, as in a partition.
	gates[l.name].cut.Store(true)
	l.num++
	l.s.Publish(&queue.Message{Body: []byte("never committed")},
		queue.Confirm{To: noConfirmer{}, Seq: l.num, From: &l.o.pub, Num: l.num}, nil)
	waitUntil(t, "the publish handed to Raft", func() bool {
		l.q.prop.mu.Lock()
		defer l.q.prop.mu.Unlock()
		return l.q.prop.inflight == 1
	})
	start := time.Now()
	l.s.Close()
	l.q.Close()
	took := time.Since(start)
	t.Logf("closing the queue took %v", took)
	if most := clusterTiming.lease + 1500*time.Millisecond; took > most {
		t.Fatalf("closing the queue took %v, want at most %v", took, most)
	}
	nacked := false
	l.o.mu.Lock()
	for _, a := range l.o.acts {
		nacked = nacked || (a.Seq == l.num && a.Kind == queue.ActionRejected)
	}
	l.o.mu.Unlock()
	if !nacked {
		t.Fatal("the publish that could not be committed was not nacked")
	}
}
