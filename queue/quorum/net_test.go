package quorum

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// gateFSM is a raft.FSM whose Apply waits until gate is closed.
type gateFSM struct{ gate chan struct{} }

func (f gateFSM) Apply(*raft.Log) any               { <-f.gate; return nil }
func (gateFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, raft.ErrNothingNewToSnapshot }
func (gateFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

// TestLinkAnswersMoreProposalsThanItBuffers: a peer that forwards more
// proposals than a link holds answers for, while the leader is slow to
// apply them, gets every one answered once the leader catches up. The
// link's reader used to wait for room in the answers while holding the
// lock the answering goroutine needs to send, and the link (every queue's
// forwarded proposals, deliveries and results from that peer) hung for
// good, as did the node's shutdown.
func TestLinkAnswersMoreProposalsThanItBuffers(t *testing.T) {
	gate := make(chan struct{})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	defer release()
	tp := &Type{log: zap.NewNop(), queues: map[string]*Queue{}}
	// Groups of one whose state machine waits for gate: their leaders
	// take proposals but complete none, as a leader without its
	// followers does. Each takes a few hundred (fewer under the race
	// detector) before Apply blocks, so several are needed to fill the
	// link's answers.
	groups := make([]string, 16)
	for i := range groups {
		groups[i] = fmt.Sprintf("0:/q%d", i)
		r := gatedGroupOfOne(t, gate)
		q := &Queue{group: groups[i]}
		q.r.Store(r)
		tp.queues[groups[i]] = q
	}
	l := &links{t: tp, byAddr: map[string]*link{}, all: map[*link]bool{}}
	ours, theirs := net.Pipe()
	defer theirs.Close()
	k := newLink(l, ours, "")
	l.all[k] = true
	k.start()
	defer func() {
		release()
		closed := make(chan struct{})
		go func() {
			k.fail()
			l.wg.Wait()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Error("the link's goroutines did not end")
		}
	}()

	n := 2*cap(k.answers) + 100
	go func() {
		w := bufio.NewWriter(theirs)
		for i := range n {
			body := encodePropose(uint64(i+1), groups[i%len(groups)], []byte{1})
			w.Write(binary.BigEndian.AppendUint32(nil, uint32(len(body)+1)))
			w.WriteByte(framePropose)
			w.Write(body)
		}
		w.Flush()
	}()
	// Let the reader fill the answers while the leaders apply nothing.
	deadline := time.Now().Add(10 * time.Second)
	for len(k.answers) < cap(k.answers) {
		if time.Now().After(deadline) {
			t.Fatalf("the link holds %d answers, not %d", len(k.answers), cap(k.answers))
		}
		time.Sleep(time.Millisecond)
	}
	release()

	theirs.SetReadDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(theirs)
	var hdr [4]byte
	for i := range n {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			t.Fatalf("answer %d of %d: %v", i+1, n, err)
		}
		frame := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(rd, frame); err != nil {
			t.Fatalf("answer %d of %d: %v", i+1, n, err)
		}
		id, res, err := decodeResult(frame[1:])
		if frame[0] != frameResult || err != nil || res.err != nil || id != uint64(i+1) {
			t.Fatalf("answer %d: kind %d, id %d, %v, %v", i+1, frame[0], id, err, res.err)
		}
	}
}

// gatedGroupOfOne starts a Raft group of one over gateFSM, stopped when
// the test ends, and waits until it leads.
func gatedGroupOfOne(t *testing.T, gate chan struct{}) *raft.Raft {
	t.Helper()
	c := raft.DefaultConfig()
	c.LocalID = "n1"
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	c.Logger = hclog.NewNullLogger()
	store := raft.NewInmemStore()
	addr, trans := raft.NewInmemTransport("n1")
	snaps := raft.NewInmemSnapshotStore()
	if err := raft.BootstrapCluster(c, store, store, snaps, trans, raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}); err != nil {
		t.Fatal(err)
	}
	r, err := raft.NewRaft(c, gateFSM{gate}, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown().Error() })
	select {
	case <-r.LeaderCh():
	case <-time.After(5 * time.Second):
		t.Fatal("a group of one did not elect itself")
	}
	return r
}
