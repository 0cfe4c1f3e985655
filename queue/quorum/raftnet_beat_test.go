package quorum

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// gate cuts a node off the others: while cut, what it writes is dropped
// and what it reads is discarded, the streams staying open, as in a
// network partition. It counts the bytes the node writes.
type gate struct {
	cut     atomic.Bool
	written atomic.Int64
	dials   atomic.Int64
}

// gateNet is a node's Network whose streams pass its gate.
type gateNet struct {
	Network
	g *gate
}

func (n gateNet) Dial(ctx context.Context, addr, service string) (net.Conn, error) {
	c, err := n.Network.Dial(ctx, addr, service)
	if err != nil {
		return nil, err
	}
	n.g.dials.Add(1)
	return gateConn{c, n.g}, nil
}

func (n gateNet) Listen(service string) (net.Listener, error) {
	l, err := n.Network.Listen(service)
	if err != nil {
		return nil, err
	}
	return gateListener{l, n.g}, nil
}

type gateListener struct {
	net.Listener
	g *gate
}

func (l gateListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return gateConn{c, l.g}, nil
}

type gateConn struct {
	net.Conn
	g *gate
}

func (c gateConn) Write(b []byte) (int, error) {
	if c.g.cut.Load() {
		return len(b), nil
	}
	c.g.written.Add(int64(len(b)))
	return c.Conn.Write(b)
}

func (c gateConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b)
		if err != nil || !c.g.cut.Load() {
			return n, err
		}
	}
}

// newGatedNodes starts n nodes on loopback, each behind a gate.
func newGatedNodes(t *testing.T, n int) ([]*raftNode, []*gate) {
	nodes := newRaftNodes(t, n)
	gates := make([]*gate, n)
	for i, nd := range nodes {
		gates[i] = &gate{}
		nd.net = gateNet{nd.net, gates[i]}
		// A request the cut swallowed fails after this, not after
		// raftRPCTimeout, so that the groups stop promptly.
		nd.rn.timeout = 2 * time.Second
	}
	return nodes, gates
}

// written is how many bytes the gates let through so far, and how many
// streams they dialled.
func written(gates []*gate) (bytes, dials int64) {
	for _, g := range gates {
		bytes += g.written.Load()
		dials += g.dials.Load()
	}
	return bytes, dials
}

// TestBeatsAnswerHeartbeatsFromKeptAnswers: once a follower accepted a
// leader's heartbeat at a term and its node acknowledges beats, the
// leader's next heartbeats are answered on its own node, the follower
// hearing of them through beats at most every inject; a request with
// entries still reaches the follower; and when the follower moves to a
// higher term, the leader's heartbeats reach it again and get its
// refusal.
func TestBeatsAnswerHeartbeatsFromKeptAnswers(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := newRaftNodes(t, 2)
	a, b := nodes[0], nodes[1]
	gb := b.open(t, "g")
	var mu sync.Mutex
	term, handled := uint64(9), 0
	gb.SetHeartbeatHandler(func(rpc raft.RPC) {
		mu.Lock()
		defer mu.Unlock()
		handled++
		hb := rpc.Command.(*raft.AppendEntriesRequest)
		rpc.Respond(&raft.AppendEntriesResponse{Term: term, Success: hb.Term >= term}, nil)
	})
	stop := answerer(t, gb)
	ga := a.open(t, "g")
	// Another group's empty append, whose answer is kept too, comes
	// first: the groups are bound to ids in the order beats name them.
	hb, ha := b.open(t, "h"), a.open(t, "h")
	stopH := answerer(t, hb)
	if resp, err := send(ha, b, 3); err != nil || !resp.Success {
		t.Fatalf("append of h: %+v, %v", resp, err)
	}
	heartbeat := func() raft.AppendEntriesResponse {
		t.Helper()
		var resp raft.AppendEntriesResponse
		hb := &raft.AppendEntriesRequest{RPCHeader: testHeader, Term: 9}
		if err := ga.AppendEntries("b", b.addr(), hb, &resp); err != nil {
			t.Fatalf("heartbeat: %v", err)
		}
		return resp
	}
	calls := func() int {
		mu.Lock()
		defer mu.Unlock()
		return handled
	}

	if r := heartbeat(); !r.Success || r.Term != 9 || calls() != 1 {
		t.Fatalf("first heartbeat: %+v, follower handled %d", r, calls())
	}
	stream := a.rn.run.peer(string(b.addr())).live()
	// Kept answers count once a beat sent after the first heartbeat is
	// acknowledged.
	raftEventually(t, 5*time.Second, "a beat acknowledged", func() bool {
		c := a.rn.run.peer(string(b.addr())).live()
		c.beatMu.Lock()
		defer c.beatMu.Unlock()
		return !c.beatOut.alive.IsZero()
	})
	start, before := time.Now(), calls()
	for range 60 {
		if r := heartbeat(); !r.Success || r.Term != 9 {
			t.Fatalf("heartbeat answered %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	// One heartbeat handed over per inject at most, plus one for the
	// last beat.
	if n, most := calls()-before, int(took/testTiming.inject)+2; n == 0 || n > most {
		t.Fatalf("the follower handled %d heartbeats of 60 in %v, want 1 to %d", n, took, most)
	}

	if resp, err := send(ga, b, 7); err != nil || resp.LastLog != 7 {
		t.Fatalf("append after kept heartbeats: %+v, %v", resp, err)
	}

	mu.Lock()
	term = 10
	mu.Unlock()
	raftEventually(t, 5*time.Second, "the follower's higher term reaches the leader", func() bool {
		r := heartbeat()
		return !r.Success && r.Term == 10
	})
	if now := a.rn.run.peer(string(b.addr())).live(); now != stream {
		t.Error("the stream to the follower's node was replaced: it broke")
	}
	stop()
	stopH()
	ga.Close()
	gb.Close()
	ha.Close()
	hb.Close()
	waitGoroutines(t, nodes, base)
}

// groupSet is groups of three replicas, one on each node.
type groupSet [][]*replica

// startGroups starts n groups of three on nodes and commits an entry in
// each.
func startGroups(t *testing.T, nodes []*raftNode, n int, tm timing) groupSet {
	gs := make(groupSet, n)
	for k := range gs {
		gs[k] = make([]*replica, len(nodes))
		for i := range nodes {
			gs[k][i] = startReplica(t, nodes, i, fmt.Sprintf("group-%d", k), tm, true, nil, nil)
		}
	}
	var wg sync.WaitGroup
	for k := range gs {
		wg.Go(func() { apply(t, gs[k], fmt.Sprintf("entry of %d", k)) })
	}
	wg.Wait()
	return gs
}

// leaders returns each group's leader and its term, -1 where none leads.
func (gs groupSet) leaders() (who []int, terms []uint64) {
	for _, reps := range gs {
		l, term := -1, uint64(0)
		for i, r := range reps {
			if r != nil && r.r.State() == raft.Leader {
				l, term = i, r.r.CurrentTerm()
			}
		}
		who, terms = append(who, l), append(terms, term)
	}
	return who, terms
}

// settle waits until every group has a leader, every replica runs
// with its steady timeouts and every node's peers acknowledge its beats.
func (gs groupSet) settle(t *testing.T, nodes []*raftNode) {
	t.Helper()
	raftEventually(t, 10*time.Second, "leaders, steady timeouts and beats acknowledged", func() bool {
		who, _ := gs.leaders()
		for k, reps := range gs {
			if who[k] < 0 {
				return false
			}
			for _, r := range reps {
				if r.r.ReloadableConfig().HeartbeatTimeout != testTiming.steady {
					return false
				}
			}
		}
		for _, n := range nodes {
			n.rn.mu.Lock()
			run := n.rn.run
			n.rn.mu.Unlock()
			for _, c := range run.liveConns(nil) {
				c.beatMu.Lock()
				alive := c.beatOut.alive
				c.beatMu.Unlock()
				if c.peer != nil && time.Since(alive) > testTiming.silence {
					return false
				}
			}
		}
		return true
	})
}

func (gs groupSet) stop() {
	for _, reps := range gs {
		for _, r := range reps {
			if r != nil {
				r.stop()
			}
		}
	}
}

// TestBeatsKeepIdleGroups: idle groups keep their leaders for several
// steady heartbeat timeouts on beats alone, their followers in contact,
// while the nodes write a small part of what the groups' own heartbeats
// would take.
func TestBeatsKeepIdleGroups(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes, gates := newGatedNodes(t, 3)
	const groups = 40
	gs := startGroups(t, nodes, groups, timing{testTiming.steady, testTiming.commit})
	gs.settle(t, nodes)
	who, terms := gs.leaders()
	for k, l := range who {
		if l < 0 {
			t.Fatalf("group %d has no leader", k)
		}
	}
	idle := 3 * testTiming.steady
	from, dialled := written(gates)
	time.Sleep(idle)
	sent, redialled := written(gates)
	sent -= from
	if redialled != dialled {
		t.Errorf("%d streams dialled while idle: streams broke", redialled-dialled)
	}

	who2, terms2 := gs.leaders()
	for k := range who {
		if who2[k] != who[k] || terms2[k] != terms[k] {
			t.Errorf("group %d: leader %d at term %d, then %d at term %d", k, who[k], terms[k], who2[k], terms2[k])
		}
		for i, r := range gs[k] {
			if i != who[k] && time.Since(r.r.LastContact()) > testTiming.steady {
				t.Errorf("group %d: follower %d last heard from its leader %v ago", k, i, time.Since(r.r.LastContact()))
			}
		}
	}
	// Each follower's own heartbeats would take some 60 bytes each way
	// every steady/10 to steady/5: at least this much.
	own := int64(groups*2*120) * int64(idle/(testTiming.steady/5))
	t.Logf("%d idle groups: %d bytes written in %v; their own heartbeats: over %d", groups, sent, idle, own)
	if sent > own/4 {
		t.Errorf("%d bytes written in %v, want under %d", sent, idle, own/4)
	}
	gs.stop()
	waitGoroutines(t, nodes, base)
}

// TestBeatsSilentLeaderNode: when a leader's node is cut off, streams
// open but silent, its followers stand at once and elect another leader
// well within one hurried timeout of noticing, and the cut-off leader
// steps down within its lease and the silence that precedes it; once the
// cut heals, the group goes on with all three.
func TestBeatsSilentLeaderNode(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes, gates := newGatedNodes(t, 3)
	gs := startGroups(t, nodes, 4, quick)
	gs.settle(t, nodes)
	who, terms := gs.leaders()
	cut := who[0]
	gates[cut].cut.Store(true)
	at := time.Now()

	stepDown := testTiming.silence + testTiming.beat + testTiming.lease + 500*time.Millisecond
	raftEventually(t, stepDown, "the cut-off leader steps down", func() bool {
		return gs[0][cut].r.State() != raft.Leader
	})
	downAfter := time.Since(at)
	elect := testTiming.silence + testTiming.beat + testTiming.hurry
	var next int
	raftEventually(t, elect, "another leader", func() bool {
		now, nowTerms := gs.leaders()
		next = now[0]
		return next >= 0 && next != cut && nowTerms[0] > terms[0]
	})
	t.Logf("cut-off leader stepped down after %v; new leader after %v", downAfter.Round(time.Millisecond), time.Since(at).Round(time.Millisecond))

	healed := time.Now()
	gates[cut].cut.Store(false)
	apply(t, gs[0], "after the cut")
	for i, r := range gs[0] {
		raftEventually(t, 10*time.Second, fmt.Sprintf("replica %d applied the entry after the cut", i), func() bool {
			e := r.fsm.entries()
			return len(e) > 0 && e[len(e)-1] == "after the cut"
		})
	}
	t.Logf("all three applied an entry %v after the cut healed", time.Since(healed).Round(time.Millisecond))
	gs.stop()
	waitGoroutines(t, nodes, base)
}

// TestBeatsHurryAndCalm: when a leader's node falls silent, a follower
// hurries and stands without waiting for its timeout, and once a leader
// is elected every replica runs with its steady timeouts again.
func TestBeatsHurryAndCalm(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes, gates := newGatedNodes(t, 3)
	gs := startGroups(t, nodes, 1, quick)
	gs.settle(t, nodes)
	var mu sync.Mutex
	hurried := 0
	for i, r := range gs[0] {
		retime := quick.raft().retimer(r.r, zap.NewNop())
		r.trans.setRetime(raft.ServerID(fmt.Sprintf("n%d", i)), func(hurry bool) {
			if hurry {
				mu.Lock()
				hurried++
				mu.Unlock()
			}
			retime(hurry)
		}, firstVoter(r.r, raft.ServerID(fmt.Sprintf("n%d", i))))
	}
	who, _ := gs.leaders()
	cut := who[0]
	gates[cut].cut.Store(true)
	at := time.Now()
	heartbeat := func(r *replica) time.Duration { return r.r.ReloadableConfig().HeartbeatTimeout }
	raftEventually(t, 5*time.Second, "another leader, and its followers steady again", func() bool {
		now, _ := gs.leaders()
		if now[0] < 0 || now[0] == cut {
			return false
		}
		for i, r := range gs[0] {
			if i != cut && heartbeat(r) != testTiming.steady {
				return false
			}
		}
		return true
	})
	if took, most := time.Since(at), testTiming.silence+testTiming.beat+testTiming.hurry; took > most {
		t.Errorf("a new leader after %v, want within %v", took, most)
	}
	mu.Lock()
	if hurried == 0 {
		t.Error("no follower hurried when its leader's node fell silent")
	}
	mu.Unlock()
	gates[cut].cut.Store(false)
	gs.stop()
	waitGoroutines(t, nodes, base)
}

// TestRaftTimingsHold: the quorum queues' timing, and the tests', satisfy
// raft's rules for both their steady and hurried timeouts, a leader's
// heartbeats (every steady/5 at most) come well within its lease and
// are listed in beats well within unlisted, a follower handed
// heartbeats from beats hears from its leader well within steady, and a
// node is silent only after several beats missed.
func TestRaftTimingsHold(t *testing.T) {
	for _, tc := range []struct {
		name string
		tm   raftTiming
	}{{"cluster", clusterTiming}, {"tests", testTiming}} {
		t.Run(tc.name, func(t *testing.T) {
			tm := tc.tm
			for _, hb := range []time.Duration{tm.steady, tm.hurry} {
				c := raft.DefaultConfig()
				c.LocalID = "n"
				tm.configure(c)
				c.HeartbeatTimeout, c.ElectionTimeout = hb, hb
				if err := raft.ValidateConfig(c); err != nil {
					t.Errorf("heartbeat timeout %v: %v", hb, err)
				}
			}
			if most := tm.steady/5 + tm.beat; most > tm.lease*3/4 {
				t.Errorf("heartbeats up to %v apart, lease %v", most, tm.lease)
			}
			if most := tm.inject + tm.steady/5 + 2*tm.beat; most > tm.steady*3/4 {
				t.Errorf("a follower hears from beats up to %v apart, steady timeout %v", most, tm.steady)
			}
			if most := tm.steady/5 + 2*tm.beat; most > tm.unlisted {
				t.Errorf("a leader's heartbeats listed up to %v apart, unlisted after %v", most, tm.unlisted)
			}
			if tm.silence < 3*tm.beat {
				t.Errorf("silence %v after beats every %v", tm.silence, tm.beat)
			}
		})
	}
}
