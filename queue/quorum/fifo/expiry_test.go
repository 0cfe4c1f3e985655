package fifo

import (
	"math"
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestMessageTTL: a ready message expires at enqueue time plus the lower
// of x-message-ttl and its expiration, by the commands' time: the state
// asks for a timer at the next expiry, and a Tick at that time
// dead-letters it (reason expired). Delivered messages do not expire.
func TestMessageTTL(t *testing.T) {
	cases := []struct {
		name   string
		cfg    Config
		ttl    int64
		expiry int64
	}{
		{"queue ttl", Config{HasMessageTTL: true, MessageTTL: 100, DeadLetter: AtMostOnce}, -1, 1100},
		{"message ttl", Config{DeadLetter: AtMostOnce}, 50, 1050},
		{"lower of both", Config{HasMessageTTL: true, MessageTTL: 100, DeadLetter: AtMostOnce}, 30, 1030},
		{"queue ttl lower", Config{HasMessageTTL: true, MessageTTL: 20, DeadLetter: AtMostOnce}, 30, 1020},
		{"zero", Config{HasMessageTTL: true, MessageTTL: 0, DeadLetter: AtMostOnce}, -1, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQ(t, tc.cfg)
			_, effs := q.do(Enqueue{Size: 3, TTL: tc.ttl, Now: 1000})
			if tc.expiry == 1000 {
				// Expired by the enqueue's own time, as rabbit_fifo does.
				if d := deadOf(effs); len(d) != 1 || d[0].Reason != queue.Expired {
					t.Errorf("TTL 0: %v", effs)
				}
				return
			}
			if tm := kinds(effs, EffectExpiryTimer); len(tm) != 1 || tm[0].At != tc.expiry {
				t.Fatalf("timer effects %v, want one at %d", tm, tc.expiry)
			}
			if _, effs = q.do(Tick{Now: tc.expiry - 1}); len(effs) != 0 || q.s.Ready() != 1 {
				t.Errorf("before expiry: %v, ready %d", effs, q.s.Ready())
			}
			_, effs = q.do(Tick{Now: tc.expiry})
			if d := deadOf(effs); len(d) != 1 || d[0] != (DeadMessage{Index: 1, Size: 3, Reason: queue.Expired}) {
				t.Errorf("at expiry: %v", effs)
			}
			if q.s.Ready() != 0 || q.s.ReadyBytes() != 0 {
				t.Errorf("ready %d (%d bytes) after expiry", q.s.Ready(), q.s.ReadyBytes())
			}
		})
	}
	t.Run("checked out does not expire", func(t *testing.T) {
		q := newQ(t, Config{HasMessageTTL: true, MessageTTL: 10, DeadLetter: AtMostOnce, DeliveryLimit: 20})
		c := cid(chA, "c")
		q.do(Checkout{Consumer: c, Prefetch: 1, Now: 0})
		q.do(Enqueue{TTL: -1, Now: 0})
		q.do(Enqueue{TTL: -1, Now: 0})
		_, effs := q.do(Tick{Now: 50})
		if d := deadOf(effs); len(d) != 1 || d[0].Index != 3 || q.s.CheckedOut() != 1 {
			t.Errorf("tick: %v, checked out %d", effs, q.s.CheckedOut())
		}
		// Returned after its expiry, it expires at the head.
		_, effs = q.do(Return{Consumer: c, IDs: []uint64{0}, Now: 60})
		if d := deadOf(effs); len(d) != 1 || d[0].Index != 2 || len(deliveries(effs, c)) != 0 {
			t.Errorf("returned expired message: %v", effs)
		}
	})
	t.Run("expired at the head only", func(t *testing.T) {
		q := newQ(t, Config{DeadLetter: AtMostOnce})
		q.do(Enqueue{TTL: 100, Now: 0})
		q.do(Enqueue{TTL: 10, Now: 0})
		_, effs := q.do(Tick{Now: 50})
		if len(deadOf(effs)) != 0 {
			t.Errorf("a message behind a longer TTL expired: %v", effs)
		}
		_, effs = q.do(Tick{Now: 100})
		if d := deadOf(effs); len(d) != 2 {
			t.Errorf("both once the head expired: %v", effs)
		}
	})
	t.Run("TTL past the range never expires", func(t *testing.T) {
		q := newQ(t, Config{DeadLetter: AtMostOnce})
		_, effs := q.do(Enqueue{TTL: math.MaxInt64, Now: 1000})
		if _, effs2 := q.do(Tick{Now: math.MaxInt64 - 1}); len(effs)+len(effs2) != 0 || q.s.Ready() != 1 {
			t.Errorf("effects %v %v, ready %d", effs, effs2, q.s.Ready())
		}
	})
	t.Run("time does not step back", func(t *testing.T) {
		q := newQ(t, Config{DeadLetter: AtMostOnce})
		q.do(Enqueue{TTL: 100, Now: 1000})
		q.do(Tick{Now: 1200})
		if q.s.Ready() != 0 {
			t.Fatal("not expired")
		}
		q.do(Enqueue{TTL: 100, Now: 900}) // a new leader's clock behind
		if tm := q.s.expiryTimer; tm != 1300 {
			t.Errorf("expiry %d, want 1300 (from the latest time seen)", tm)
		}
	})
}

// TestQueueExpires: x-expires counts from the queue's creation or its last
// use; a Tick after that long unused asks for the queue's deletion, and
// the state asks for a timer when the lease starts.
func TestQueueExpires(t *testing.T) {
	q := newQ(t, Config{Expires: 1000, Created: 5000})
	_, effs := q.do(Enqueue{TTL: -1, Now: 5100})
	if tm := kinds(effs, EffectQueueTimer); len(tm) != 1 || tm[0].At != 6000 {
		t.Errorf("lease timer %v, want at 6000", tm)
	}
	if _, effs = q.do(Tick{Now: 5999}); len(kinds(effs, EffectDeleteQueue)) != 0 {
		t.Errorf("deleted early: %v", effs)
	}
	q.do(Touch{Now: 5999})
	if _, effs = q.do(Tick{Now: 6000}); len(kinds(effs, EffectDeleteQueue)) != 0 {
		t.Errorf("deleted although touched: %v", effs)
	}
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Now: 6500})
	if _, effs = q.do(Tick{Now: 9000}); len(kinds(effs, EffectDeleteQueue)) != 0 {
		t.Errorf("deleted with a consumer: %v", effs)
	}
	_, effs = q.do(Cancel{Consumer: c, Now: 9500})
	if tm := kinds(effs, EffectQueueTimer); len(tm) != 1 || tm[0].At != 10500 {
		t.Errorf("lease timer after the last consumer went: %v", tm)
	}
	if _, effs = q.do(Tick{Now: 10500}); len(kinds(effs, EffectDeleteQueue)) != 1 {
		t.Errorf("not deleted after the lease: %v", effs)
	}
}

// TestAtLeastOnce: a dead-lettered message stays in the queue, counting
// towards its length limit, until DeadLetterSettled confirms it; a new
// leader is asked again for every one pending.
func TestAtLeastOnce(t *testing.T) {
	cfg := ConfigFromArgs(queue.Args{HasDeadLetterExchange: true, Overflow: queue.RejectPublish,
		HasMaxLength: true, MaxLength: 2}, "at-least-once", 0)
	q := newQ(t, cfg)
	q.put(5, 0)
	q.put(6, 0)
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c})
	_, effs := q.do(Discard{Consumer: c, IDs: []uint64{0, 1}})
	dl := kinds(effs, EffectDeadLetter)
	if len(dl) != 1 || !dl[0].AtLeastOnce || len(dl[0].Dead) != 2 {
		t.Fatalf("dead-letter effects %+v", dl)
	}
	if q.s.DeadLetterPending() != 2 || q.s.LiveFrom() != 1 {
		t.Errorf("pending %d, live from %d", q.s.DeadLetterPending(), q.s.LiveFrom())
	}
	if res, _ := q.do(Enqueue{TTL: -1}); res.Outcome != Rejected {
		t.Errorf("pending dead-letters do not count towards the limit: %v", res.Outcome)
	}
	_, effs = q.do(LeaderElected{Node: "n2"})
	if d := deadOf(effs); len(d) != 2 || d[0].Index != 1 || d[1].Index != 2 {
		t.Errorf("new leader re-asked %v", d)
	}
	q.do(DeadLetterSettled{Indexes: []uint64{1, 99}})
	if q.s.DeadLetterPending() != 1 || q.s.LiveFrom() != 2 {
		t.Errorf("pending %d, live from %d after settling index 1", q.s.DeadLetterPending(), q.s.LiveFrom())
	}
	if res, _ := q.do(Enqueue{TTL: -1}); res.Outcome != OK {
		t.Errorf("room after a settle: %v", res.Outcome)
	}
}

// TestLeaderElected: a new leader is re-issued every unsettled delivery
// (same ids), the single active consumer and the timers.
func TestLeaderElected(t *testing.T) {
	q := newQ(t, Config{HasMessageTTL: true, MessageTTL: 1000, SingleActive: true, Expires: 60_000, DeliveryLimit: 20})
	a, b := cid(chA, "a"), cid(chB, "b")
	q.do(Checkout{Consumer: a, Prefetch: 2})
	q.do(Checkout{Consumer: b, Prefetch: 2})
	for range 3 {
		q.put(1, 0)
	}
	q.do(Settle{Consumer: a, IDs: []uint64{0}})
	_, effs := q.do(LeaderElected{Node: "n3", Now: 10})
	if got := deliveries(effs, a); !slices.Equal(ids(got), []uint64{1, 2}) || !slices.Equal(indexes(got), []uint64{4, 5}) {
		t.Errorf("re-issued %v", got)
	}
	if act := kinds(effs, EffectConsumerActive); len(act) != 1 || act[0].Consumer != a {
		t.Errorf("active consumer %v", act)
	}
	if len(deliveries(effs, b)) != 0 || len(kinds(effs, EffectQueueTimer)) != 0 {
		t.Errorf("b or a lease in use: %v", effs)
	}
	q.do(Cancel{Consumer: a, Now: 20})
	q.do(Cancel{Consumer: b, Now: 20})
	q.do(Return{Consumer: a, IDs: []uint64{1}, Now: 30})
	_, effs = q.do(LeaderElected{Node: "n1", Now: 40})
	if tm := kinds(effs, EffectExpiryTimer); len(tm) != 1 || tm[0].At != 1000 {
		t.Errorf("expiry timer %v", tm)
	}
	if tm := kinds(effs, EffectQueueTimer); len(tm) != 1 || tm[0].At != 60_020 {
		t.Errorf("lease timer %v", tm)
	}
}

// TestLiveFrom: the lowest index still referenced, wherever the message
// is; past the last applied index when the queue holds nothing.
func TestLiveFrom(t *testing.T) {
	q := newQ(t, defaultCfg())
	if q.s.LiveFrom() != 1 {
		t.Errorf("empty: %d", q.s.LiveFrom())
	}
	q.put(1, 0) // 1
	q.put(1, 0) // 2
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Prefetch: 1}) // 3, takes 1
	q.do(Enqueue{Priority: 9, TTL: -1})      // 4, high
	if q.s.LiveFrom() != 1 {
		t.Errorf("checked out oldest: %d", q.s.LiveFrom())
	}
	q.do(Settle{Consumer: c, IDs: []uint64{0}}) // takes 4 (high)
	if q.s.LiveFrom() != 2 {
		t.Errorf("after settling 1: %d", q.s.LiveFrom())
	}
	q.do(Settle{Consumer: c, IDs: []uint64{1}}) // takes 2
	q.do(Settle{Consumer: c, IDs: []uint64{2}})
	if q.s.LiveFrom() != q.idx+1 {
		t.Errorf("nothing held: %d, want %d", q.s.LiveFrom(), q.idx+1)
	}
}
