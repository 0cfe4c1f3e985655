package cluster

import (
	"bufio"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// listFSM keeps every applied entry in order.
type listFSM struct {
	mu      sync.Mutex
	entries []string
}

func (f *listFSM) Apply(l *raft.Log) interface{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, string(l.Data))
	return len(f.entries)
}

func (f *listFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return listSnapshot(slices.Clone(f.entries)), nil
}

func (f *listFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var entries []string
	s := bufio.NewScanner(rc)
	for s.Scan() {
		entries = append(entries, s.Text())
	}
	f.mu.Lock()
	f.entries = entries
	f.mu.Unlock()
	return s.Err()
}

func (f *listFSM) list() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries)
}

type listSnapshot []string

func (s listSnapshot) Persist(sink raft.SnapshotSink) error {
	for _, e := range s {
		if _, err := fmt.Fprintln(sink, e); err != nil {
			sink.Cancel()
			return err
		}
	}
	return sink.Close()
}

func (s listSnapshot) Release() {}

// raftNode is one member of a test Raft group.
type raftNode struct {
	raft  *raft.Raft
	fsm   *listFSM
	trans *raft.NetworkTransport
}

// startGroup runs a Raft group with one member on each transport, over
// the transports' RaftLayer for service, bootstrapped with all of them.
func startGroup(t *testing.T, transports []*Transport, service string) []*raftNode {
	t.Helper()
	var servers []raft.Server
	for i, tr := range transports {
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", i)), Address: raft.ServerAddress(tr.Addr())})
	}
	nodes := make([]*raftNode, len(transports))
	for i, tr := range transports {
		layer, err := tr.RaftLayer(service)
		if err != nil {
			t.Fatalf("RaftLayer(%q): %v", service, err)
		}
		log := testLog(t).Named(fmt.Sprintf("%s/n%d", service, i))
		trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  layer,
			MaxPool: 3,
			Timeout: 2 * time.Second,
			Logger:  NewHCLogger(log, "raft-net"),
		})
		conf := raft.DefaultConfig()
		conf.LocalID = servers[i].ID
		conf.HeartbeatTimeout = 300 * time.Millisecond
		conf.ElectionTimeout = 300 * time.Millisecond
		conf.LeaderLeaseTimeout = 150 * time.Millisecond
		conf.CommitTimeout = 5 * time.Millisecond
		conf.Logger = NewHCLogger(log, "raft")
		logs, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(conf, logs, logs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatalf("BootstrapCluster: %v", err)
		}
		fsm := &listFSM{}
		r, err := raft.NewRaft(conf, fsm, logs, logs, snaps, trans)
		if err != nil {
			t.Fatalf("NewRaft: %v", err)
		}
		nodes[i] = &raftNode{raft: r, fsm: fsm, trans: trans}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if err := n.raft.Shutdown().Error(); err != nil {
				t.Errorf("raft shutdown: %v", err)
			}
			n.trans.Close()
		}
	})
	return nodes
}

// waitLeader returns the index of a leader among the nodes in live, other
// than not (-1 for none).
func waitLeader(t *testing.T, nodes []*raftNode, live []int, not int) int {
	t.Helper()
	leader := -1
	eventually(t, 10*time.Second, "a leader is elected", func() bool {
		for _, i := range live {
			if i != not && nodes[i].raft.State() == raft.Leader {
				leader = i
				return true
			}
		}
		return false
	})
	return leader
}

// applyAll applies entries on the leader and waits until every node in
// live holds want.
func applyAll(t *testing.T, nodes []*raftNode, leader int, live []int, entries, want []string) {
	t.Helper()
	for _, e := range entries {
		if err := nodes[leader].raft.Apply([]byte(e), 5*time.Second).Error(); err != nil {
			t.Fatalf("Apply(%q) on n%d: %v", e, leader, err)
		}
	}
	eventually(t, 10*time.Second, fmt.Sprintf("every live FSM holds %v", want), func() bool {
		for _, i := range live {
			if !slices.Equal(nodes[i].fsm.list(), want) {
				return false
			}
		}
		return true
	})
}

func TestRaftGroupsOverOneClusterPort(t *testing.T) {
	base := runtime.NumGoroutine()
	transports := []*Transport{
		newTransport(t, TransportConfig{Secret: "s"}),
		newTransport(t, TransportConfig{Secret: "s"}),
		newTransport(t, TransportConfig{Secret: "s"}),
	}
	all := []int{0, 1, 2}
	defs := startGroup(t, transports, "raft/defs")
	queue := startGroup(t, transports, "raft/q1")

	leader := waitLeader(t, defs, all, -1)
	applyAll(t, defs, leader, all, []string{"d1", "d2", "d3"}, []string{"d1", "d2", "d3"})
	qLeader := waitLeader(t, queue, all, -1)
	applyAll(t, queue, qLeader, all, []string{"q1", "q2"}, []string{"q1", "q2"})
	for i, tr := range transports {
		// Two groups, two peers: one TCP connection from each peer.
		if n := tr.accepts.Load(); n > 2 {
			t.Errorf("node %d accepted %d TCP connections for two groups, want at most 2", i, n)
		}
	}

	// The defs leader's node drops off the network.
	transports[leader].Close()
	var rest []int
	for _, i := range all {
		if i != leader {
			rest = append(rest, i)
		}
	}
	next := waitLeader(t, defs, rest, leader)
	applyAll(t, defs, next, rest, []string{"d4"}, []string{"d1", "d2", "d3", "d4"})

	// Shut everything down: no goroutine may outlive it.
	for _, n := range slices.Concat(defs, queue) {
		if err := n.raft.Shutdown().Error(); err != nil {
			t.Fatalf("raft shutdown: %v", err)
		}
		n.trans.Close()
	}
	for _, tr := range transports {
		tr.Close()
	}
	goroutinesBack(t, base)
}

func TestRaftLayerCloseEndsItsStreams(t *testing.T) {
	a := newTransport(t, TransportConfig{})
	b := newTransport(t, TransportConfig{})
	la, err := a.RaftLayer("raft/g")
	if err != nil {
		t.Fatal(err)
	}
	lb, err := b.RaftLayer("raft/g")
	if err != nil {
		t.Fatal(err)
	}
	c, err := la.Dial(raft.ServerAddress(b.Addr()), 5*time.Second)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	sc, err := lb.Accept()
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	if la.Addr().String() != a.Addr() {
		t.Errorf("layer Addr() %q, want the transport's %q", la.Addr(), a.Addr())
	}
	readErr := make(chan error, 2)
	for _, conn := range []io.Reader{c, sc} {
		go func() {
			_, err := conn.Read(make([]byte, 1))
			readErr <- err
		}()
	}
	// Closing b's layer ends the stream it accepted (its blocked Read) and,
	// through the end-of-stream it sends, the one a dialled.
	lb.Close()
	for range 2 {
		select {
		case err := <-readErr:
			if err == nil {
				t.Error("Read returned no error after the layer closed")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a Read stayed blocked after the layer closed")
		}
	}
	if _, err := la.Dial(raft.ServerAddress(b.Addr()), 5*time.Second); err == nil {
		t.Error("Dial to a closed layer's service succeeded")
	}
	la.Close()
	if _, err := a.RaftLayer("raft/g"); err != nil {
		t.Errorf("RaftLayer after Close: %v", err)
	}
}
