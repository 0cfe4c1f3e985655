package fifo

import (
	"bytes"
	"errors"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestSnapshotDeterministic: a snapshot restores to a state that answers
// the next commands as the original does and snapshots to the same bytes;
// the snapshot holds headers only, so its size does not grow with the
// bodies.
func TestSnapshotDeterministic(t *testing.T) {
	build := func(size uint32) *State {
		s := NewState(Config{DeliveryLimit: 20, DeadLetter: AtLeastOnce, HasMessageTTL: true, MessageTTL: 500})
		apply(s, 1, Checkout{Consumer: cid(chA, "c"), Prefetch: 2, Priority: 3, Now: 1})
		for i := uint64(2); i < 12; i++ {
			apply(s, i, Enqueue{From: pubA, Seq: i, Size: size, TTL: -1, Priority: uint8(i % 7), Now: 2})
		}
		apply(s, 12, Discard{Consumer: cid(chA, "c"), IDs: []uint64{0}, Now: 3})
		apply(s, 13, Return{Consumer: cid(chA, "c"), IDs: []uint64{1}, Now: 3})
		return s
	}
	s := build(10)
	snap := s.Snapshot()
	r, err := Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), snap) {
		t.Fatal("restored state snapshots differently")
	}
	next := Settle{Consumer: cid(chA, "c"), IDs: []uint64{2}, Now: 4}
	resS, effS := apply(s, 14, next)
	resR, effR := apply(r, 14, next)
	if resS != resR || !equalEffects(effS, effR) || !bytes.Equal(s.Snapshot(), r.Snapshot()) {
		t.Errorf("restored state answers differently: %+v %+v / %+v %+v", resS, effS, resR, effR)
	}
	if big := build(1 << 30).Snapshot(); len(big) > len(snap)+64 {
		t.Errorf("snapshot of 1 GiB bodies is %d bytes, of 10-byte bodies %d", len(big), len(snap))
	}
	if _, err := Restore(snap[:len(snap)-1]); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated snapshot: %v", err)
	}
}

// FuzzRestore: any snapshot bytes either restore to a state that
// snapshots and restores again to the same bytes, or are refused; nothing
// panics.
func FuzzRestore(f *testing.F) {
	s := NewState(Config{DeliveryLimit: 20, DeadLetter: AtLeastOnce})
	apply(s, 1, Enqueue{From: queue.Publisher{Node: "n", Conn: 1, Channel: 1}, Seq: 1, Size: 5, TTL: 100, Now: 1})
	apply(s, 2, Enqueue{Size: 5, TTL: -1, Priority: 8, Now: 1})
	apply(s, 3, Checkout{Consumer: ConsumerID{Tag: "c"}, Prefetch: 1, Now: 2})
	apply(s, 4, Enqueue{Size: 5, TTL: -1, Now: 3})
	f.Add(s.Snapshot())
	f.Add(NewState(Config{}).Snapshot())
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Restore(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		snap := st.Snapshot()
		again, err := Restore(snap)
		if err != nil || !bytes.Equal(again.Snapshot(), snap) {
			t.Fatalf("restored snapshot does not restore to itself: %v", err)
		}
	})
}
