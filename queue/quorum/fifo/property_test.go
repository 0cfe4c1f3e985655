package fifo

import (
	"bytes"
	"maps"
	"reflect"
	"slices"
	"testing"

	"github.com/warrenmq/warren/queue"
	"pgregory.net/rapid"
)

// The pools random commands draw from: few enough that commands collide.
var (
	propChans = []queue.Publisher{
		{Node: "n1", Conn: 1, Channel: 1}, {Node: "n1", Conn: 1, Channel: 2}, {Node: "n2", Conn: 7, Channel: 1},
	}
	propTags = []string{"a", "b", ""}
)

func genConfig(t *rapid.T) Config {
	c := Config{
		SingleActive:  rapid.Bool().Draw(t, "sac"),
		DeliveryLimit: rapid.Int64Range(-1, 3).Draw(t, "deliveryLimit"),
		Expires:       rapid.SampledFrom([]int64{0, 50}).Draw(t, "expires"),
		DeadLetter:    rapid.SampledFrom([]DeadLetterStrategy{AtMostOnce, AtLeastOnce}).Draw(t, "dl"),
	}
	if c.HasMaxLength = rapid.Bool().Draw(t, "hasMaxLength"); c.HasMaxLength {
		c.MaxLength = rapid.Int64Range(0, 5).Draw(t, "maxLength")
	}
	if c.HasMaxBytes = rapid.Bool().Draw(t, "hasMaxBytes"); c.HasMaxBytes {
		c.MaxBytes = rapid.Int64Range(0, 200).Draw(t, "maxBytes")
	}
	if rapid.Bool().Draw(t, "rejectPublish") {
		c.Overflow = queue.RejectPublish
	}
	if c.HasMessageTTL = rapid.Bool().Draw(t, "hasTTL"); c.HasMessageTTL {
		c.MessageTTL = rapid.Int64Range(0, 40).Draw(t, "ttl")
	}
	return c
}

func genConsumerID(t *rapid.T) ConsumerID {
	return ConsumerID{Chan: rapid.SampledFrom(propChans).Draw(t, "chan"), Tag: rapid.SampledFrom(propTags).Draw(t, "tag")}
}

// genIDs draws ids to settle: some the consumer holds, maybe one it does
// not.
func genIDs(t *rapid.T, s *State, id ConsumerID) []uint64 {
	var held []uint64
	if c, ok := s.consumers[id]; ok {
		held = c.sortedIDs()
	}
	var out []uint64
	for _, h := range held {
		if rapid.Bool().Draw(t, "pick") {
			out = append(out, h)
		}
	}
	if rapid.IntRange(0, 4).Draw(t, "bogus") == 0 {
		out = append(out, rapid.Uint64Range(0, 20).Draw(t, "bogusID"))
	}
	return out
}

// genCommand draws a command, reading s to settle ids it holds.
func genCommand(t *rapid.T, s *State, now int64) Command {
	id := genConsumerID(t)
	switch rapid.IntRange(0, 20).Draw(t, "op") {
	case 0, 1, 2, 3, 4, 5:
		e := Enqueue{Size: uint32(rapid.IntRange(0, 60).Draw(t, "size")), TTL: -1,
			Priority: uint8(rapid.IntRange(0, 9).Draw(t, "prio")), Now: now}
		if rapid.Bool().Draw(t, "tracked") {
			e.From = id.Chan
			// The last channel publishes as earlier versions did.
			if e.Contiguous = e.From != propChans[len(propChans)-1]; e.Contiguous {
				e.Seq = genSeq(t, s.publishers[e.From])
			} else {
				e.Seq = rapid.Uint64Range(1, 12).Draw(t, "seq")
			}
		}
		if rapid.Bool().Draw(t, "hasTTL") {
			e.TTL = rapid.Int64Range(0, 60).Draw(t, "msgTTL")
		}
		return e
	case 6, 7:
		return Checkout{Consumer: id, Prefetch: uint32(rapid.IntRange(0, 3).Draw(t, "prefetch")),
			Priority: int32(rapid.IntRange(-1, 2).Draw(t, "cprio")), AutoSettle: rapid.IntRange(0, 5).Draw(t, "noack") == 0,
			Now: now}
	case 8:
		return Cancel{Consumer: id, Now: now}
	case 9, 10:
		return Settle{Consumer: id, IDs: genIDs(t, s, id), Now: now}
	case 11:
		return Return{Consumer: id, IDs: genIDs(t, s, id), Now: now}
	case 12:
		return Discard{Consumer: id, IDs: genIDs(t, s, id), Now: now}
	case 13:
		return Get{Consumer: id, AutoSettle: rapid.Bool().Draw(t, "getNoAck"), Now: now}
	case 14:
		switch rapid.IntRange(0, 4).Draw(t, "down") {
		case 0:
			return ChannelDown{Chan: id.Chan, Now: now}
		case 1:
			return NodeDown{Node: id.Chan.Node, Now: now}
		case 2:
			return ConsumerTimeout{Consumer: id, Now: now}
		case 3:
			var nodes []string
			if rapid.Bool().Draw(t, "unreachable") {
				nodes = []string{id.Chan.Node}
			}
			return Unreachable{Nodes: nodes, Now: now}
		}
		return PublisherGone{From: id.Chan, Now: now}
	case 15:
		var idx []uint64
		for _, i := range s.dlxIndexes() {
			if rapid.Bool().Draw(t, "dlxPick") {
				idx = append(idx, i)
			}
		}
		return DeadLetterSettled{Indexes: idx, Now: now}
	case 16:
		return LeaderElected{Node: id.Chan.Node, Now: now}
	case 17:
		return Purge{Now: now}
	case 18:
		return Touch{Now: now}
	case 19:
		return UpdateConfig{Config: genConfig(t), Now: now}
	}
	return Tick{Now: now}
}

// genSeq draws a Contiguous publish number for a publisher whose last
// recorded one is last (0: none): often the next, else a resend, one
// past a gap, or a number of another base.
func genSeq(t *rapid.T, last uint64) uint64 {
	base := rapid.Uint64Range(1, 3).Draw(t, "base") * SeqBase
	switch rapid.IntRange(0, 5).Draw(t, "seqKind") {
	case 0, 1, 2:
		if last > 0 {
			return last + 1
		}
		return base + 1
	case 3:
		if back := rapid.Uint64Range(0, 2).Draw(t, "back"); last > baseOf(last)+back {
			return last - back
		}
	}
	return base + rapid.Uint64Range(1, 6).Draw(t, "n")
}

// publishModel is what each publisher had enqueued since it was last
// forgotten, for the Contiguous enqueues' invariants.
type publishModel map[queue.Publisher]map[uint64]bool

// check checks a Contiguous enqueue's answer against the model and the
// publisher's last number before (was, known) and after Apply: enqueued
// only if never before and right after the last one enqueued (the first
// of a newer base), Duplicate only if enqueued before; the last number
// recorded moves only when one is enqueued.
func (m publishModel) check(t *rapid.T, s *State, c Enqueue, res Result, was uint64, known bool) {
	sent := m[c.From]
	now, still := s.publishers[c.From]
	switch res.Outcome {
	case OK:
		if sent[c.Seq] {
			t.Fatalf("seq %d enqueued twice", c.Seq)
		}
		if c.Seq != baseOf(c.Seq)+1 && !sent[c.Seq-1] {
			t.Fatalf("seq %d enqueued past a gap", c.Seq)
		}
		if known && c.Seq <= was {
			t.Fatalf("seq %d enqueued after %d", c.Seq, was)
		}
		if now != c.Seq || !still {
			t.Fatalf("seq %d enqueued, last recorded %d", c.Seq, now)
		}
		if sent == nil {
			sent = map[uint64]bool{}
			m[c.From] = sent
		}
		sent[c.Seq] = true
		return
	case Duplicate:
		if !sent[c.Seq] {
			t.Fatalf("seq %d answered Duplicate but never enqueued", c.Seq)
		}
	}
	if now != was || still != known {
		t.Fatalf("seq %d answered %v moved the last recorded from %d to %d", c.Seq, res.Outcome, was, now)
	}
}

// forget follows the commands that forget publishers.
func (m publishModel) forget(cmd Command) {
	switch c := cmd.(type) {
	case ChannelDown:
		delete(m, c.Chan)
	case PublisherGone:
		delete(m, c.From)
	}
}

// location is where checkInvariants found a message.
type location struct {
	where string // "ready", "checked", "dlx"
	c     ConsumerID
	id    uint64
}

// locate returns where every message of s is, failing on one found twice.
func locate(t *rapid.T, s *State) map[uint64]location {
	at := map[uint64]location{}
	put := func(idx uint64, l location) {
		if prev, dup := at[idx]; dup {
			t.Fatalf("message %d is both %v and %v", idx, prev, l)
		}
		at[idx] = l
	}
	for _, i := range readyIndexes(s) {
		put(i, location{where: "ready"})
	}
	for _, c := range s.order {
		for id, m := range c.checked {
			put(m.index, location{where: "checked", c: c.id, id: id})
		}
	}
	for i := range s.dlx {
		put(i, location{where: "dlx"})
	}
	return at
}

// checkCounts checks the state's counters against its contents and its
// consumers against their credit and status.
func checkCounts(t *rapid.T, s *State) {
	var rb, db uint64
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		for i := range d.len() {
			rb += uint64(d.at(i).size)
		}
	}
	for _, d := range s.dlx {
		db += uint64(d.Size)
	}
	if rb != s.readyBytes || db != s.dlxBytes {
		t.Fatalf("bytes: ready %d counted %d, dlx %d counted %d", s.readyBytes, rb, s.dlxBytes, db)
	}
	if len(s.order) != len(s.consumers) {
		t.Fatalf("%d consumers in order, %d in the map", len(s.order), len(s.consumers))
	}
	active := 0
	for i, c := range s.order {
		if s.consumers[c.id] != c || (i > 0 && s.order[i-1].key >= c.key) {
			t.Fatalf("consumer order broken at %d", i)
		}
		for id := range c.checked {
			if id >= c.nextID {
				t.Fatalf("consumer %v holds id %d, next is %d", c.id, id, c.nextID)
			}
		}
		if (c.status == statusCancelled || c.oneShot) && len(c.checked) == 0 {
			t.Fatalf("consumer %v kept with nothing to hold", c.id)
		}
		if c.status == statusUp || c.status == statusQuiescing {
			active++
		}
		if !s.cfg.SingleActive && (c.status == statusWaiting || c.status == statusQuiescing) {
			t.Fatalf("consumer %v waits without single active consumer", c.id)
		}
	}
	if s.cfg.SingleActive && active > 1 {
		t.Fatalf("%d active consumers with single active consumer", active)
	}
}

// accepted returns the index an Enqueue added, if it did.
func accepted(idx uint64, cmd Command, res Result) map[uint64]bool {
	if _, ok := cmd.(Enqueue); ok && res.Outcome == OK {
		return map[uint64]bool{idx: true}
	}
	return nil
}

// checkStep checks one applied command: no message appears from nowhere
// and every one that left is accounted for by an ack, a settled delivery,
// a dead-letter effect, a dead-letter settle or a purge; deliveries go to
// consumers that may take them, within their prefetch, with increasing
// ids.
func checkStep(t *rapid.T, before, after map[uint64]location, s *State, idx uint64, cmd Command,
	res Result, effs []Effect, lastID map[ConsumerID]uint64) {
	added := accepted(idx, cmd, res)
	for i := range after {
		if _, was := before[i]; !was && !added[i] {
			t.Fatalf("message %d appeared from nowhere after %#v", i, cmd)
		}
	}
	gone := map[uint64]bool{}
	for i := range before {
		if _, still := after[i]; !still {
			gone[i] = true
		}
	}
	for i := range added {
		if _, still := after[i]; !still {
			gone[i] = true
		}
	}
	if left, want := slices.Sorted(slices.Values(s.Left())), slices.Sorted(maps.Keys(gone)); !slices.Equal(left, want) {
		t.Fatalf("Left says %v left after %#v; %v did", left, cmd, want)
	}
	explain := func(i uint64) {
		if !gone[i] {
			t.Fatalf("message %d reported gone but is %v", i, after[i])
		}
		delete(gone, i)
	}
	switch c := cmd.(type) {
	case Settle:
		for _, id := range c.IDs {
			for i, l := range before {
				if l.where == "checked" && l.c == c.Consumer && l.id == id && gone[i] {
					explain(i)
				}
			}
		}
	case DeadLetterSettled:
		for _, i := range c.Indexes {
			if before[i].where == "dlx" {
				explain(i)
			}
		}
	case Get:
		if res.Get.Settled {
			explain(res.Get.Index)
		}
	case UpdateConfig:
		// Leaving at-least-once dead-lettering drops what waits for
		// its targets.
		if c.Config.DeadLetter != AtLeastOnce {
			for i, l := range before {
				if l.where == "dlx" && gone[i] {
					explain(i)
				}
			}
		}
	}
	leader := false
	if _, ok := cmd.(LeaderElected); ok {
		leader = true
	}
	for _, e := range effs {
		switch e.Kind {
		case EffectDeliver:
			checkDelivery(t, s, e, leader, lastID)
			for _, d := range e.Deliveries {
				if d.Settled {
					explain(d.Index)
				}
			}
		case EffectDeadLetter:
			if !e.AtLeastOnce {
				for _, d := range e.Dead {
					explain(d.Index)
				}
			}
		}
	}
	if len(gone) != int(res.Purged) {
		t.Fatalf("%d messages gone unaccounted for after %#v (purged %d)", len(gone), cmd, res.Purged)
	}
	for i := range gone {
		if before[i].where != "ready" {
			t.Fatalf("purged message %d was %v", i, before[i])
		}
	}
}

// checkDelivery checks an EffectDeliver: to a consumer that may be
// served, within its prefetch, ids strictly increasing per consumer (a new
// leader's re-issue repeats ids it holds).
func checkDelivery(t *rapid.T, s *State, e Effect, leader bool, lastID map[ConsumerID]uint64) {
	c, ok := s.consumers[e.Consumer]
	settled := len(e.Deliveries) > 0 && e.Deliveries[0].Settled
	if !ok && !settled {
		t.Fatalf("delivery to consumer %v the state does not have", e.Consumer)
	}
	for _, d := range e.Deliveries {
		if leader {
			if _, held := c.checked[d.ID]; !held {
				t.Fatalf("re-issued id %d not held by %v", d.ID, e.Consumer)
			}
			continue
		}
		if last, seen := lastID[e.Consumer]; seen && d.ID <= last {
			t.Fatalf("delivery id %d to %v after %d", d.ID, e.Consumer, last)
		}
		lastID[e.Consumer] = d.ID
	}
	if leader || !ok {
		return
	}
	if c.status != statusUp || c.oneShot {
		t.Fatalf("delivery to %v of status %d", e.Consumer, c.status)
	}
	if !c.autoSettle && c.prefetch > 0 && len(c.checked) > int(c.prefetch) {
		t.Fatalf("consumer %v holds %d, prefetch %d", e.Consumer, len(c.checked), c.prefetch)
	}
}

// TestPropertyInvariants: random command sequences keep every message in
// exactly one place, account for every message that leaves, keep
// consumers within their credit with increasing delivery ids, enqueue a
// publisher's number at most once and never past a gap, and answer
// Duplicate only to a number enqueued; a second
// replica fed the same commands through the codec reaches byte-identical
// snapshots with the same answers and effects, and a replica restored
// from a snapshot mid-way goes on identically.
func TestPropertyInvariants(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		a, b := NewState(cfg), NewState(cfg)
		var restored *State
		restoreAt := rapid.IntRange(0, 60).Draw(t, "restoreAt")
		lastID := map[ConsumerID]uint64{}
		model := publishModel{}
		now := int64(0)
		steps := rapid.IntRange(1, 120).Draw(t, "steps")
		for step := range steps {
			idx := uint64(step + 1)
			now += rapid.Int64Range(-3, 15).Draw(t, "dt")
			cmd := genCommand(t, a, now)
			before := locate(t, a)
			if step == restoreAt {
				var err error
				if restored, err = Restore(a.Snapshot()); err != nil {
					t.Fatalf("restore: %v", err)
				}
			}
			enq, contiguous := cmd.(Enqueue)
			contiguous = contiguous && enq.Contiguous
			was, known := a.publishers[enq.From]
			resA, effA := apply(a, idx, cmd)
			if contiguous {
				model.check(t, a, enq, resA, was, known)
			}
			model.forget(cmd)
			dec, err := Decode(Encode(cmd))
			if err != nil {
				t.Fatalf("decode %#v: %v", cmd, err)
			}
			resB, effB := apply(b, idx, dec)
			if !reflect.DeepEqual(resA, resB) || !equalEffects(effA, effB) {
				t.Fatalf("replicas differ after %#v:\n%+v %+v\n%+v %+v", cmd, resA, effA, resB, effB)
			}
			snap := a.Snapshot()
			if !bytes.Equal(snap, b.Snapshot()) {
				t.Fatalf("replica snapshots differ after %#v", cmd)
			}
			var streamed bytes.Buffer
			if n, err := b.WriteSnapshot(&streamed); err != nil || n != int64(len(snap)) || !bytes.Equal(streamed.Bytes(), snap) {
				t.Fatalf("WriteSnapshot wrote %d bytes (%v), not Snapshot's %d", n, err, len(snap))
			}
			if restored != nil {
				resR, effR := apply(restored, idx, cmd)
				if !reflect.DeepEqual(resA, resR) || !equalEffects(effA, effR) || !bytes.Equal(snap, restored.Snapshot()) {
					t.Fatalf("restored replica differs after %#v", cmd)
				}
			}
			after := locate(t, a)
			checkCounts(t, a)
			checkStep(t, before, after, a, idx, cmd, resA, effA, lastID)
			for id := range maps.Keys(lastID) {
				if _, ok := a.consumers[id]; !ok {
					delete(lastID, id)
				}
			}
			if low := a.LiveFrom(); low > idx+1 || (len(after) > 0 && low != slices.Min(slices.Collect(maps.Keys(after)))) {
				t.Fatalf("LiveFrom %d with messages %v", low, slices.Sorted(maps.Keys(after)))
			}
		}
	})
}

// TestPropertySnapshotRestore: any reachable state restores from its
// snapshot to one that snapshots to the same bytes.
func TestPropertySnapshotRestore(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := NewState(genConfig(t))
		now := int64(0)
		for step := range rapid.IntRange(0, 80).Draw(t, "steps") {
			now += rapid.Int64Range(0, 10).Draw(t, "dt")
			s.Apply(uint64(step+1), genCommand(t, s, now))
		}
		snap := s.Snapshot()
		r, err := Restore(snap)
		if err != nil {
			t.Fatalf("restore: %v", err)
		}
		if !bytes.Equal(r.Snapshot(), snap) {
			t.Fatal("snapshot of the restored state differs")
		}
		if r.Ready() != s.Ready() || r.CheckedOut() != s.CheckedOut() || r.DeadLetterPending() != s.DeadLetterPending() ||
			r.LiveFrom() != s.LiveFrom() || r.Consumers() != s.Consumers() || r.ReadyBytes() != s.ReadyBytes() {
			t.Fatal("restored counters differ")
		}
	})
}

// TestPropertyPublisherSequence: whatever order a publisher's enqueues
// reach the queue in, with resends and gaps, each is enqueued at most
// once, and a Duplicate answers only one that was; then sending again, in
// order, those not answered yet (as the proposer does) has every one
// enqueued exactly once.
func TestPropertyPublisherSequence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := NewState(defaultCfg())
		n := rapid.Uint64Range(1, 20).Draw(t, "n")
		base := rapid.Uint64Range(1, 3).Draw(t, "base") * SeqBase
		enqueued := map[uint64]int{}
		answered := map[uint64]bool{}
		idx := uint64(0)
		send := func(seq uint64) {
			idx++
			res, _ := s.Apply(idx, Enqueue{From: pubA, Seq: seq, Contiguous: true, TTL: -1})
			switch res.Outcome {
			case OK:
				enqueued[seq]++
				answered[seq] = true
			case Duplicate:
				if enqueued[seq] == 0 {
					t.Fatalf("seq %d answered Duplicate, never enqueued", seq-base)
				}
				answered[seq] = true
			case OutOfSequence:
			default:
				t.Fatalf("seq %d answered %v", seq-base, res.Outcome)
			}
		}
		for range rapid.IntRange(0, 60).Draw(t, "sends") {
			send(base + rapid.Uint64Range(1, n).Draw(t, "seq"))
		}
		for i := uint64(1); i <= n; i++ {
			if !answered[base+i] {
				send(base + i)
			}
			if !answered[base+i] {
				t.Fatalf("seq %d sent again in order, still out of sequence", i)
			}
		}
		for i := uint64(1); i <= n; i++ {
			if enqueued[base+i] != 1 {
				t.Fatalf("seq %d enqueued %d times", i, enqueued[base+i])
			}
		}
		if s.Ready() != int(n) {
			t.Fatalf("%d ready, want %d", s.Ready(), n)
		}
	})
}
