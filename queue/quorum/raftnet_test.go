package quorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/cluster"
)

// These tests run Raft groups over the shared transport between nodes in
// this process, each node a cluster.Transport on loopback TCP.

// raftNode is one node: its cluster port and its Raft transport.
type raftNode struct {
	tr  *cluster.Transport
	net Network
	rn  *raftNet
}

// newRaftNodes starts n nodes on loopback; the test closes their ports.
func newRaftNodes(t *testing.T, n int) []*raftNode {
	t.Helper()
	nodes := make([]*raftNode, n)
	for i := range nodes {
		tr, err := cluster.Listen(cluster.TransportConfig{Addr: "127.0.0.1:0", Secret: "raftnet-test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		nodes[i] = &raftNode{tr: tr, net: testNet{Transport: tr, book: &addrBook{}}, rn: &raftNet{timing: testTiming}}
	}
	return nodes
}

func (n *raftNode) addr() raft.ServerAddress { return raft.ServerAddress(n.tr.Addr()) }

// open opens group on the node.
func (n *raftNode) open(t *testing.T, group string) *groupTrans {
	t.Helper()
	g, err := n.rn.open(n.net, zap.NewNop(), group)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// streams counts the node's live streams: dialled (to peers) and
// accepted (from them).
func (n *raftNode) streams() (dialled, accepted int) {
	n.rn.mu.Lock()
	run := n.rn.run
	n.rn.mu.Unlock()
	if run == nil {
		return 0, 0
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	for c := range run.conns {
		if c.peer != nil {
			dialled++
		} else {
			accepted++
		}
	}
	return dialled, accepted
}

// testFSM records the data of the entries it applies; a snapshot is
// that list, padded so that installing it takes many network writes.
type testFSM struct {
	pad      int
	mu       sync.Mutex
	applied  []string
	restores int
}

func (f *testFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	f.applied = append(f.applied, string(l.Data))
	f.mu.Unlock()
	return nil
}

func (f *testFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &testSnapshot{applied: append([]string(nil), f.applied...), pad: f.pad}, nil
}

func (f *testFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return errors.New("bad snapshot")
	}
	list := strings.Split(string(b[k:k+int(n)]), "\n")
	if n == 0 {
		list = nil
	}
	f.mu.Lock()
	f.applied = list
	f.restores++
	f.mu.Unlock()
	return nil
}

func (f *testFSM) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.applied...)
}

type testSnapshot struct {
	applied []string
	pad     int
}

func (s *testSnapshot) Persist(sink raft.SnapshotSink) error {
	list := strings.Join(s.applied, "\n")
	b := binary.AppendUvarint(nil, uint64(len(list)))
	b = append(b, list...)
	b = append(b, bytes.Repeat([]byte{'p'}, s.pad)...)
	if _, err := sink.Write(b); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *testSnapshot) Release() {}

// replica is one node's replica of a test group.
type replica struct {
	r     *raft.Raft
	fsm   *testFSM
	trans *groupTrans
}

// stop shuts the replica down and closes its transport.
func (r *replica) stop() {
	r.r.Shutdown().Error()
	r.trans.Close()
}

// timing is a group's Raft timing in a test.
type timing struct{ heartbeat, commit time.Duration }

// testTiming is the timing of the groups and beats of these tests: the
// quorum queues' (type.go) scaled down, so that a test waits through
// several steady timeouts in seconds.
var testTiming = raftTiming{
	steady:   time.Second,
	hurry:    600 * time.Millisecond,
	lease:    600 * time.Millisecond,
	commit:   500 * time.Millisecond,
	beat:     100 * time.Millisecond,
	silence:  350 * time.Millisecond,
	inject:   300 * time.Millisecond,
	unlisted: 400 * time.Millisecond,
	linger:   time.Millisecond,
}

// quick is testTiming with a short commit timeout, so that followers
// apply promptly.
var quick = timing{testTiming.steady, 10 * time.Millisecond}

// startReplica starts node i's replica of group, whose members are
// nodes; boot bootstraps it with all of them.
func startReplica(t *testing.T, nodes []*raftNode, i int, group string, tm timing, boot bool, fsm *testFSM, tune func(*raft.Config)) *replica {
	t.Helper()
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(fmt.Sprintf("n%d", i))
	c.Logger = hclog.NewNullLogger()
	if os.Getenv("WARREN_RAFT_LOG") != "" {
		c.Logger = hclog.New(&hclog.LoggerOptions{Name: string(c.LocalID) + "/" + group, Level: hclog.Info})
	}
	tt := tm.raft()
	tt.configure(c)
	if tune != nil {
		tune(c)
	}
	trans := nodes[i].open(t, group)
	store := raft.NewInmemStore()
	snaps := raft.NewInmemSnapshotStore()
	if boot {
		var servers []raft.Server
		for k, n := range nodes {
			servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", k)), Address: n.addr()})
		}
		if err := raft.BootstrapCluster(c, store, store, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
	}
	if fsm == nil {
		fsm = &testFSM{}
	}
	r, err := raft.NewRaft(c, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	trans.setRetime(c.LocalID, tt.retimer(r, zap.NewNop()), firstVoter(r, c.LocalID))
	return &replica{r: r, fsm: fsm, trans: trans}
}

// raft returns testTiming with tm's steady heartbeat timeout and commit
// timeout, its lease long enough for the leader's heartbeats (every
// steady/5 at most).
func (tm timing) raft() raftTiming {
	tt := testTiming
	tt.steady, tt.commit = tm.heartbeat, tm.commit
	tt.lease = max(tt.lease, tm.heartbeat/3)
	tt.hurry = max(tt.hurry, tt.lease)
	return tt
}

// raftEventually polls cond until it holds, failing the test after d.
func raftEventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// leaderOf waits for one of replicas to lead and returns its index.
func leaderOf(t *testing.T, replicas []*replica) int {
	t.Helper()
	return leaderWithin(t, replicas, 15*time.Second)
}

// leaderWithin waits up to d for one of replicas to lead and returns its
// index.
func leaderWithin(t *testing.T, replicas []*replica, d time.Duration) int {
	t.Helper()
	leader := -1
	raftEventually(t, d, "a leader", func() bool {
		for i, r := range replicas {
			if r != nil && r.r.State() == raft.Leader {
				leader = i
				return true
			}
		}
		return false
	})
	return leader
}

// apply commits data through whichever replica leads, retrying while
// leadership moves.
func apply(t *testing.T, replicas []*replica, data string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := replicas[leaderOf(t, replicas)].r.Apply([]byte(data), 5*time.Second).Error()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("apply %q: %v", data, err)
		}
	}
}

// waitGoroutines closes the nodes' ports and polls until no more
// goroutines run than base.
func waitGoroutines(t *testing.T, nodes []*raftNode, base int) {
	t.Helper()
	for _, n := range nodes {
		n.tr.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasEntries reports whether r applied exactly want.
func hasEntries(r *replica, want []string) bool {
	got := r.fsm.entries()
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

// TestRaftNetReplicatesAndFailsOver: a group of three replicates over the
// shared transport; when its leader's node goes away (its port closed,
// so every stream to it breaks), the other two elect a leader and go on,
// and every committed entry is on both.
func TestRaftNetReplicatesAndFailsOver(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 3)
	reps := make([]*replica, 3)
	for i := range reps {
		reps[i] = startReplica(t, nodes, i, "5:/q", quick, true, nil, nil)
	}
	var want []string
	for i := range 10 {
		want = append(want, fmt.Sprintf("m%d", i))
		apply(t, reps, want[i])
	}
	for i, r := range reps {
		raftEventually(t, 10*time.Second, fmt.Sprintf("replica %d applied 10 entries", i), func() bool { return hasEntries(r, want) })
	}

	old := leaderOf(t, reps)
	lost := time.Now()
	reps[old].stop()
	nodes[old].tr.Close()
	reps[old] = nil
	next := leaderOf(t, reps)
	t.Logf("new leader %d elected %v after leader %d was lost", next, time.Since(lost).Round(time.Millisecond), old)

	for i := 10; i < 20; i++ {
		want = append(want, fmt.Sprintf("m%d", i))
		apply(t, reps, want[i])
	}
	for i, r := range reps {
		if r == nil {
			continue
		}
		raftEventually(t, 10*time.Second, fmt.Sprintf("replica %d applied 20 entries", i), func() bool { return hasEntries(r, want) })
	}
	for _, r := range reps {
		if r != nil {
			r.stop()
		}
	}
	waitGoroutines(t, nodes, base)
}

// TestRaftNetInstallSnapshot: a replica that starts after the leader
// compacted its log past what the replica has gets the leader's snapshot
// streamed (several MiB, far beyond one stream window) and restores it.
func TestRaftNetInstallSnapshot(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 3)
	compact := func(c *raft.Config) {
		c.TrailingLogs = 2
		c.SnapshotThreshold = 1 << 40
		c.SnapshotInterval = time.Hour
	}
	reps := make([]*replica, 3)
	for i := range 2 {
		reps[i] = startReplica(t, nodes, i, "5:/q", quick, true, &testFSM{pad: 3 << 20}, compact)
	}
	var want []string
	for i := range 20 {
		want = append(want, fmt.Sprintf("m%d", i))
		apply(t, reps, want[i])
	}
	leader := reps[leaderOf(t, reps)]
	if err := leader.r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "after the snapshot")
	apply(t, reps, want[20])

	late := &testFSM{pad: 3 << 20}
	reps[2] = startReplica(t, nodes, 2, "5:/q", quick, false, late, compact)
	raftEventually(t, 20*time.Second, "the late replica restored the snapshot and applied the rest", func() bool {
		return hasEntries(reps[2], want)
	})
	late.mu.Lock()
	restores := late.restores
	late.mu.Unlock()
	if restores == 0 {
		t.Fatal("the late replica caught up without installing a snapshot")
	}
	for _, r := range reps {
		r.stop()
	}
	waitGoroutines(t, nodes, base)
}

// TestRaftNetManyGroupsShareStreams: 200 groups of three elect, commit
// and replicate, and between any two nodes all of them use one stream
// each way.
func TestRaftNetManyGroupsShareStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("200 groups")
	}
	base := runtime.NumGoroutine()
	const groups = 200
	nodes := newRaftNodes(t, 3)
	slow := timing{heartbeat: time.Second, commit: 500 * time.Millisecond}
	reps := make([][]*replica, groups)
	for g := range reps {
		reps[g] = make([]*replica, 3)
		for i := range 3 {
			reps[g][i] = startReplica(t, nodes, i, fmt.Sprintf("group-%d", g), slow, true, nil, nil)
		}
	}
	var wg sync.WaitGroup
	for g := range reps {
		wg.Go(func() { apply(t, reps[g], fmt.Sprintf("entry of %d", g)) })
	}
	wg.Wait()
	for g := range reps {
		for i, r := range reps[g] {
			raftEventually(t, 20*time.Second, fmt.Sprintf("group %d replica %d applied", g, i), func() bool {
				return hasEntries(r, []string{fmt.Sprintf("entry of %d", g)})
			})
		}
	}
	for i, n := range nodes {
		if d, a := n.streams(); d != 2 || a != 2 {
			t.Errorf("node %d has %d dialled and %d accepted streams, want 2 and 2", i, d, a)
		}
	}
	var stop sync.WaitGroup
	for g := range reps {
		for _, r := range reps[g] {
			stop.Go(r.stop)
		}
	}
	stop.Wait()
	for i, n := range nodes {
		if d, a := n.streams(); d != 0 || a != 0 {
			t.Errorf("node %d still has %d dialled and %d accepted streams after its groups closed", i, d, a)
		}
	}
	waitGoroutines(t, nodes, base)
}

// answerer consumes g's RPCs on a goroutine of its own, answering every
// AppendEntries with Success and LastLog set to its PrevLogEntry, until
// the returned function stops it.
func answerer(t *testing.T, g *groupTrans) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case rpc := <-g.Consumer():
				a, ok := rpc.Command.(*raft.AppendEntriesRequest)
				if !ok {
					// A TimeoutNow when the group's leader seems gone.
					rpc.Respond(nil, errors.New("not a replica"))
					continue
				}
				rpc.Respond(&raft.AppendEntriesResponse{Term: a.Term, LastLog: a.PrevLogEntry, Success: true}, nil)
			case <-done:
				return
			}
		}
	})
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// send sends an AppendEntries of group g with PrevLogEntry n to node to.
func send(g *groupTrans, to *raftNode, n uint64) (*raft.AppendEntriesResponse, error) {
	var resp raft.AppendEntriesResponse
	err := g.AppendEntries("peer", to.addr(), &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 1, PrevLogEntry: n, PrevLogTerm: 1}, &resp)
	return &resp, err
}

// TestRaftNetSlowGroupDoesNotStallOthers: a replica that does not take
// its RPCs holds up only its own group: another group's RPCs on the same
// stream are answered, requests beyond the slow group's limit are refused
// at once, and closing the slow group answers what it held.
func TestRaftNetSlowGroupDoesNotStallOthers(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	slowB, fastB := b.open(t, "slow"), b.open(t, "fast")
	stopAnswering := answerer(t, fastB)
	slowA, fastA := a.open(t, "slow"), a.open(t, "fast")

	held := make(chan error, maxGroupInflight)
	for range maxGroupInflight {
		go func() {
			_, err := send(slowA, b, 1)
			held <- err
		}()
	}
	raftEventually(t, 5*time.Second, "the slow group holds its limit of requests", func() bool {
		slowB.mu.Lock()
		defer slowB.mu.Unlock()
		return slowB.inflight == maxGroupInflight
	})
	start := time.Now()
	resp, err := send(fastA, b, 42)
	if err != nil || !resp.Success || resp.LastLog != 42 {
		t.Fatalf("fast group's RPC: %+v, %v", resp, err)
	}
	if _, err := send(slowA, b, 2); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("a request beyond the slow group's limit: error %v, want busy", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("fast group and refusal took %v", d)
	}

	slowB.Close()
	for range maxGroupInflight {
		select {
		case err := <-held:
			if err == nil || !strings.Contains(err.Error(), raft.ErrTransportShutdown.Error()) {
				t.Fatalf("held request: error %v, want %v", err, raft.ErrTransportShutdown)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("held requests not answered when their group closed")
		}
	}
	if _, err := send(slowA, b, 3); err == nil || !strings.Contains(err.Error(), "no replica of group slow") {
		t.Fatalf("request to a closed group: error %v", err)
	}
	stopAnswering()
	for _, g := range []*groupTrans{slowA, fastA, fastB} {
		g.Close()
	}
	waitGoroutines(t, nodes, base)
}

// TestRaftNetHeartbeatFastPath: heartbeats go to the handler raft set,
// not through the consumer, so a replica busy with an append still hears
// its leader.
func TestRaftNetHeartbeatFastPath(t *testing.T) {
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	gb := b.open(t, "g")
	defer gb.Close()
	gb.SetHeartbeatHandler(func(rpc raft.RPC) {
		rpc.Respond(&raft.AppendEntriesResponse{Term: 9, Success: true}, nil)
	})
	ga := a.open(t, "g")
	defer ga.Close()
	var resp raft.AppendEntriesResponse
	hb := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 9}
	if err := ga.AppendEntries("b", b.addr(), hb, &resp); err != nil || resp.Term != 9 || !resp.Success {
		t.Fatalf("heartbeat: %+v, %v", resp, err)
	}
	select {
	case rpc := <-gb.Consumer():
		t.Fatalf("heartbeat reached the consumer: %+v", rpc.Command)
	default:
	}
}

// TestRaftNetTimeoutAndBrokenStream: an RPC without an answer fails after
// the timeout; a stream that breaks fails what is pending on it at once,
// and the next RPC dials a new one.
func TestRaftNetTimeoutAndBrokenStream(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	a.rn.timeout = 300 * time.Millisecond
	mute := b.open(t, "mute")
	answering := b.open(t, "answering")
	stopAnswering := answerer(t, answering)
	ga, gAnswering := a.open(t, "mute"), a.open(t, "answering")

	start := time.Now()
	_, err := send(ga, b, 1)
	if took := time.Since(start); !errors.Is(err, errTimeout) || took < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("unanswered RPC: error %v after %v, want a timeout after 300ms", err, took)
	}

	a.rn.mu.Lock()
	a.rn.run.timeout = time.Minute
	a.rn.mu.Unlock()
	pending := make(chan error, 1)
	go func() {
		_, err := send(ga, b, 2)
		pending <- err
	}()
	raftEventually(t, 5*time.Second, "the request reached the mute group", func() bool {
		mute.mu.Lock()
		defer mute.mu.Unlock()
		return mute.inflight == 2 // the timed-out one is still held too
	})
	first := a.rn.run.peer(b.tr.Addr())
	first.mu.Lock()
	stream := first.conn
	first.mu.Unlock()
	start = time.Now()
	for _, c := range conns(b) {
		c.fail(errStreamBroken) // as if the peer's connection dropped
	}
	select {
	case err := <-pending:
		if !errors.Is(err, errStreamBroken) {
			t.Fatalf("pending RPC on a broken stream: error %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("pending RPC failed %v after the stream broke", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending RPC did not fail when its stream broke")
	}
	resp, err := send(gAnswering, b, 7)
	if err != nil || resp.LastLog != 7 {
		t.Fatalf("RPC after the stream broke: %+v, %v", resp, err)
	}
	first.mu.Lock()
	if first.conn == stream {
		t.Error("the RPC after the break used the broken stream")
	}
	first.mu.Unlock()
	stopAnswering()
	for _, g := range []*groupTrans{ga, gAnswering, mute, answering} {
		g.Close()
	}
	waitGoroutines(t, nodes, base)
}

// conns returns node n's live streams.
func conns(n *raftNode) []*raftConn {
	n.rn.mu.Lock()
	run := n.rn.run
	n.rn.mu.Unlock()
	run.mu.Lock()
	defer run.mu.Unlock()
	var out []*raftConn
	for c := range run.conns {
		out = append(out, c)
	}
	return out
}

// TestRaftNetBadFrames: a stream that sends what does not decode is
// dropped, without allocating what a bogus length claims, and the node
// goes on serving its groups.
func TestRaftNetBadFrames(t *testing.T) {
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	gb := b.open(t, "g")
	defer gb.Close()
	answerer(t, gb)
	ga := a.open(t, "g")
	defer ga.Close()

	frames := []struct {
		name string
		b    []byte
	}{
		{"a 2 GiB length", []byte{0x7f, 0xff, 0xff, 0xff, 1}},
		{"an answer where requests go", []byte{0, 0, 0, 3, kindResponse, 1, respOK}},
		{"a request that does not decode", []byte{0, 0, 0, 5, kindAppendEntries, 1, 1, 'g', 0xff}},
		{"an unknown kind", []byte{0, 0, 0, 4, 77, 1, 1, 'g'}},
		{"a beat whose first group id is 2", []byte{0, 0, 0, 13, kindBeat, 1, 1, 'a', 1, 2, 1, 'g', 1, 3, 0, 0, 0}},
		{"a beat listing more groups than it has bytes", []byte{0, 0, 0, 6, kindBeat, 1, 1, 'a', 0, 0x7f}},
		{"a beat's acknowledgement where beats go", []byte{0, 0, 0, 3, kindBeatAck, 1, 0}},
	}
	for _, f := range frames {
		c, err := a.tr.Dial(t.Context(), b.tr.Addr(), raftService)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(f.b); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var timeout net.Error
		if n, err := c.Read(make([]byte, 1)); err == nil || (errors.As(err, &timeout) && timeout.Timeout()) || n != 0 {
			t.Errorf("%s: read %d bytes, error %v; want the stream closed", f.name, n, err)
		}
		c.Close()
	}
	if resp, err := send(ga, b, 5); err != nil || resp.LastLog != 5 {
		t.Fatalf("RPC after the bad streams: %+v, %v", resp, err)
	}
}

// TestRaftNetSilentStreamDoesNotHoldClose: a stream a peer opened and
// sent nothing on does not keep the node's last group from closing, nor
// a goroutine from ending.
func TestRaftNetSilentStreamDoesNotHoldClose(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	g := b.open(t, "g")
	c, err := a.tr.Dial(t.Context(), b.tr.Addr(), raftService)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raftEventually(t, 5*time.Second, "the silent stream is being served", func() bool {
		return runtime.NumGoroutine() > base
	})
	closed := make(chan struct{})
	go func() {
		g.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("closing the last group waited for a silent stream")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the silent stream is still open after the node's last group closed")
	}
	c.Close()
	waitGoroutines(t, nodes, base)
}

// TestRaftNetPressingFramesDoNotLinger: right after a write on a stream,
// an append without entries (a heartbeat, a commit index repeat, of
// which idle groups send many) waits for the stream's linger so that it
// goes out with others, but an append with entries, which a publisher's
// confirm waits for, and its answer go out at once.
func TestRaftNetPressingFramesDoNotLinger(t *testing.T) {
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	for _, n := range nodes {
		n.rn.timing.linger = time.Minute
	}
	gb := b.open(t, "g")
	defer gb.Close()
	answerer(t, gb)
	ga := a.open(t, "g")
	defer ga.Close()

	if _, err := send(ga, b, 1); err != nil { // the first write lingers for nothing
		t.Fatal(err)
	}
	entries := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 1, PrevLogEntry: 2, PrevLogTerm: 1,
		Entries: []*raft.Log{{Index: 3, Term: 1, Type: raft.LogCommand, Data: []byte("m")}}}
	start := time.Now()
	var resp raft.AppendEntriesResponse
	if err := ga.AppendEntries("b", b.addr(), entries, &resp); err != nil || resp.LastLog != 2 {
		t.Fatalf("append with entries: %+v, %v", resp, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("an append with entries took %v: it lingered", took)
	}

	lingering := make(chan error, 1)
	go func() {
		_, err := send(ga, b, 4)
		lingering <- err
	}()
	select {
	case err := <-lingering:
		t.Fatalf("an empty append right after a write did not linger (error %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	// A pressing frame takes what lingers with it (its answer too may
	// linger on b, until b answers a pressing one after it).
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ga.AppendEntries("b", b.addr(), entries, &resp); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-lingering:
			if err != nil {
				t.Fatal(err)
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the lingering append did not go out with pressing ones")
		}
	}
}
