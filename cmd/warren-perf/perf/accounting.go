package perf

import (
	"slices"
	"sync"
	"sync/atomic"
)

// bitset is a growable set of sequence numbers.
type bitset []uint64

// set adds n and reports whether it was already there.
func (b *bitset) set(n uint64) (was bool) {
	w := int(n / 64)
	if w >= len(*b) {
		grown := make(bitset, max(w+1, 2*len(*b)))
		copy(grown, *b)
		*b = grown
	}
	mask := uint64(1) << (n % 64)
	was = (*b)[w]&mask != 0
	(*b)[w] |= mask
	return was
}

// has reports whether n is in the set.
func (b bitset) has(n uint64) bool {
	w := int(n / 64)
	return w < len(b) && b[w]&(1<<(n%64)) != 0
}

// ledger accounts for every message: what each producer published, what it
// had confirmed, nacked or returned, and what each queue delivered, per
// producer and sequence number.
type ledger struct {
	topo      *topology
	producers []*producerLedger
	queues    []*queueLedger
	// confirmedOnly makes the verdict a total-queue check for runs whose
	// connections may be lost: only a confirmed message is lost when it
	// never arrives; one never confirmed is in doubt.
	confirmedOnly bool
}

// producerLedger is one producer's side of the ledger.
type producerLedger struct {
	published atomic.Uint64 // messages handed to basic.publish: seqs 0..published-1
	routed    atomic.Uint64 // deliveries the published messages call for
	received  atomic.Uint64 // distinct deliveries, plus those of excluded messages
	notify    chan struct{} // pinged on each distinct delivery

	mu       sync.Mutex
	excluded bitset // nacked or returned: not expected at any queue
	acked    bitset // confirmed by the broker
}

// queueLedger is one queue's side of the ledger.
type queueLedger struct {
	mu         sync.Mutex
	seen       []bitset // per producer
	distinct   uint64
	duplicates uint64
	unexpected uint64
}

// newLedger returns an empty ledger for a topology and producer count.
func newLedger(t *topology, producers int) *ledger {
	l := &ledger{topo: t}
	for range producers {
		l.producers = append(l.producers, &producerLedger{notify: make(chan struct{}, 1)})
	}
	for range t.queues {
		l.queues = append(l.queues, &queueLedger{seen: make([]bitset, producers)})
	}
	return l
}

// routesTo returns the queues message (p, seq) should reach.
func (l *ledger) routesTo(p int, seq uint64) []int {
	return l.topo.routes[l.topo.keyIndex(p, seq)]
}

// exclude records that a message will not arrive through no fault of the
// queues: the broker nacked or returned it.
func (l *ledger) exclude(p int, seq uint64) {
	if p < 0 || p >= len(l.producers) {
		return
	}
	pl := l.producers[p]
	pl.mu.Lock()
	was := pl.excluded.set(seq)
	pl.mu.Unlock()
	if !was {
		// Count its deliveries as done, so a producer bounding its messages
		// in flight does not wait for them.
		pl.received.Add(uint64(len(l.topo.routes[l.topo.keyIndex(p, seq)])))
		pl.ping()
	}
}

// ack records that the broker confirmed message seq.
func (pl *producerLedger) ack(seq uint64) {
	pl.mu.Lock()
	pl.acked.set(seq)
	pl.mu.Unlock()
}

// ping wakes a producer waiting for deliveries.
func (pl *producerLedger) ping() {
	select {
	case pl.notify <- struct{}{}:
	default:
	}
}

// receive records a delivery of (p, seq) from queue q. It reports whether
// it was a duplicate, or unexpected (from no producer of this run, or a
// message the routing should not have brought to q).
func (l *ledger) receive(q int, s Stamp) (duplicate, unexpected bool) {
	ql := l.queues[q]
	p := int(s.Producer)
	if p >= len(l.producers) || s.Seq >= l.producers[p].published.Load() ||
		!slices.Contains(l.topo.routes[l.topo.keyIndex(p, s.Seq)], q) {
		ql.mu.Lock()
		ql.unexpected++
		ql.mu.Unlock()
		return false, true
	}
	ql.mu.Lock()
	dup := ql.seen[p].set(s.Seq)
	if dup {
		ql.duplicates++
	} else {
		ql.distinct++
	}
	ql.mu.Unlock()
	if dup {
		return true, false
	}
	pl := l.producers[p]
	pl.received.Add(1)
	pl.ping()
	return false, false
}

// tally is the ledger's verdict.
type tally struct {
	expected   uint64 // deliveries the routing calls for, less nacked and returned messages
	received   uint64 // distinct deliveries
	lost       uint64 // expected deliveries that never came (confirmedOnly: of confirmed messages)
	duplicates uint64 // deliveries of a message the queue had already delivered
	unexpected uint64 // deliveries no publish of this run accounts for
	recovered  uint64 // confirmedOnly: deliveries of messages never confirmed
	inDoubt    uint64 // confirmedOnly: expected deliveries of messages never confirmed that never came
}

// expectedDeliveries counts the deliveries the routing calls for so far,
// without looking at what arrived; cheap enough to poll during the drain.
func (l *ledger) expectedDeliveries() (expected, received uint64) {
	for p, pl := range l.producers {
		n := pl.published.Load()
		pl.mu.Lock()
		for seq := range n {
			if !pl.excluded.has(seq) {
				expected += uint64(len(l.topo.routes[l.topo.keyIndex(p, seq)]))
			}
		}
		pl.mu.Unlock()
	}
	for _, ql := range l.queues {
		ql.mu.Lock()
		received += ql.distinct
		ql.mu.Unlock()
	}
	return expected, received
}

// settle checks every published message against every queue it should
// have reached.
func (l *ledger) settle() tally {
	var t tally
	for _, ql := range l.queues {
		ql.mu.Lock()
		t.received += ql.distinct
		t.duplicates += ql.duplicates
		t.unexpected += ql.unexpected
		ql.mu.Unlock()
	}
	for p, pl := range l.producers {
		n := pl.published.Load()
		pl.mu.Lock()
		for seq := range n {
			excluded := pl.excluded.has(seq)
			if excluded && !l.confirmedOnly {
				continue
			}
			confirmed := pl.acked.has(seq)
			for _, q := range l.topo.routes[l.topo.keyIndex(p, seq)] {
				ql := l.queues[q]
				ql.mu.Lock()
				got := ql.seen[p].has(seq)
				ql.mu.Unlock()
				t.count(got, excluded, !excluded && (confirmed || !l.confirmedOnly))
			}
		}
		pl.mu.Unlock()
	}
	return t
}

// count adds one expected delivery of a message to the tally: whether it
// came, whether the message was nacked or returned, and whether a missing
// delivery is lost (the message was confirmed, or every message counts).
func (t *tally) count(got, excluded, mustArrive bool) {
	if !excluded {
		t.expected++
	}
	switch {
	case got && !mustArrive:
		t.recovered++
	case got:
	case mustArrive:
		t.lost++
	case !excluded:
		t.inDoubt++
	}
}
