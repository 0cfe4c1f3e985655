package broker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/warrenmq/warren/cluster"
)

// testNode is a cluster node of an in-process test cluster, with a disk
// probe the test sets.
type testNode struct {
	s    *Server
	name string
	free atomic.Int64 // bytes the disk probe reports
	done bool         // closed by the test
}

const testSecret = "ops-test-secret"

// startTestCluster starts n nodes on loopback that form one
// cluster, and waits until each has a leader and serves "/". The nodes
// close when the test ends. mod changes the i-th node's configuration.
func startTestCluster(t *testing.T, n int, mod ...func(i int, c *Config)) []*testNode {
	t.Helper()
	nodes := make([]*testNode, n)
	var seed string
	for i := range n {
		tn := &testNode{name: fmt.Sprintf("n%d@localhost", i+1)}
		tn.free.Store(1 << 40)
		var log *zap.Logger = zap.NewNop()
		if testing.Verbose() {
			log = zaptest.NewLogger(t).Named(tn.name)
		}
		cc := &ClusterConfig{Listen: "127.0.0.1:0", BootstrapExpect: n, Secret: testSecret, CommitTimeout: 5 * time.Second}
		if seed != "" {
			cc.Join = []string{seed}
		}
		cfg := Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: log, NodeName: tn.name,
			Cluster: cc, DiskFreeLimit: 50_000_000,
			DiskFree: func(string) (uint64, error) { return uint64(tn.free.Load()), nil }}
		for _, m := range mod {
			m(i, &cfg)
		}
		s, err := NewServer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err != nil {
			s.Close()
			t.Fatal(err)
		}
		tn.s = s
		t.Cleanup(func() {
			if !tn.done {
				s.Close()
			}
		})
		if seed == "" {
			seed = s.cluster.port.Addr()
		}
		nodes[i] = tn
	}
	for _, tn := range nodes {
		waitFor(t, 15*time.Second, tn.name+" serves / with a leader", func() bool {
			_, id := tn.s.cluster.raft.LeaderWithID()
			return id != "" && tn.s.vhost("/") != nil
		})
	}
	return nodes
}

// stop closes the node as SIGTERM does.
func (tn *testNode) stop(t *testing.T) {
	t.Helper()
	tn.done = true
	if err := tn.s.Close(); err != nil {
		t.Errorf("close %s: %v", tn.name, err)
	}
}

// admin is an AdminClient for the node.
func (tn *testNode) admin(secret string) AdminClient {
	return AdminClient{Addr: tn.s.cluster.port.Addr(), Secret: secret}
}

// waitFor polls cond until it holds, failing t after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestClusterOperations runs the operations surface on one three-node
// cluster: status, alarms across nodes, a cancel for the consumers of a
// node that shuts down, and forget.
func TestClusterOperations(t *testing.T) {
	nodes := startTestCluster(t, 3)
	t.Run("status", func(t *testing.T) { testStatus(t, nodes) })
	t.Run("alarms", func(t *testing.T) { testAlarmsAcrossNodes(t, nodes) })
	t.Run("shutdown cancels consumers", func(t *testing.T) { testShutdownCancels(t, nodes) })
	t.Run("forget", func(t *testing.T) { testForget(t, nodes) })
}

// testStatus: any node answers with every member alive, the three
// voters, a leader among them and each node's queues; a client without
// the secret is refused.
func testStatus(t *testing.T, nodes []*testNode) {
	ch := openChannel(t, dial(t, nodes[1].s))
	if _, err := ch.QueueDeclare("st-durable", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	var st ClusterStatus
	waitFor(t, 10*time.Second, "node 1 sees the queues of node 2", func() bool {
		// Declared again until it stays: each node proposes NodeDown for
		// itself once the cluster has formed (cluster.go), which removes
		// a transient queue it is home to if declared before that.
		if _, err := ch.QueueDeclare("st-transient", false, false, false, false, nil); err != nil {
			t.Fatal(err)
		}
		var err error
		st, err = nodes[0].admin(testSecret).Status(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		return len(st.Queues) == 2
	})
	if st.Node != nodes[0].name {
		t.Errorf("answered by %q, want %q", st.Node, nodes[0].name)
	}
	var names []string
	for _, m := range st.Members {
		names = append(names, m.Name)
		if m.State != "alive" || !m.Voter || m.ClusterAddr == "" || len(m.Alarms) != 0 {
			t.Errorf("member %+v: want alive, a voter, with an address and no alarm", m)
		}
	}
	want := []string{nodes[0].name, nodes[1].name, nodes[2].name}
	if !slices.Equal(names, want) {
		t.Errorf("members %v, want %v", names, want)
	}
	waitFor(t, 5*time.Second, "AMQP addresses gossiped", func() bool {
		st, _ = nodes[0].admin(testSecret).Status(ctxFor(t, 5*time.Second))
		return st.Members[1].AMQPAddr == nodes[1].s.Addr().String()
	})
	if len(st.Voters) != 3 || !slices.ContainsFunc(st.Voters, func(v ClusterVoter) bool { return v.Node == st.Leader }) {
		t.Errorf("voters %v, leader %q: want three voters, the leader among them", st.Voters, st.Leader)
	}
	wantQ := []ClusterQueue{
		{Node: nodes[1].name, Vhost: "/", Name: "st-durable", Type: "classic", Durable: true},
		{Node: nodes[1].name, Vhost: "/", Name: "st-transient", Type: "classic"},
	}
	if !reflect.DeepEqual(st.Queues, wantQ) {
		t.Errorf("queues %+v, want %+v", st.Queues, wantQ)
	}
	if _, err := nodes[0].admin("wrong").Status(ctxFor(t, 5*time.Second)); !errors.Is(err, cluster.ErrBadSecret) {
		t.Errorf("status with a wrong secret: %v, want ErrBadSecret", err)
	}
	if _, err := nodes[0].admin(testSecret).ask(ctxFor(t, 5*time.Second), adminRequest{Op: "reboot"}); err == nil ||
		!strings.Contains(err.Error(), `unknown operation "reboot"`) {
		t.Errorf("unknown operation: %v", err)
	}
}

// testAlarmsAcrossNodes: a disk alarm on node 3 blocks a publisher on node
// 1 with RabbitMQ's reason, holds its publish, and releases it when the
// alarm clears; status shows whose alarm it is.
func testAlarmsAcrossNodes(t *testing.T, nodes []*testNode) {
	pc := dial(t, nodes[0].s)
	blocked := pc.NotifyBlocked(make(chan amqp.Blocking, 4))
	pch := openChannel(t, pc)
	if _, err := pch.QueueDeclare("alarm-q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := pch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := pch.NotifyPublish(make(chan amqp.Confirmation, 4))
	publish(t, pch, "", "alarm-q", amqp.Publishing{Body: []byte("before")})
	expectConfirm(t, confirms, 1)

	if err := nodes[2].admin(testSecret).SetDiskFreeLimit(ctxFor(t, 5*time.Second), 1<<50); err != nil {
		t.Fatalf("set disk free limit: %v", err)
	}
	if got := nodes[2].s.ownAlarmSet(); got != alarmDisk {
		t.Fatalf("node 3's own alarms %d after the limit rose above its free space, want disk", got)
	}
	expectBlocking(t, blocked, true, "low on disk")
	if own := nodes[0].s.ownAlarmSet(); own != 0 {
		t.Errorf("node 1 raised alarms of its own: %d", own)
	}
	waitFor(t, 5*time.Second, "node 2's status shows node 3's alarm, and only that", func() bool {
		st, err := nodes[1].admin(testSecret).Status(ctxFor(t, 5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st.Members {
			if want := m.Name == nodes[2].name; want != slices.Equal(m.Alarms, []string{"disk"}) {
				return false
			}
		}
		return true
	})
	publish(t, pch, "", "alarm-q", amqp.Publishing{Body: []byte("held")})
	select {
	case c := <-confirms:
		t.Fatalf("publish confirmed under another node's alarm: %+v", c)
	case <-time.After(300 * time.Millisecond):
	}
	if err := nodes[2].admin(testSecret).SetDiskFreeLimit(ctxFor(t, 5*time.Second), 50_000_000); err != nil {
		t.Fatal(err)
	}
	expectBlocking(t, blocked, false, "")
	expectConfirm(t, confirms, 2)

	// A node that leaves takes its alarm with it.
	if err := nodes[2].admin(testSecret).SetDiskFreeLimit(ctxFor(t, 5*time.Second), 1<<50); err != nil {
		t.Fatal(err)
	}
	expectBlocking(t, blocked, true, "low on disk")
	if err := nodes[2].admin(testSecret).SetDiskFreeLimit(ctxFor(t, 5*time.Second), 0); err != nil {
		t.Fatal(err)
	}
	expectBlocking(t, blocked, false, "")
}

func expectConfirm(t *testing.T, confirms <-chan amqp.Confirmation, tag uint64) {
	t.Helper()
	select {
	case c := <-confirms:
		if c.DeliveryTag != tag || !c.Ack {
			t.Fatalf("confirm %+v, want ack of %d", c, tag)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no confirm of %d within 5 s", tag)
	}
}

// testShutdownCancels: when a node shuts down, the consumers on other
// nodes of its queues hear basic.cancel, as RabbitMQ's do; then node 3
// is stopped for good, with a disk alarm raised that goes with it.
func testShutdownCancels(t *testing.T, nodes []*testNode) {
	hch := openChannel(t, dial(t, nodes[2].s))
	if _, err := hch.QueueDeclare("homed-on-3", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "node 1 knows the queue", func() bool { return nodes[0].s.vhost("/").hasQueue("homed-on-3") })
	c := dial(t, nodes[0].s)
	blocked := c.NotifyBlocked(make(chan amqp.Blocking, 4))
	ch := openChannel(t, c)
	cancels := ch.NotifyCancel(make(chan string, 1))
	if _, err := ch.Consume("homed-on-3", "remote-consumer", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "", "homed-on-3", amqp.Publishing{Body: []byte("marks a publisher")})
	if err := nodes[2].admin(testSecret).SetDiskFreeLimit(ctxFor(t, 5*time.Second), 1<<50); err != nil {
		t.Fatal(err)
	}
	expectBlocking(t, blocked, true, "low on disk")
	nodes[2].stop(t)
	select {
	case tag := <-cancels:
		if tag != "remote-consumer" {
			t.Fatalf("basic.cancel for %q", tag)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no basic.cancel within 10 s of the queue's node shutting down")
	}
	expectBlocking(t, blocked, false, "")
}

// testForget: a running node cannot be forgotten; node 3, stopped, is,
// through a node that may not be the leader: it leaves the voters and
// the status, and its classic queues' definitions go.
func testForget(t *testing.T, nodes []*testNode) {
	ctx := ctxFor(t, 30*time.Second)
	for _, via := range nodes[:2] {
		waitFor(t, 15*time.Second, "a leader among the two left", func() bool {
			_, id := via.s.cluster.raft.LeaderWithID()
			return id != "" && id != "n3@localhost"
		})
	}
	_, err := nodes[0].admin(testSecret).Forget(ctx, nodes[1].name)
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("forget of a running node: %v", err)
	}
	if _, err := nodes[0].admin(testSecret).Forget(ctx, "nobody@nowhere"); err == nil ||
		!strings.Contains(err.Error(), "not a member") {
		t.Fatalf("forget of a stranger: %v", err)
	}
	res, err := nodes[1].admin(testSecret).Forget(ctx, nodes[2].name)
	if err != nil {
		t.Fatalf("forget: %v", err)
	}
	if res.Node != nodes[2].name || res.QueuesDeleted != 1 {
		t.Errorf("forget answered %+v, want node 3 and one queue deleted", res)
	}
	for _, tn := range nodes[:2] {
		waitFor(t, 10*time.Second, tn.name+" drops the queue homed on node 3", func() bool {
			return !tn.s.vhost("/").hasQueue("homed-on-3")
		})
		st, err := tn.admin(testSecret).Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Voters) != 2 || len(st.Members) != 2 {
			t.Errorf("%s: voters %v, members %v after forget: want the two left", tn.name, st.Voters, st.Members)
		}
	}
	if _, err := nodes[0].admin(testSecret).Forget(ctx, nodes[2].name); err == nil {
		t.Error("a second forget of the same node succeeded")
	}
	// The two left still commit definitions.
	if _, err := openChannel(t, dial(t, nodes[0].s)).QueueDeclare("after-forget", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
}

// hasQueue reports whether the vhost routes to a queue of that name.
func (v *vhost) hasQueue(name string) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.queues[name] != nil
}

// TestAdminBeforeJoin: a request that reaches the admin service before
// the node has joined its cluster (the service listens first) is refused
// with an error the command prints, not a crash on the missing
// membership.
func TestAdminBeforeJoin(t *testing.T) {
	n := &clusterNode{}
	for _, op := range []string{adminStatus, adminForget, adminQuorumGrow} {
		reply := n.admin(context.Background(), adminRequest{Op: op, Node: "n2@h"})
		if !strings.Contains(reply.Error, "has not joined its cluster yet") || reply.Status != nil {
			t.Errorf("%s before join: %+v", op, reply)
		}
	}
}
