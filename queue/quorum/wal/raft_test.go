package wal

import (
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// listFSM is a state machine that keeps the commands applied, in order.
type listFSM struct {
	mu   sync.Mutex
	cmds []string
}

func (f *listFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = append(f.cmds, string(l.Data))
	return len(f.cmds)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listSnapshot(strings.Join(f.cmds, "\n")), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds = nil
	if len(b) > 0 {
		f.cmds = strings.Split(string(b), "\n")
	}
	return nil
}

// applied returns a copy of the commands applied.
func (f *listFSM) applied() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.cmds...)
}

type listSnapshot string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write([]byte(s)); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (listSnapshot) Release() {}

// raftConfig is a configuration with test timeouts, as hashicorp/raft's
// own tests use.
func raftConfig(id string) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	// Timeouts long enough that a loaded machine running the race
	// detector does not lose the leader in the middle of a test (50 ms
	// did, once), short enough that the first election is quick.
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 500 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold = 1 << 30
	c.Logger = hclog.NewNullLogger()
	return c
}

// eventually polls cond until it holds or fails the test after 10 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// commands returns the commands from first to last.
func commands(first, last int) []string {
	var cs []string
	for i := first; i <= last; i++ {
		cs = append(cs, fmt.Sprintf("cmd-%d", i))
	}
	return cs
}

// apply applies commands on r and waits for them to commit.
func apply(t testing.TB, r *raft.Raft, cmds []string) {
	t.Helper()
	fs := make([]raft.ApplyFuture, len(cmds))
	for i, c := range cmds {
		fs[i] = r.Apply([]byte(c), 5*time.Second)
	}
	for i, f := range fs {
		if err := f.Error(); err != nil {
			t.Fatalf("Apply(%s): %v", cmds[i], err)
		}
	}
}

// A single-node hashicorp/raft group on a GroupStore elects itself,
// applies, snapshots (deleting the log's front) and, restarted from the
// same WAL, elects itself again and rebuilds its state from the snapshot
// and the entries kept.
func TestRaftSingleNode(t *testing.T) {
	base := runtime.NumGoroutine()
	dir := t.TempDir()
	snaps := raft.NewInmemSnapshotStore()
	start := func(w *WAL, bootstrap bool) (*raft.Raft, *listFSM) {
		g := group(t, w, "q")
		addr, trans := raft.NewInmemTransport("")
		conf := raftConfig("n1")
		conf.TrailingLogs = 10
		if bootstrap {
			err := raft.BootstrapCluster(conf, g, g, snaps, trans, raft.Configuration{
				Servers: []raft.Server{{ID: "n1", Address: addr}}})
			if err != nil {
				t.Fatal(err)
			}
		}
		fsm := &listFSM{}
		r, err := raft.NewRaft(conf, fsm, g, g, snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "a leader", func() bool { return r.State() == raft.Leader })
		return r, fsm
	}

	w, err := Open(dir, Options{SegmentSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	r, fsm := start(w, true)
	apply(t, r, commands(1, 300))
	if err := r.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	apply(t, r, commands(301, 400))
	g := group(t, w, "q")
	if first, _ := g.FirstIndex(); first <= 1 {
		t.Fatalf("the snapshot deleted nothing: first index %d", first)
	}
	if got := fsm.applied(); !slices.Equal(got, commands(1, 400)) {
		t.Fatalf("applied %d commands, want 400", len(got))
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w = openWAL(t, dir, Options{SegmentSize: 16 << 10})
	r, fsm = start(w, false)
	eventually(t, "the state rebuilt", func() bool { return len(fsm.applied()) >= 400 })
	apply(t, r, commands(401, 410))
	if got := fsm.applied(); !slices.Equal(got, commands(1, 410)) {
		t.Fatalf("after a restart the state machine holds %d commands (%v…), want 410", len(got), got[:min(3, len(got))])
	}
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	checkNoGoroutines(t, base)
}

// raftNode is one member of a test group: its WAL, transport and Raft.
type raftNode struct {
	id    string
	dir   string
	w     *WAL
	trans *raft.InmemTransport
	fsm   *listFSM
	r     *raft.Raft
	snaps *raft.InmemSnapshotStore
}

// Three hashicorp/raft nodes, each on a GroupStore of its own WAL, elect a
// leader and replicate; a follower stopped while the others go on, then
// restarted from its WAL, catches up with every command.
func TestRaftThreeNodes(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := make([]*raftNode, 3)
	var servers []raft.Server
	for i := range nodes {
		n := &raftNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), snaps: raft.NewInmemSnapshotStore()}
		_, n.trans = raft.NewInmemTransport(raft.ServerAddress(n.id))
		nodes[i] = n
		servers = append(servers, raft.Server{ID: raft.ServerID(n.id), Address: raft.ServerAddress(n.id)})
	}
	connect := func() {
		for _, a := range nodes {
			for _, b := range nodes {
				if a != b {
					a.trans.Connect(b.trans.LocalAddr(), b.trans)
				}
			}
		}
	}
	connect()
	start := func(n *raftNode, bootstrap bool) {
		w, err := Open(n.dir, Options{SegmentSize: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		n.w = w
		g := group(t, w, "q")
		conf := raftConfig(n.id)
		if last, _ := g.LastIndex(); !bootstrap && last < 100 {
			t.Fatalf("%s restarts with a log ending at %d", n.id, last)
		}
		if bootstrap {
			if err := raft.BootstrapCluster(conf, g, g, n.snaps, n.trans, raft.Configuration{Servers: servers}); err != nil {
				t.Fatal(err)
			}
		}
		n.fsm = &listFSM{}
		if n.r, err = raft.NewRaft(conf, n.fsm, g, g, n.snaps, n.trans); err != nil {
			t.Fatal(err)
		}
	}
	stop := func(n *raftNode) {
		if err := n.r.Shutdown().Error(); err != nil {
			t.Error(err)
		}
		if err := n.w.Close(); err != nil {
			t.Error(err)
		}
	}
	for _, n := range nodes {
		start(n, true)
	}
	defer func() {
		for _, n := range nodes {
			stop(n)
		}
		checkNoGoroutines(t, base)
	}()
	leader := func() *raftNode {
		var l *raftNode
		eventually(t, "a leader", func() bool {
			for _, n := range nodes {
				if n.r.State() == raft.Leader {
					l = n
					return true
				}
			}
			return false
		})
		return l
	}
	converged := func(want []string, ns ...*raftNode) {
		t.Helper()
		for _, n := range ns {
			eventually(t, n.id+" to apply every command", func() bool { return len(n.fsm.applied()) >= len(want) })
			if got := n.fsm.applied(); !slices.Equal(got, want) {
				t.Fatalf("%s applied %d commands, want %d", n.id, len(got), len(want))
			}
		}
	}

	l := leader()
	apply(t, l.r, commands(1, 100))
	converged(commands(1, 100), nodes...)

	var f *raftNode
	for _, n := range nodes {
		if n != l {
			f = n
			break
		}
	}
	stop(f)
	apply(t, l.r, commands(101, 150))
	_, f.trans = raft.NewInmemTransport(raft.ServerAddress(f.id))
	connect()
	start(f, false)
	converged(commands(1, 150), nodes...)
	g := group(t, f.w, "q")
	if last, _ := g.LastIndex(); last < 150 {
		t.Fatalf("the restarted follower's log ends at %d", last)
	}
}
