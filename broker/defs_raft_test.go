package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// These tests drive broker/defs_raft.go on one process: raftFSM fed
// entries by hand, and raftDefs over Raft groups on hashicorp/raft's
// in-memory transport. Each group member's state machine is the defsFSM
// of an in-memory broker, so what an entry does shows as a queue the
// broker runs.

// recordingStore is a defsStore that records what it was asked to keep.
type recordingStore struct {
	mu        sync.Mutex
	appended  []uint64
	snapshots []uint64
}

func (s *recordingStore) Append(index uint64, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appended = append(s.appended, index)
	return nil
}

func (s *recordingStore) SaveSnapshot(index uint64, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots = append(s.snapshots, index)
	return nil
}

func (s *recordingStore) Close() error { return nil }

// memServer starts an in-memory broker and returns it with its defsFSM.
func memServer(t *testing.T) (*Server, *defsFSM) {
	t.Helper()
	s := startServer(t, func(c *Config) { c.InMemory, c.DataDir = true, "" })
	return s, localOf(t, s).fsm
}

// declareCmd declares a durable classic queue in "/".
func declareCmd(name string, incarnation uint64) meta.DeclareQueue {
	return meta.DeclareQueue{Vhost: "/", Queue: queueDef{Name: name, Durable: true, Type: queue.TypeClassic,
		Incarnation: incarnation, Home: "n1", Args: protocol.Table{}}}
}

// commandLog is a committed Raft entry carrying cmd.
func commandLog(index uint64, cmd meta.Command) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: meta.Encode(cmd)}
}

// runs reports whether s runs the queue name in "/".
func runs(s *Server, name string) bool {
	v := s.vhost("/")
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.queues[name] != nil
}

// TestRaftFSMSkipsAppliedEntries: an entry at or below the node's applied
// index (a restarted node is handed entries it applied before) changes
// nothing and is not kept again; entries that are not commands only move
// the index; a new command is kept, then applied.
func TestRaftFSMSkipsAppliedEntries(t *testing.T) {
	s, fsm := memServer(t)
	store := &recordingStore{}
	f := newRaftFSM(zap.NewNop(), store, fsm)
	base := fsm.state.Applied()
	for _, tc := range []struct {
		name    string
		log     *raft.Log
		applies string // the queue the entry starts; "" for none
	}{
		{"new command", commandLog(base+2, declareCmd("q1", 1)), "q1"},
		{"same index again", commandLog(base+2, declareCmd("q-same", 2)), ""},
		{"lower index", commandLog(base+1, declareCmd("q-lower", 3)), ""},
		{"not a command", &raft.Log{Index: base + 3, Type: raft.LogNoop}, ""},
		{"next command", commandLog(base+4, declareCmd("q2", 4)), "q2"},
	} {
		r := f.Apply(tc.log)
		a, ok := r.(applied)
		if ok != (tc.applies != "") {
			t.Fatalf("%s: Apply returned %#v", tc.name, r)
		}
		if ok && (a.Err != nil || a.queue == nil || a.queue.def.Name != tc.applies) {
			t.Fatalf("%s: result %+v, want queue %s started", tc.name, a, tc.applies)
		}
	}
	for _, name := range []string{"q-same", "q-lower"} {
		if runs(s, name) {
			t.Errorf("the skipped entry declaring %s took effect", name)
		}
	}
	if !runs(s, "q1") || !runs(s, "q2") {
		t.Error("an applied declare did not start its queue")
	}
	if want := []uint64{base + 2, base + 4}; !slices.Equal(store.appended, want) {
		t.Errorf("entries kept locally: %v, want %v", store.appended, want)
	}
	if got := fsm.state.Applied(); got != base+4 {
		t.Errorf("applied index %d, want %d", got, base+4)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if a, err := f.wait(ctx, base+1); err != nil || a.queue != nil {
		t.Errorf("wait for an entry applied before: %+v, %v; want an empty result at once", a, err)
	}
	if a, err := f.wait(ctx, base+4); err != nil || a.queue == nil || a.queue.def.Name != "q2" {
		t.Errorf("wait for the last entry: %+v, %v; want q2's result", a, err)
	}
}

// snapshotReader is a Raft snapshot's contents as Restore reads them.
func snapshotReader(st *meta.State) io.ReadCloser {
	return io.NopCloser(strings.NewReader(string(st.Snapshot())))
}

// TestRaftFSMRestore: a snapshot no newer than the node's state (its own
// last one, handed back at start) changes nothing; a newer one (the node
// fell behind the leader's log) replaces the state, and the node carries
// out the difference: queues deleted since stop, queues declared since
// start, and a proposer waiting for an index the snapshot covers is
// answered.
func TestRaftFSMRestore(t *testing.T) {
	s, fsm := memServer(t)
	store := &recordingStore{}
	f := newRaftFSM(zap.NewNop(), store, fsm)
	base := fsm.state.Applied()
	f.Apply(commandLog(base+1, declareCmd("keep", 1)))
	older, err := meta.Restore(fsm.state.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	f.Apply(commandLog(base+2, declareCmd("gone", 2)))
	same, _ := meta.Restore(fsm.state.Snapshot())
	for _, tc := range []struct {
		name string
		snap *meta.State
	}{{"older snapshot", older}, {"snapshot at the applied index", same}} {
		if err := f.Restore(snapshotReader(tc.snap)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !runs(s, "keep") || !runs(s, "gone") || fsm.state.Applied() != base+2 {
			t.Fatalf("%s changed the node: keep %v, gone %v, applied %d", tc.name,
				runs(s, "keep"), runs(s, "gone"), fsm.state.Applied())
		}
	}
	if len(store.snapshots) != 0 {
		t.Errorf("an old snapshot was saved locally at %v", store.snapshots)
	}

	newer, _ := meta.Restore(fsm.state.Snapshot())
	newer.Apply(base+5, meta.DeleteQueue{Vhost: "/", Name: "gone", Incarnation: 2})
	newer.Apply(base+9, declareCmd("new", 3))
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := f.wait(ctx, base+7) // an index inside the snapshot
		waited <- err
	}()
	if err := f.Restore(snapshotReader(newer)); err != nil {
		t.Fatal(err)
	}
	if !runs(s, "keep") || runs(s, "gone") || !runs(s, "new") {
		t.Errorf("after a newer snapshot: keep %v (want true), gone %v (want false), new %v (want true)",
			runs(s, "keep"), runs(s, "gone"), runs(s, "new"))
	}
	if got := fsm.state.Applied(); got != base+9 {
		t.Errorf("applied index %d, want the snapshot's %d", got, base+9)
	}
	if !slices.Equal(store.snapshots, []uint64{base + 9}) {
		t.Errorf("snapshots saved locally: %v, want the restored one at %d", store.snapshots, base+9)
	}
	if err := <-waited; err != nil {
		t.Errorf("a proposer waiting for an index the snapshot covers: %v", err)
	}
	// The next entry after the snapshot applies as usual.
	if a, ok := f.Apply(commandLog(base+10, declareCmd("after", 4))).(applied); !ok || a.queue == nil {
		t.Errorf("entry after the restored snapshot: %+v", a)
	}
}

// raftMember is one member of an in-memory definitions Raft group.
type raftMember struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	srv   *Server
	trans *raft.InmemTransport
	logs  *raft.InmemStore
	raft  *raft.Raft
	defs  *raftDefs

	mu       sync.Mutex
	forwards []raft.ServerAddress // where defs forwarded commands
}

// forwarded returns where the member forwarded commands so far.
func (m *raftMember) forwarded() []raft.ServerAddress {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.forwards)
}

// testRaftConfig is a Raft configuration for a group on one process:
// elections within a few hundred milliseconds.
func testRaftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	c.HeartbeatTimeout = 150 * time.Millisecond
	c.ElectionTimeout = 150 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.Logger = cluster.NewHCLogger(zap.NewNop(), "raft")
	return c
}

// raftGroup starts n members on connected in-memory transports,
// bootstrapped with voters, the members' ids followed by extra (voters
// that never answer). A member's forward commits on the member at addr
// as commitForwarded does; wrap, if set, replaces it.
func raftGroup(t *testing.T, n int, extra []raft.Server, timeout time.Duration,
	wrap func(m *raftMember, next forwardFunc) forwardFunc) []*raftMember {
	t.Helper()
	members := make([]*raftMember, n)
	byAddr := map[raft.ServerAddress]*raftMember{}
	servers := slices.Clone(extra)
	for i := range members {
		m := &raftMember{id: raft.ServerID(fmt.Sprintf("n%d", i+1))}
		m.addr, m.trans = raft.NewInmemTransport("")
		members[i], byAddr[m.addr] = m, m
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: m.id, Address: m.addr})
	}
	for _, a := range members {
		for _, b := range members {
			if a != b {
				a.trans.Connect(b.addr, b.trans)
			}
		}
	}
	for _, m := range members {
		s, fsm := memServer(t)
		m.srv = s
		rfsm := newRaftFSM(zap.NewNop(), nil, fsm)
		m.logs = raft.NewInmemStore()
		c := testRaftConfig(m.id)
		r, err := raft.NewRaft(c, rfsm, m.logs, m.logs, raft.NewInmemSnapshotStore(), m.trans)
		if err != nil {
			t.Fatal(err)
		}
		m.raft = r
		t.Cleanup(func() {
			if err := r.Shutdown().Error(); err != nil {
				t.Errorf("raft shutdown: %v", err)
			}
			m.trans.Close()
		})
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatal(err)
		}
		var forward forwardFunc = func(ctx context.Context, addr raft.ServerAddress, entry []byte) (uint64, error) {
			m.mu.Lock()
			m.forwards = append(m.forwards, addr)
			m.mu.Unlock()
			to := byAddr[addr]
			if to == nil {
				return 0, fmt.Errorf("%w: no member at %s", raft.ErrNotLeader, addr)
			}
			f := to.raft.Apply(entry, time.Second)
			if err := f.Error(); err != nil {
				return 0, err
			}
			return f.Index(), nil
		}
		if wrap != nil {
			forward = wrap(m, forward)
		}
		m.defs = &raftDefs{log: zap.NewNop(), raft: r, fsm: rfsm, node: string(m.id), timeout: timeout, forward: forward}
	}
	return members
}

// forwardFunc is raftDefs.forward.
type forwardFunc = func(ctx context.Context, addr raft.ServerAddress, entry []byte) (uint64, error)

// leaderOf waits until every member knows the same leader and returns it.
func leaderOf(t *testing.T, members []*raftMember) *raftMember {
	t.Helper()
	var leader *raftMember
	eventually(t, "a leader known to every member", func() bool {
		leader = nil
		addr, _ := members[0].raft.LeaderWithID()
		for _, m := range members {
			if a, _ := m.raft.LeaderWithID(); a == "" || a != addr {
				return false
			}
			if m.addr == addr {
				leader = m
			}
		}
		return leader != nil && leader.raft.State() == raft.Leader
	})
	return leader
}

// TestRaftDefsProposeOnEveryMember: a command proposed on the leader is
// committed there; one proposed on another member is forwarded to the
// leader. Either way Propose returns once this member applied it, with
// this member's result: the queue it started, or the refusal its state
// machine answered; the other members apply it too.
func TestRaftDefsProposeOnEveryMember(t *testing.T) {
	members := raftGroup(t, 3, nil, 5*time.Second, nil)
	leader := leaderOf(t, members)
	for i, m := range members {
		name := fmt.Sprintf("q-%d", i)
		a, err := m.defs.Propose(context.Background(), declareCmd(name, uint64(10+i)))
		if err != nil {
			t.Fatalf("propose on %s: %v", m.id, err)
		}
		v := m.srv.vhost("/")
		if own := v.running(name, uint64(10+i)); a.queue == nil || a.queue != own {
			t.Errorf("propose on %s answered queue %p, want this member's own %p", m.id, a.queue, own)
		}
		want := []raft.ServerAddress{leader.addr}
		if m == leader {
			want = nil
		}
		if got := m.forwarded(); !slices.Equal(got, want) {
			t.Errorf("%s forwarded to %v, want %v (leader %s)", m.id, got, want, leader.id)
		}
		// An inequivalent redeclare is refused by this member's state
		// machine, with RabbitMQ's 406.
		bad := declareCmd(name, uint64(20+i))
		bad.Queue.Durable = false
		a, err = m.defs.Propose(context.Background(), bad)
		var pe *protocol.Error
		if err != nil || !errors.As(a.Err, &pe) || pe.Code != protocol.PreconditionFailed {
			t.Errorf("inequivalent redeclare on %s: %+v, %v; want 406", m.id, a.Err, err)
		}
	}
	for _, m := range members {
		for i := range members {
			name := fmt.Sprintf("q-%d", i)
			eventually(t, fmt.Sprintf("%s runs %s", m.id, name), func() bool { return runs(m.srv, name) })
		}
	}
}

// TestRaftDefsForwardFailures: a forward that never reached a leader
// (raft.ErrNotLeader) is tried again and the command committed once; one
// whose fate is unknown (the leader took it and did not answer) is
// answered as an error at once, not sent again, since the leader may
// have committed it.
func TestRaftDefsForwardFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fail      error
		wantErr   bool
		wantCalls int
	}{
		{"not the leader, then committed", fmt.Errorf("%w: dial: connection refused", raft.ErrNotLeader), false, 2},
		{"the leader did not answer", errors.New("the definitions leader did not answer: EOF"), true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls int
			var mu sync.Mutex
			wrap := func(_ *raftMember, next forwardFunc) forwardFunc {
				return func(ctx context.Context, addr raft.ServerAddress, entry []byte) (uint64, error) {
					mu.Lock()
					calls++
					first := calls == 1
					mu.Unlock()
					if first {
						if !errors.Is(tc.fail, raft.ErrNotLeader) {
							next(ctx, addr, entry) // the leader commits, the answer is lost
						}
						return 0, tc.fail
					}
					return next(ctx, addr, entry)
				}
			}
			members := raftGroup(t, 3, nil, 5*time.Second, wrap)
			leader := leaderOf(t, members)
			var follower *raftMember
			for _, m := range members {
				if m != leader {
					follower = m
					break
				}
			}
			before := leader.raft.AppliedIndex()
			a, err := follower.defs.Propose(context.Background(), declareCmd("fwd", 7))
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, errUnconfirmed)) {
				t.Fatalf("propose: %+v, %v; want errUnconfirmed: %v", a, err, tc.wantErr)
			}
			mu.Lock()
			n := calls
			mu.Unlock()
			if n != tc.wantCalls {
				t.Errorf("forwarded %d times, want %d", n, tc.wantCalls)
			}
			// Committed exactly once either way: one command entry after
			// the ones before.
			eventually(t, "the leader applies the command", func() bool { return runs(leader.srv, "fwd") })
			if got := commandsAfter(t, leader.logs, before); got != 1 {
				t.Errorf("%d command entries committed, want 1", got)
			}
		})
	}
}

// commandsAfter counts the command entries in logs after index.
func commandsAfter(t *testing.T, logs raft.LogStore, index uint64) int {
	t.Helper()
	n := 0
	last, err := logs.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	for i := index + 1; i <= last; i++ {
		var l raft.Log
		if err := logs.GetLog(i, &l); err != nil {
			t.Fatalf("log %d: %v", i, err)
		}
		if l.Type == raft.LogCommand {
			n++
		}
	}
	return n
}

// TestRaftDefsNoLeader: a member that cannot reach a majority (its two
// peers never answer) never has a leader; a proposal on it is refused
// with errNoLeader once the commit timeout passes, and is sent nowhere.
func TestRaftDefsNoLeader(t *testing.T) {
	unreachable := []raft.Server{
		{Suffrage: raft.Voter, ID: "gone-1", Address: "nowhere-1"},
		{Suffrage: raft.Voter, ID: "gone-2", Address: "nowhere-2"},
	}
	const timeout = 400 * time.Millisecond
	m := raftGroup(t, 1, unreachable, timeout, nil)[0]
	start := time.Now()
	_, err := m.defs.Propose(context.Background(), declareCmd("nq", 1))
	took := time.Since(start)
	if !errors.Is(err, errNoLeader) {
		t.Fatalf("propose without a majority: %v, want errNoLeader", err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("refused after %v, want about the commit timeout %v", took, timeout)
	}
	if got := m.forwarded(); len(got) != 0 {
		t.Errorf("forwarded to %v without a leader", got)
	}
	if runs(m.srv, "nq") {
		t.Error("the refused declare took effect")
	}
}

// TestTimedOutText: a change the cluster did not commit in time is 541
// INTERNAL_ERROR in the shape of RabbitMQ 4's metadata store timeouts,
// saying what failed, on which node and why; other failures are not
// taken for timeouts.
func TestTimedOutText(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  meta.Command
		err  error
		want string // "" for not a timeout
	}{
		{"no leader", declareCmd("q", 1), errNoLeader,
			"failed to declare queue 'q' in vhost '/' because the metadata store operation timed out on node 'n3@h': no majority of the cluster's nodes is reachable"},
		{"leader lost", meta.DeclareExchange{Vhost: "v", Exchange: exchangeDef{Name: "x"}},
			fmt.Errorf("%w: %v", errUnconfirmed, raft.ErrLeadershipLost),
			"failed to declare exchange 'x' in vhost 'v' because the metadata store operation timed out on node 'n3@h': the definitions leader lost its majority"},
		{"not applied here in time", meta.DeleteQueue{Vhost: "/", Name: "q"}, fmt.Errorf("entry 9 committed: %w", context.DeadlineExceeded),
			"failed to delete queue 'q' in vhost '/' because the metadata store operation timed out"},
		{"disk failure", declareCmd("q", 1), errors.New("disk on fire"), ""},
	} {
		pe := timedOut(tc.cmd, "n3@h", tc.err)
		switch {
		case tc.want == "" && pe != nil:
			t.Errorf("%s: %v, want no timeout", tc.name, pe)
		case tc.want != "" && (pe == nil || pe.Code != protocol.InternalError || !strings.HasPrefix(pe.Text, "INTERNAL_ERROR - "+tc.want)):
			t.Errorf("%s: %v, want 541 %q", tc.name, pe, tc.want)
		}
	}
}
