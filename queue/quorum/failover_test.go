package quorum

import (
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue"
)

func TestStandRank(t *testing.T) {
	members := []string{"n3@h", "n1@h", "n2@h"}
	for _, tc := range []struct {
		dead, self string
		want       int
	}{
		{"n1@h", "n2@h", 0},
		{"n1@h", "n3@h", 1},
		{"n2@h", "n1@h", 0},
		{"n2@h", "n3@h", 1},
		{"n3@h", "n1@h", 0},
		{"n3@h", "n2@h", 1},
		{"n1@h", "n9@h", 0}, // not a member
	} {
		if got := standRank(members, tc.dead, tc.self); got != tc.want {
			t.Errorf("standRank(%v, %s, %s) = %d, want %d", members, tc.dead, tc.self, got, tc.want)
		}
	}
}

// nopFSM is a state machine that keeps nothing.
type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type nopSnapshot struct{}

func (nopSnapshot) Persist(s raft.SnapshotSink) error { return s.Close() }
func (nopSnapshot) Release()                          {}

// groupMember is one member of a test group: its Raft, transport and the
// queue that failover.go works on.
type groupMember struct {
	id    string
	r     *raft.Raft
	trans *raft.InmemTransport
	q     *Queue
}

// startGroup starts a three-member Raft group with the cluster groups'
// timing, each replica behind a Type and Queue of its own, and waits for
// a leader.
func startGroup(t *testing.T) []*groupMember {
	t.Helper()
	ids := []string{"n1@h", "n2@h", "n3@h"}
	var reps []*groupMember
	var servers []raft.Server
	for _, id := range ids {
		addr, trans := raft.NewInmemTransport(raft.ServerAddress(id))
		reps = append(reps, &groupMember{id: id, trans: trans})
		servers = append(servers, raft.Server{ID: raft.ServerID(id), Address: addr})
	}
	for _, a := range reps {
		for _, b := range reps {
			if a != b {
				a.trans.Connect(b.trans.LocalAddr(), b.trans)
			}
		}
	}
	for _, rp := range reps {
		c := raft.DefaultConfig()
		c.LocalID = raft.ServerID(rp.id)
		c.Logger = hclog.NewNullLogger()
		c.HeartbeatTimeout, c.ElectionTimeout = heartbeat, heartbeat
		c.LeaderLeaseTimeout = heartbeat - kickStep
		c.CommitTimeout = 10 * time.Millisecond
		store := raft.NewInmemStore()
		snaps := raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(c, store, store, snaps, rp.trans, raft.Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		r, err := raft.NewRaft(c, nopFSM{}, store, store, snaps, rp.trans)
		if err != nil {
			t.Fatal(err)
		}
		rp.r = r
		typ := &Type{cfg: Config{Node: rp.id}, queues: map[string]*Queue{}}
		rp.q = &Queue{t: typ, decl: queue.Declaration{Name: "q", Members: ids}, group: "g"}
		rp.q.r.Store(r)
		typ.queues["g"] = rp.q
		t.Cleanup(func() {
			rp.q.mu.Lock()
			rp.q.endLocked()
			rp.q.mu.Unlock()
			r.Shutdown().Error()
			rp.q.wg.Wait()
		})
	}
	newLeaderOf(t, reps, nil, 5*time.Second)
	return reps
}

// newLeaderOf waits up to within for a replica other than not to lead.
func newLeaderOf(t *testing.T, reps []*groupMember, not *groupMember, within time.Duration) *groupMember {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		for _, rp := range reps {
			if rp != not && rp.r.State() == raft.Leader {
				return rp
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no new leader within %v", within)
	return nil
}

// TestLeaderLinkLostElectsSoon: when a follower's link to its leader's
// node closes (Type.peerLost) and the leader is indeed silent, the
// survivors elect a new leader a heartbeat timeout after they last heard
// from it and a stagger, not after Raft's randomised timers (up to three
// heartbeat timeouts to notice, and an election timeout more when the
// first to stand finds the other still following). Three rounds, so that
// a lucky draw of Raft's timers cannot pass it alone.
func TestLeaderLinkLostElectsSoon(t *testing.T) {
	if testing.Short() {
		t.Skip("elections take seconds")
	}
	reps := startGroup(t)
	bound := heartbeat + 2*standStagger + 120*time.Millisecond
	for round := range 3 {
		old := newLeaderOf(t, reps, nil, 5*time.Second)
		var survivors []*groupMember
		for _, rp := range reps {
			if rp != old {
				survivors = append(survivors, rp)
			}
		}
		// The old leader's node goes silent, and its links close.
		old.trans.DisconnectAll()
		for _, s := range survivors {
			s.trans.Disconnect(old.trans.LocalAddr())
		}
		cut := time.Now()
		for _, s := range survivors {
			s.q.t.peerLost(string(old.trans.LocalAddr()))
		}
		next := newLeaderOf(t, reps, old, 5*time.Second)
		if took := time.Since(cut); took > bound {
			t.Fatalf("round %d: %s led %v after %s's links closed, want within %v", round, next.id, took, old.id, bound)
		}
		// The old leader comes back as a follower for the next round.
		for _, s := range survivors {
			old.trans.Connect(s.trans.LocalAddr(), s.trans)
			s.trans.Connect(old.trans.LocalAddr(), old.trans)
		}
		deadline := time.Now().Add(5 * time.Second)
		for old.r.State() != raft.Follower || old.r.Leader() == "" {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %s does not follow %s again", round, old.id, next.id)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// TestPeerLostKeepsAHeardLeader: a closed link to a leader that Raft
// still hears from changes nothing: no election.
func TestPeerLostKeepsAHeardLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a heartbeat timeout")
	}
	reps := startGroup(t)
	old := newLeaderOf(t, reps, nil, 5*time.Second)
	term := old.r.Stats()["term"]
	for _, rp := range reps {
		if rp != old {
			rp.q.t.peerLost(string(old.trans.LocalAddr()))
		}
	}
	// Past the last instant a survivor may check its leader (stand waits
	// for contacts to stop for up to standPatience), and then some.
	deadline := time.Now().Add(standPatience + heartbeat + 2*standStagger + 100*time.Millisecond)
	for time.Now().Before(deadline) {
		if old.r.State() != raft.Leader {
			t.Fatalf("%s stopped leading after its links closed, though heard from", old.id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := old.r.Stats()["term"]; got != term {
		t.Fatalf("term moved from %s to %s: an election ran", term, got)
	}
}
