package fifo

import (
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestEnqueueDeduplicates: a publisher's resend at or below the last
// sequence seen is answered Duplicate and not enqueued twice, until the
// publisher is forgotten; untracked messages are never deduplicated. (Here
// without Contiguous, as the entries of earlier versions are.)
func TestEnqueueDeduplicates(t *testing.T) {
	pubB := queue.Publisher{Node: "n1", Conn: 1, Channel: 2}
	type step struct {
		cmd  Command
		want Outcome
	}
	cases := []struct {
		name  string
		steps []step
		ready int
	}{
		{"resends", []step{
			{Enqueue{From: pubA, Seq: 1, TTL: -1}, OK},
			{Enqueue{From: pubA, Seq: 2, TTL: -1}, OK},
			{Enqueue{From: pubA, Seq: 2, TTL: -1}, Duplicate},
			{Enqueue{From: pubA, Seq: 1, TTL: -1}, Duplicate},
			{Enqueue{From: pubA, Seq: 5, TTL: -1}, OK},
		}, 3},
		{"publishers apart", []step{
			{Enqueue{From: pubA, Seq: 1, TTL: -1}, OK},
			{Enqueue{From: pubB, Seq: 1, TTL: -1}, OK},
		}, 2},
		{"untracked", []step{
			{Enqueue{TTL: -1}, OK},
			{Enqueue{TTL: -1}, OK},
		}, 2},
		{"publisher gone", []step{
			{Enqueue{From: pubA, Seq: 3, TTL: -1}, OK},
			{PublisherGone{From: pubA}, OK},
			{Enqueue{From: pubA, Seq: 1, TTL: -1}, OK},
		}, 2},
		{"channel down", []step{
			{Enqueue{From: pubA, Seq: 3, TTL: -1}, OK},
			{ChannelDown{Chan: pubA}, OK},
			{Enqueue{From: pubA, Seq: 3, TTL: -1}, OK},
		}, 2},
		{"node down keeps publishers", []step{
			{Enqueue{From: pubA, Seq: 3, TTL: -1}, OK},
			{NodeDown{Node: pubA.Node}, OK},
			{Enqueue{From: pubA, Seq: 3, TTL: -1}, Duplicate},
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQ(t, defaultCfg())
			for i, st := range tc.steps {
				if res, _ := q.do(st.cmd); res.Outcome != st.want {
					t.Errorf("step %d %T: %v, want %v", i, st.cmd, res.Outcome, st.want)
				}
			}
			if q.s.Ready() != tc.ready {
				t.Errorf("ready %d, want %d", q.s.Ready(), tc.ready)
			}
		})
	}
}

// inSeq is publisher pubA's Contiguous enqueue numbered n in base b (a
// multiple of SeqBase).
func inSeq(b, n uint64) Enqueue {
	return Enqueue{From: pubA, Seq: b + n, Contiguous: true, TTL: -1}
}

// TestEnqueueInSequence: a publisher that numbers its publishes one after
// another has only the next number enqueued: one past it (an earlier one
// not applied yet, or lost) is answered OutOfSequence, not enqueued and
// not recorded, so the earlier one, then it, are enqueued when they come;
// Duplicate is the answer only to a number that was enqueued. A new base
// (a new session) starts at its first number, an older base's numbers are
// out of sequence, a forgotten publisher starts a base again, and a
// publish refused by reject-publish leaves the next number where it was.
func TestEnqueueInSequence(t *testing.T) {
	const b1, b2 = 5 * SeqBase, 6 * SeqBase
	type step struct {
		cmd  Command
		want Outcome
	}
	cases := []struct {
		name  string
		cfg   Config
		steps []step
		ready int
	}{
		{"in order", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 2), OK}, {inSeq(b1, 3), OK},
		}, 3},
		{"overtaken", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 3), OutOfSequence}, {inSeq(b1, 4), OutOfSequence},
			{inSeq(b1, 2), OK}, {inSeq(b1, 3), OK}, {inSeq(b1, 4), OK},
		}, 4},
		{"resent", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 2), OK}, {inSeq(b1, 1), Duplicate}, {inSeq(b1, 2), Duplicate},
			{inSeq(b1, 3), OK},
		}, 3},
		{"a new publisher starts at the first", defaultCfg(), []step{
			{inSeq(b1, 2), OutOfSequence}, {inSeq(b1, 1), OK}, {inSeq(b1, 2), OK},
		}, 2},
		{"a new base", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 2), OK}, {inSeq(b2, 2), OutOfSequence}, {inSeq(b2, 1), OK},
			{inSeq(b2, 2), OK}, {inSeq(b1, 3), OutOfSequence}, {inSeq(b1, 1), OutOfSequence},
		}, 4},
		{"channel down forgets", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 2), OK}, {ChannelDown{Chan: pubA}, OK},
			{inSeq(b1, 3), OutOfSequence}, {inSeq(b2, 1), OK},
		}, 3},
		{"publisher gone forgets", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {PublisherGone{From: pubA}, OK}, {inSeq(b1, 2), OutOfSequence},
			{inSeq(b1, 1), OK},
		}, 2},
		{"node down keeps", defaultCfg(), []step{
			{inSeq(b1, 1), OK}, {NodeDown{Node: pubA.Node}, OK}, {inSeq(b1, 1), Duplicate}, {inSeq(b1, 2), OK},
		}, 2},
		{"rejected", Config{HasMaxLength: true, MaxLength: 2, Overflow: queue.RejectPublish}, []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 2), OK}, {inSeq(b1, 3), Rejected}, {inSeq(b1, 4), OutOfSequence},
			{inSeq(b1, 3), Rejected}, // a resend is judged again, never a duplicate
			{Purge{}, OK},
			{inSeq(b1, 3), OK}, {inSeq(b1, 4), OK}, {inSeq(b1, 3), Duplicate},
		}, 2},
		{"rejected, then a new base", Config{HasMaxLength: true, MaxLength: 1, Overflow: queue.RejectPublish}, []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 2), Rejected}, {Purge{}, OK}, {inSeq(b2, 1), OK}, {inSeq(b1, 2), OutOfSequence},
		}, 1},
		{"sequence checked before the limit", Config{HasMaxLength: true, MaxLength: 1, Overflow: queue.RejectPublish}, []step{
			{inSeq(b1, 1), OK}, {inSeq(b1, 1), Duplicate}, {inSeq(b1, 3), OutOfSequence}, {inSeq(b1, 2), Rejected},
		}, 1},
		{"not contiguous: earlier entries' rule", defaultCfg(), []step{
			{Enqueue{From: pubA, Seq: 5, TTL: -1}, OK}, {Enqueue{From: pubA, Seq: 9, TTL: -1}, OK},
			{Enqueue{From: pubA, Seq: 7, TTL: -1}, Duplicate},
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQ(t, tc.cfg)
			for i, st := range tc.steps {
				before, known := q.s.publishers[pubA]
				res, _ := q.do(st.cmd)
				if res.Outcome != st.want {
					t.Errorf("step %d %#v: %v, want %v", i, st.cmd, res.Outcome, st.want)
				}
				after, still := q.s.publishers[pubA]
				if e, ok := st.cmd.(Enqueue); ok && res.Outcome != OK && (after != before || still != known) {
					t.Errorf("step %d: seq %d answered %v moved the publisher's last from %d to %d", i, e.Seq, res.Outcome, before, after)
				}
			}
			if q.s.Ready() != tc.ready {
				t.Errorf("ready %d, want %d", q.s.Ready(), tc.ready)
			}
		})
	}
}

// TestLengthLimits: drop-head dead-letters the oldest ready messages
// (reason maxlen) to stay within x-max-length / x-max-length-bytes;
// reject-publish refuses the enqueue instead, and a refused sequence can
// be sent again.
func TestLengthLimits(t *testing.T) {
	cases := []struct {
		name      string
		cfg       Config
		sizes     []uint32
		outcomes  []Outcome
		ready     []uint64 // indexes left, in order
		deadIdx   []uint64
		readySize uint64
	}{
		{"drop-head length", Config{HasMaxLength: true, MaxLength: 2, DeadLetter: AtMostOnce},
			[]uint32{1, 1, 1}, []Outcome{OK, OK, OK}, []uint64{2, 3}, []uint64{1}, 2},
		{"drop-head zero", Config{HasMaxLength: true, MaxLength: 0, DeadLetter: AtMostOnce},
			[]uint32{1}, []Outcome{OK}, nil, []uint64{1}, 0},
		{"drop-head bytes", Config{HasMaxBytes: true, MaxBytes: 10, DeadLetter: AtMostOnce},
			[]uint32{4, 4, 4}, []Outcome{OK, OK, OK}, []uint64{2, 3}, []uint64{1}, 8},
		{"drop-head no dlx", Config{HasMaxLength: true, MaxLength: 1},
			[]uint32{1, 1}, []Outcome{OK, OK}, []uint64{2}, nil, 1},
		{"reject-publish length", Config{HasMaxLength: true, MaxLength: 2, Overflow: queue.RejectPublish},
			[]uint32{1, 1, 1}, []Outcome{OK, OK, Rejected}, []uint64{1, 2}, nil, 2},
		{"reject-publish bytes", Config{HasMaxBytes: true, MaxBytes: 10, Overflow: queue.RejectPublish},
			[]uint32{4, 4, 4, 2}, []Outcome{OK, OK, Rejected, OK}, []uint64{1, 2, 4}, nil, 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := newQ(t, tc.cfg)
			var dead []uint64
			for i, size := range tc.sizes {
				res, effs := q.do(Enqueue{From: pubA, Seq: uint64(i + 1), Size: size, TTL: -1})
				if res.Outcome != tc.outcomes[i] {
					t.Errorf("enqueue %d: %v, want %v", i, res.Outcome, tc.outcomes[i])
				}
				for _, d := range deadOf(effs) {
					if d.Reason != queue.MaxLen {
						t.Errorf("dead-letter reason %v, want maxlen", d.Reason)
					}
					dead = append(dead, d.Index)
				}
			}
			if got := readyIndexes(q.s); !slices.Equal(got, tc.ready) {
				t.Errorf("ready %v, want %v", got, tc.ready)
			}
			if !slices.Equal(dead, tc.deadIdx) {
				t.Errorf("dead-lettered %v, want %v", dead, tc.deadIdx)
			}
			if q.s.ReadyBytes() != tc.readySize {
				t.Errorf("ready bytes %d, want %d", q.s.ReadyBytes(), tc.readySize)
			}
		})
	}
	t.Run("rejected sequence resent", func(t *testing.T) {
		q := newQ(t, Config{HasMaxLength: true, MaxLength: 1, Overflow: queue.RejectPublish})
		q.do(Enqueue{From: pubA, Seq: 1, TTL: -1})
		if res, _ := q.do(Enqueue{From: pubA, Seq: 2, TTL: -1}); res.Outcome != Rejected {
			t.Fatalf("over the limit: %v", res.Outcome)
		}
		q.do(Purge{})
		if res, _ := q.do(Enqueue{From: pubA, Seq: 2, TTL: -1}); res.Outcome != OK {
			t.Errorf("resent after room was made: %v", res.Outcome)
		}
	})
}

// readyIndexes returns the ready messages' indexes in delivery order.
func readyIndexes(s *State) []uint64 {
	var out []uint64
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		for i := range d.len() {
			out = append(out, d.at(i).index)
		}
	}
	return out
}

// TestMessagePriority: as in RabbitMQ 4, a priority above 4 is high and
// delivered before every normal message; within a level, FIFO.
func TestMessagePriority(t *testing.T) {
	q := newQ(t, defaultCfg())
	for _, p := range []uint8{0, 5, 4, 9, 1} {
		q.do(Enqueue{Priority: p, TTL: -1})
	}
	c := cid(chA, "c")
	_, effs := q.do(Checkout{Consumer: c})
	if got := indexes(deliveries(effs, c)); !slices.Equal(got, []uint64{2, 4, 1, 3, 5}) {
		t.Errorf("delivery order %v, want [2 4 1 3 5]", got)
	}
}

// TestPurge drops the ready messages only and says how many.
func TestPurge(t *testing.T) {
	q := newQ(t, defaultCfg())
	for range 3 {
		q.put(10, 0)
	}
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Prefetch: 1})
	res, _ := q.do(Purge{})
	if res.Purged != 2 || q.s.Ready() != 0 || q.s.ReadyBytes() != 0 || q.s.CheckedOut() != 1 {
		t.Errorf("purged %d, ready %d (%d bytes), checked out %d; want 2, 0, 0, 1",
			res.Purged, q.s.Ready(), q.s.ReadyBytes(), q.s.CheckedOut())
	}
}

// TestConfigFromArgs: the dead-letter strategy and overflow RabbitMQ
// settles on for a quorum queue's arguments.
func TestConfigFromArgs(t *testing.T) {
	cases := []struct {
		name     string
		args     queue.Args
		strategy string
		dl       DeadLetterStrategy
		overflow queue.Overflow
		limit    int64
	}{
		{"no dlx", queue.Args{}, "at-least-once", NoDeadLetter, queue.DropHead, 20},
		{"dlx", queue.Args{HasDeadLetterExchange: true}, "", AtMostOnce, queue.DropHead, 20},
		{"at-least-once needs reject-publish", queue.Args{HasDeadLetterExchange: true}, "at-least-once",
			AtMostOnce, queue.DropHead, 20},
		{"at-least-once", queue.Args{HasDeadLetterExchange: true, Overflow: queue.RejectPublish},
			"at-least-once", AtLeastOnce, queue.RejectPublish, 20},
		{"reject-publish-dlx is drop-head", queue.Args{Overflow: queue.RejectPublishDLX}, "",
			NoDeadLetter, queue.DropHead, 20},
		{"delivery limit", queue.Args{HasDeliveryLimit: true, DeliveryLimit: 3}, "", NoDeadLetter, queue.DropHead, 3},
	}
	for _, tc := range cases {
		c := ConfigFromArgs(tc.args, tc.strategy, 0)
		if c.DeadLetter != tc.dl || c.Overflow != tc.overflow || c.DeliveryLimit != tc.limit {
			t.Errorf("%s: strategy %v, overflow %v, limit %d; want %v, %v, %d", tc.name,
				c.DeadLetter, c.Overflow, c.DeliveryLimit, tc.dl, tc.overflow, tc.limit)
		}
	}
}
