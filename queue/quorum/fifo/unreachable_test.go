package fifo

import (
	"bytes"
	"slices"
	"testing"
)

// TestUnreachableReturnsAndResumes: a consumer whose node the leader
// cannot reach gives its unsettled message back at once, not counted as
// a failed delivery, to a consumer elsewhere, and takes nothing new; once
// its node is reachable again it is served as before. The flag survives
// a snapshot.
func TestUnreachableReturnsAndResumes(t *testing.T) {
	q := newQ(t, defaultCfg())
	a, b := cid(chA, "a"), cid(chB, "b")
	q.do(Checkout{Consumer: a, Prefetch: 1})
	m1 := q.put(1, 0)
	q.do(Checkout{Consumer: b, Prefetch: 1})

	_, effs := q.do(Unreachable{Nodes: []string{chA.Node}})
	want := Delivery{ID: 0, Index: m1, Size: 1, Redelivered: true}
	if got := deliveries(effs, b); len(got) != 1 || got[0] != want {
		t.Fatalf("b after a's node became unreachable: %+v, want [%+v]", got, want)
	}
	if got := q.s.UnreachableNodes(); !slices.Equal(got, []string{chA.Node}) {
		t.Errorf("unreachable nodes %v", got)
	}
	// Repeating the command changes nothing.
	if _, effs := q.do(Unreachable{Nodes: []string{chA.Node}}); len(kinds(effs, EffectDeliver)) != 0 {
		t.Errorf("repeated: %v", effs)
	}
	m2 := q.put(1, 0)
	if q.s.Ready() != 1 {
		t.Fatalf("m2 went to an unreachable consumer or to b beyond its credit: ready %d", q.s.Ready())
	}
	// A settle from a's channel of the delivery it gave back is ignored.
	q.do(Settle{Consumer: a, IDs: []uint64{0}})
	if q.s.CheckedOut() != 1 {
		t.Fatalf("checked out %d, want b's one", q.s.CheckedOut())
	}

	snap := q.s.Snapshot()
	r, err := Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), snap) || !slices.Equal(r.UnreachableNodes(), []string{chA.Node}) {
		t.Fatalf("restored: unreachable %v", r.UnreachableNodes())
	}

	_, effs = q.do(Unreachable{})
	if got := deliveries(effs, a); len(got) != 1 || got[0].Index != m2 || got[0].ID != 1 {
		t.Errorf("a once reachable: %+v, want m2 (%d) as id 1", got, m2)
	}
	if got := q.s.UnreachableNodes(); len(got) != 0 {
		t.Errorf("unreachable nodes %v after all are reachable", got)
	}
}

// TestUnreachableSingleActive: with single active consumer, an active
// consumer whose node is unreachable gives way to a waiting one, which
// takes its messages; reachable again, it waits its turn.
func TestUnreachableSingleActive(t *testing.T) {
	cfg := defaultCfg()
	cfg.SingleActive = true
	q := newQ(t, cfg)
	a, b := cid(chA, "a"), cid(chB, "b")
	q.do(Checkout{Consumer: a, Prefetch: 10})
	q.do(Checkout{Consumer: b, Prefetch: 10})
	m1 := q.put(1, 0)

	_, effs := q.do(Unreachable{Nodes: []string{chA.Node}})
	if got := deliveries(effs, b); len(got) != 1 || got[0].Index != m1 {
		t.Fatalf("b after a's node became unreachable: %v", effs)
	}
	act := kinds(effs, EffectConsumerActive)
	if len(act) != 2 || act[0].Consumer != a || act[0].Active || act[1].Consumer != b || !act[1].Active {
		t.Errorf("activation effects %+v, want a off then b on", act)
	}
	_, effs = q.do(Unreachable{})
	if len(kinds(effs, EffectConsumerActive)) != 0 {
		t.Errorf("a reachable again changed the active consumer: %+v", effs)
	}
	_, effs = q.do(Enqueue{Size: 1, TTL: -1})
	if got := deliveries(effs, b); len(got) != 1 || got[0].Index != q.idx {
		t.Errorf("the next message not to b, still active: %+v", effs)
	}
}

// TestUnreachableDropsCancelledConsumer: a cancelled consumer whose node
// is unreachable gives back what it held and goes.
func TestUnreachableDropsCancelledConsumer(t *testing.T) {
	q := newQ(t, defaultCfg())
	a := cid(chA, "a")
	q.do(Checkout{Consumer: a, Prefetch: 1})
	q.put(1, 0)
	q.do(Cancel{Consumer: a})
	q.do(Unreachable{Nodes: []string{chA.Node}})
	if q.s.Ready() != 1 || q.s.CheckedOut() != 0 || len(q.s.ConsumerNodes()) != 0 {
		t.Errorf("ready %d, checked out %d, consumer nodes %v; want 1, 0, none",
			q.s.Ready(), q.s.CheckedOut(), q.s.ConsumerNodes())
	}
}
