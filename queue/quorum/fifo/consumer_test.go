package fifo

import (
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestPrefetchCredit: a consumer holds at most its prefetch; each settle
// gives a credit back and the next message follows.
func TestPrefetchCredit(t *testing.T) {
	q := newQ(t, defaultCfg())
	for range 5 {
		q.put(1, 0)
	}
	c := cid(chA, "c")
	_, effs := q.do(Checkout{Consumer: c, Prefetch: 2})
	got := deliveries(effs, c)
	if !slices.Equal(ids(got), []uint64{0, 1}) || !slices.Equal(indexes(got), []uint64{1, 2}) {
		t.Fatalf("first deliveries %v", got)
	}
	_, effs = q.do(Settle{Consumer: c, IDs: []uint64{1}})
	if got := deliveries(effs, c); !slices.Equal(ids(got), []uint64{2}) || got[0].Index != 3 {
		t.Errorf("after one settle: %v, want id 2 of index 3", got)
	}
	if q.s.Ready() != 2 || q.s.CheckedOut() != 2 {
		t.Errorf("ready %d, checked out %d; want 2, 2", q.s.Ready(), q.s.CheckedOut())
	}
	// A settle of an id not held (resent) changes nothing.
	if _, effs = q.do(Settle{Consumer: c, IDs: []uint64{1}}); len(deliveries(effs, c)) != 0 {
		t.Errorf("settling an id twice delivered %v", deliveries(effs, c))
	}
	// Unlimited prefetch and auto-settle take everything.
	for _, cmd := range []Checkout{{Consumer: cid(chB, "all")}, {Consumer: cid(chB, "noack"), AutoSettle: true}} {
		q2 := newQ(t, defaultCfg())
		for range 3 {
			q2.put(1, 0)
		}
		_, effs := q2.do(cmd)
		got := deliveries(effs, cmd.Consumer)
		if len(got) != 3 || got[0].Settled != cmd.AutoSettle || q2.s.CheckedOut() != 3-3*boolInt(cmd.AutoSettle) {
			t.Errorf("%s: %v, checked out %d", cmd.Consumer.Tag, got, q2.s.CheckedOut())
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestConsumerPriority: higher x-priority consumers are served first while
// they have credit; equals are served round robin.
func TestConsumerPriority(t *testing.T) {
	q := newQ(t, defaultCfg())
	lo, hi := cid(chA, "lo"), cid(chA, "hi")
	q.do(Checkout{Consumer: lo, Prefetch: 1, Priority: 1})
	q.do(Checkout{Consumer: hi, Prefetch: 1, Priority: 5})
	_, e1 := q.do(Enqueue{TTL: -1})
	_, e2 := q.do(Enqueue{TTL: -1})
	_, e3 := q.do(Enqueue{TTL: -1})
	if len(deliveries(e1, hi)) != 1 || len(deliveries(e2, lo)) != 1 || len(e3) != 0 {
		t.Fatalf("deliveries: %v / %v / %v", e1, e2, e3)
	}
	_, effs := q.do(Settle{Consumer: hi, IDs: []uint64{0}})
	if got := deliveries(effs, hi); len(got) != 1 || got[0].Index != q.idx-1 {
		t.Errorf("after hi settles: %v", effs)
	}

	r := newQ(t, defaultCfg())
	a, b := cid(chA, "a"), cid(chB, "b")
	r.do(Checkout{Consumer: a})
	r.do(Checkout{Consumer: b})
	var order []string
	for range 4 {
		_, effs := r.do(Enqueue{TTL: -1})
		for _, e := range kinds(effs, EffectDeliver) {
			order = append(order, e.Consumer.Tag)
		}
	}
	if !slices.Equal(order, []string{"a", "b", "a", "b"}) {
		t.Errorf("round robin %v", order)
	}
}

// TestCancelKeepsUnacked: a cancelled consumer gets nothing new, keeps its
// unsettled messages until it settles them, then is gone.
func TestCancelKeepsUnacked(t *testing.T) {
	q := newQ(t, defaultCfg())
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Prefetch: 2})
	q.put(1, 0)
	q.put(1, 0)
	if res, _ := q.do(Cancel{Consumer: c}); res.Outcome != OK {
		t.Fatalf("cancel: %v", res.Outcome)
	}
	if _, effs := q.do(Settle{Consumer: c, IDs: []uint64{0}}); len(effs) != 0 {
		t.Errorf("cancelled consumer was delivered to: %v", effs)
	}
	q.put(1, 0)
	if q.s.Ready() != 1 || q.s.CheckedOut() != 1 || q.s.Consumers() != 0 {
		t.Errorf("ready %d, checked out %d, consumers %d", q.s.Ready(), q.s.CheckedOut(), q.s.Consumers())
	}
	q.do(Return{Consumer: c, IDs: []uint64{1}})
	if res, _ := q.do(Settle{Consumer: c, IDs: []uint64{1}}); res.Outcome != UnknownConsumer {
		t.Errorf("consumer still there after its last message: %v", res.Outcome)
	}
	if q.s.Ready() != 2 {
		t.Errorf("ready %d, want 2", q.s.Ready())
	}
	// A consumer re-checked-out under the same tag while cancelled comes
	// back with what it holds.
	q.do(Checkout{Consumer: c, Prefetch: 1})
	q.do(Cancel{Consumer: c})
	if res, _ := q.do(Checkout{Consumer: c, Prefetch: 2}); res.Outcome != OK || q.s.Consumers() != 1 {
		t.Errorf("revived: %v, consumers %d", res.Outcome, q.s.Consumers())
	}
	if res, _ := q.do(Checkout{Consumer: c, Prefetch: 2}); res.Outcome != ConsumerExists {
		t.Errorf("resent checkout: %v", res.Outcome)
	}
}

// TestSingleActiveConsumer: one consumer gets the messages; the next
// (highest priority, then oldest) takes over when it is cancelled or goes
// down; a higher-priority arrival takes over once the active one holds
// nothing; basic.get is refused.
func TestSingleActiveConsumer(t *testing.T) {
	q := newQ(t, Config{SingleActive: true, DeliveryLimit: 20})
	a, b, c := cid(chA, "a"), cid(chA, "b"), cid(chB, "c")
	_, effs := q.do(Checkout{Consumer: a, Prefetch: 1})
	if act := kinds(effs, EffectConsumerActive); len(act) != 1 || act[0].Consumer != a || !act[0].Active {
		t.Fatalf("first consumer not activated: %v", effs)
	}
	q.do(Checkout{Consumer: b, Prefetch: 10})
	_, e1 := q.do(Enqueue{TTL: -1})
	_, e2 := q.do(Enqueue{TTL: -1})
	if len(deliveries(e1, a)) != 1 || len(e2) != 0 {
		t.Fatalf("only a, within its credit: %v / %v", e1, e2)
	}
	// Cancel a: b takes over; a keeps its message.
	_, effs = q.do(Cancel{Consumer: a})
	if got := deliveries(effs, b); len(got) != 1 || got[0].Index != 4 {
		t.Errorf("b after a's cancel: %v", effs)
	}
	if act := kinds(effs, EffectConsumerActive); len(act) != 1 || act[0].Consumer != b {
		t.Errorf("activation effects %v", act)
	}
	if q.s.CheckedOut() != 2 {
		t.Errorf("checked out %d, want 2", q.s.CheckedOut())
	}
	// c of higher priority: b quiesces until it holds nothing.
	q.do(Checkout{Consumer: c, Priority: 9})
	_, effs = q.do(Enqueue{TTL: -1})
	if len(kinds(effs, EffectDeliver)) != 0 {
		t.Errorf("delivered while b quiesces: %v", effs)
	}
	_, effs = q.do(Settle{Consumer: b, IDs: []uint64{0}})
	if got := deliveries(effs, c); len(got) != 1 || got[0].Index != q.idx-1 {
		t.Errorf("c after b settled: %v", effs)
	}
	// c's node goes: b is next again (a is cancelled).
	_, effs = q.do(NodeDown{Node: chB.Node})
	if got := deliveries(effs, b); len(got) != 1 || !got[0].Redelivered {
		t.Errorf("b after c's node went: %v", effs)
	}
	if res, _ := q.do(Get{Consumer: cid(chA, "")}); res.Outcome != GetUnsupported {
		t.Errorf("basic.get: %v", res.Outcome)
	}
}

// TestReturnToFront: a returned message goes back to the front of the
// queue, redelivered, with its delivery count incremented.
func TestReturnToFront(t *testing.T) {
	q := newQ(t, defaultCfg())
	for range 3 {
		q.put(1, 0)
	}
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Prefetch: 1})
	_, effs := q.do(Return{Consumer: c, IDs: []uint64{0}})
	got := deliveries(effs, c)
	if len(got) != 1 || got[0] != (Delivery{ID: 1, Index: 1, Size: 1, DeliveryCount: 1, Redelivered: true}) {
		t.Errorf("redelivery %+v", got)
	}
}

// TestDeliveryLimit: a message returned more than x-delivery-limit times
// is dead-lettered (reason delivery_limit) or, without a dead-letter
// exchange, dropped.
func TestDeliveryLimit(t *testing.T) {
	cases := []struct {
		name    string
		limit   int64
		dl      DeadLetterStrategy
		returns int // returns until it goes
	}{
		{"default", DefaultDeliveryLimit, AtMostOnce, 21},
		{"zero", 0, AtMostOnce, 1},
		{"two, dropped", 2, NoDeadLetter, 3},
		{"two, at least once", 2, AtLeastOnce, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQ(t, Config{DeliveryLimit: tc.limit, DeadLetter: tc.dl})
			q.put(1, 0)
			c := cid(chA, "c")
			_, effs := q.do(Checkout{Consumer: c, Prefetch: 1})
			n := 0
			for {
				got := deliveries(effs, c)
				if len(got) != 1 {
					break
				}
				if got[0].DeliveryCount != uint32(n) {
					t.Fatalf("delivery %d has count %d", n, got[0].DeliveryCount)
				}
				_, effs = q.do(Return{Consumer: c, IDs: []uint64{got[0].ID}})
				n++
			}
			if n != tc.returns {
				t.Errorf("returned %d times, want %d", n, tc.returns)
			}
			dead := deadOf(effs)
			if tc.dl == NoDeadLetter {
				if len(dead) != 0 {
					t.Errorf("dead-lettered without a dlx: %v", dead)
				}
			} else if len(dead) != 1 || dead[0].Reason != queue.DeliveryLimit || dead[0].DeliveryCount != uint32(n) {
				t.Errorf("dead-letters %+v", dead)
			}
			if q.s.Ready() != 0 || q.s.CheckedOut() != 0 || q.s.DeadLetterPending() != boolInt(tc.dl == AtLeastOnce) {
				t.Errorf("ready %d, checked out %d, pending %d", q.s.Ready(), q.s.CheckedOut(), q.s.DeadLetterPending())
			}
		})
	}
}

// TestDiscard: a reject without requeue dead-letters with reason
// rejected (at most once: gone from the queue at once).
func TestDiscard(t *testing.T) {
	q := newQ(t, Config{DeadLetter: AtMostOnce, DeliveryLimit: -1})
	q.put(7, 0)
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c})
	_, effs := q.do(Discard{Consumer: c, IDs: []uint64{0}})
	dl := kinds(effs, EffectDeadLetter)
	if len(dl) != 1 || dl[0].AtLeastOnce || dl[0].Dead[0] != (DeadMessage{Index: 1, Size: 7, Reason: queue.Rejected}) {
		t.Errorf("dead-letter effects %+v", dl)
	}
	if q.s.CheckedOut() != 0 || q.s.DeadLetterPending() != 0 || q.s.LiveFrom() != q.idx+1 {
		t.Errorf("message still held: checked out %d, pending %d, live from %d", q.s.CheckedOut(),
			q.s.DeadLetterPending(), q.s.LiveFrom())
	}
}

// TestConsumerEnds: a channel down, a node down or a consumer timeout ends
// consumers and returns their messages to the front, a timeout counting a
// failed delivery (as RabbitMQ 4.3's x-delivery-count does) and the others
// not; other consumers then get them.
func TestConsumerEnds(t *testing.T) {
	a, b := cid(chA, "a"), cid(chB, "b")
	cases := []struct {
		name      string
		cmd       Command
		cancelled bool
		count     uint32
	}{
		{"channel down", ChannelDown{Chan: chB}, false, 0},
		{"node down", NodeDown{Node: chB.Node}, false, 0},
		{"consumer timeout", ConsumerTimeout{Consumer: b}, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQ(t, defaultCfg())
			q.do(Checkout{Consumer: b, Prefetch: 2})
			q.put(1, 0)
			q.put(1, 0)
			q.put(1, 0)
			q.do(Checkout{Consumer: a, Prefetch: 1})
			_, effs := q.do(tc.cmd)
			got := deliveries(effs, a)
			if len(got) != 0 {
				t.Errorf("a has no credit yet got %v", got)
			}
			if !slices.Equal(readyIndexes(q.s), []uint64{2, 3}) {
				t.Errorf("ready %v, want b's two first", readyIndexes(q.s))
			}
			if c := kinds(effs, EffectConsumerCancelled); (len(c) == 1 && c[0].Consumer == b) != tc.cancelled {
				t.Errorf("cancel effects %v", c)
			}
			_, effs = q.do(Settle{Consumer: a, IDs: []uint64{0}})
			got = deliveries(effs, a)
			if len(got) != 1 || got[0].Index != 2 || got[0].DeliveryCount != tc.count || !got[0].Redelivered || got[0].ID != 1 {
				t.Errorf("a got %+v", got)
			}
			if res, _ := q.do(Settle{Consumer: b, IDs: []uint64{0}}); res.Outcome != UnknownConsumer {
				t.Errorf("b still there: %v", res.Outcome)
			}
		})
	}
}

// TestGet: basic.get takes one message (answering how many remain), which
// stays checked out until settled, or, with no-ack, is gone at once; an
// empty queue answers Empty.
func TestGet(t *testing.T) {
	q := newQ(t, defaultCfg())
	g := cid(chA, "")
	if res, _ := q.do(Get{Consumer: g}); res.Outcome != Empty {
		t.Errorf("empty queue: %v", res.Outcome)
	}
	q.put(3, 0)
	q.put(4, 0)
	q.put(5, 0)
	res, effs := q.do(Get{Consumer: g})
	if res.Outcome != OK || res.Get.Index != 2 || res.Get.ID != 0 || res.Ready != 2 || len(effs) != 0 {
		t.Fatalf("get: %+v %v", res, effs)
	}
	if q.s.CheckedOut() != 1 || q.s.Consumers() != 0 {
		t.Errorf("checked out %d, consumers %d", q.s.CheckedOut(), q.s.Consumers())
	}
	res, _ = q.do(Get{Consumer: g})
	if res.Get.ID != 1 || res.Get.Index != 3 {
		t.Errorf("second get: %+v", res)
	}
	q.do(Return{Consumer: g, IDs: []uint64{0}})
	q.do(Settle{Consumer: g, IDs: []uint64{1}})
	res, _ = q.do(Get{Consumer: g, AutoSettle: true})
	if !res.Get.Settled || res.Get.Index != 2 || !res.Get.Redelivered || res.Ready != 1 {
		t.Errorf("no-ack get of the returned message: %+v", res)
	}
	if q.s.CheckedOut() != 0 || len(q.s.order) != 0 {
		t.Errorf("one-shot consumer left: %d held, %d consumers", q.s.CheckedOut(), len(q.s.order))
	}
	if res, _ := q.do(Get{Consumer: g, AutoSettle: true}); res.Ready != 0 || res.Get.Index != 4 {
		t.Errorf("last get: %+v", res)
	}
}

// TestResend: a session that saw a gap in its consumer's delivery ids
// gets again exactly the deliveries in the range the consumer still
// holds, in order and with their message indexes; nothing for ids
// settled, out of range, or a consumer that is gone.
func TestResend(t *testing.T) {
	q := newQ(t, defaultCfg())
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Prefetch: 10, Now: 1})
	var idx []uint64
	for range 4 {
		idx = append(idx, q.put(1, 1))
	}
	q.do(Settle{Consumer: c, IDs: []uint64{1}, Now: 2})
	tests := []struct {
		name    string
		cmd     Resend
		ids     []uint64
		indexes []uint64
	}{
		{"gap of two, one settled", Resend{Consumer: c, From: 0, To: 2, Now: 3}, []uint64{0, 2}, []uint64{idx[0], idx[2]}},
		{"one id", Resend{Consumer: c, From: 3, To: 3, Now: 3}, []uint64{3}, []uint64{idx[3]}},
		{"beyond what was delivered", Resend{Consumer: c, From: 4, To: 9, Now: 3}, nil, nil},
		{"unknown consumer", Resend{Consumer: cid(chB, "c"), From: 0, To: 9, Now: 3}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, effs := q.do(tt.cmd)
			var got []Delivery
			for _, e := range kinds(effs, EffectDeliver) {
				got = append(got, e.Deliveries...)
			}
			if !slices.Equal(ids(got), tt.ids) || !slices.Equal(indexes(got), tt.indexes) {
				t.Errorf("resent ids %v indexes %v, want %v %v", ids(got), indexes(got), tt.ids, tt.indexes)
			}
		})
	}
	if n := q.s.CheckedOut(); n != 3 {
		t.Errorf("%d checked out after the resends, want 3: a resend changes nothing", n)
	}
}
