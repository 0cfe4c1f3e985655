package fifo

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"github.com/warrenmq/warren/queue"
)

// Snapshot encodes the whole state deterministically (equal states encode
// to equal bytes): the configuration, the applied index, the publishers'
// sequences, and every message's header (ready in delivery order, checked
// out by consumer and id, waiting to be dead-lettered by index), never a
// body: bodies stay in the log from LiveFrom on. It does no I/O.
func (s *State) Snapshot() []byte {
	w := writer{b: make([]byte, 0, 64+16*(s.Ready()+s.CheckedOut()+len(s.dlx)))}
	w.byte(Version)
	w.uvarint(s.applied)
	w.config(&s.cfg)
	w.varint(s.now)
	w.varint(s.lastActive)
	w.varint(s.expiryTimer)
	w.varint(s.queueTimer)
	w.uvarint(s.serveSeq)
	pubs := slices.SortedFunc(maps.Keys(s.publishers), comparePublishers)
	w.uvarint(uint64(len(pubs)))
	for _, p := range pubs {
		w.channel(p)
		w.uvarint(s.publishers[p])
	}
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		w.uvarint(uint64(d.len()))
		for i := range d.len() {
			w.msg(d.at(i))
		}
	}
	w.uvarint(uint64(len(s.order)))
	for _, c := range s.order {
		w.consumerState(c)
	}
	w.uvarint(uint64(len(s.dlx)))
	for _, idx := range s.dlxIndexes() {
		d := s.dlx[idx]
		w.uvarint(d.Index)
		w.uvarint(uint64(d.Size))
		w.uvarint(uint64(d.DeliveryCount))
		w.byte(byte(d.Reason))
	}
	return w.b
}

func comparePublishers(a, b queue.Publisher) int {
	return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Conn, b.Conn), cmp.Compare(a.Channel, b.Channel))
}

// msg writes a message header: flags (high, expiring), index, size,
// counts, then the expiry when it has one.
func (w *writer) msg(m *msg) {
	w.flags(m.high, m.expiry != never)
	w.uvarint(m.index)
	w.uvarint(uint64(m.size))
	w.uvarint(uint64(m.count))
	w.uvarint(uint64(m.acquired))
	if m.expiry != never {
		w.varint(m.expiry)
	}
}

func (w *writer) consumerState(c *consumer) {
	w.uvarint(c.key)
	w.consumer(c.id)
	w.uvarint(uint64(c.prefetch))
	w.varint(int64(c.priority))
	w.flags(c.autoSettle, c.oneShot)
	w.byte(byte(c.status))
	w.uvarint(c.nextID)
	w.uvarint(c.served)
	ids := c.sortedIDs()
	w.uvarint(uint64(len(ids)))
	for _, id := range ids {
		w.uvarint(id)
		m := c.checked[id]
		w.msg(&m)
	}
}

// Restore builds a new state from a Snapshot's bytes. The caller swaps it
// in for the old one. A snapshot that cannot be decoded or contradicts
// itself (a consumer twice, keys out of order, a delivery id not below
// the consumer's next, a message index past the applied one) is
// ErrCorrupt.
func Restore(b []byte) (*State, error) {
	if len(b) == 0 || b[0] != Version {
		return nil, fmt.Errorf("%w: snapshot version", ErrCorrupt)
	}
	r := reader{b: b[1:]}
	applied := r.uvarint()
	s := NewState(r.config())
	s.applied = applied
	s.now = r.varint()
	s.lastActive = r.varint()
	s.expiryTimer = r.varint()
	s.queueTimer = r.varint()
	s.serveSeq = r.uvarint()
	r.restorePublishers(s)
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		for n := r.count(); n > 0 && r.err == nil; n-- {
			m := r.msg(applied)
			d.push(m)
			s.readyBytes += uint64(m.size)
		}
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		r.restoreConsumer(s)
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		d := DeadMessage{Index: r.uvarint(), Size: r.u32(), DeliveryCount: r.u32(), Reason: queue.Reason(r.byte())}
		if _, dup := s.dlx[d.Index]; dup || d.Index == 0 || d.Index > applied || d.Reason > queue.DeliveryLimit {
			r.fail("bad dead-letter entry")
		}
		s.dlx[d.Index] = d
		s.dlxBytes += uint64(d.Size)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *reader) restorePublishers(s *State) {
	var prev *queue.Publisher
	for n := r.count(); n > 0 && r.err == nil; n-- {
		p := r.channel()
		if prev != nil && comparePublishers(*prev, p) >= 0 {
			r.fail("publishers out of order")
		}
		s.publishers[p] = r.uvarint()
		prev = &p
	}
}

func (r *reader) msg(applied uint64) msg {
	var m msg
	var expiring bool
	r.flags(&m.high, &expiring)
	m.index = r.uvarint()
	m.size = r.u32()
	m.count = r.u32()
	m.acquired = r.u32()
	m.expiry = never
	if expiring {
		m.expiry = r.varint()
	}
	if r.err == nil && (m.index == 0 || m.index > applied) {
		r.fail("message index out of range")
	}
	return m
}

func (r *reader) restoreConsumer(s *State) {
	c := &consumer{key: r.uvarint(), id: r.consumer(), prefetch: r.u32(), checked: make(map[uint64]msg)}
	p := r.varint()
	r.flags(&c.autoSettle, &c.oneShot)
	c.status = consumerStatus(r.byte())
	c.nextID = r.uvarint()
	c.served = r.uvarint()
	if p < -1<<31 || p > 1<<31-1 || c.status > statusCancelled {
		r.fail("bad consumer")
	}
	c.priority = int32(p)
	if _, dup := s.consumers[c.id]; dup {
		r.fail("consumer twice")
	}
	if n := len(s.order); n > 0 && s.order[n-1].key >= c.key {
		r.fail("consumers out of order")
	}
	last := int64(-1)
	for n := r.count(); n > 0 && r.err == nil; n-- {
		id := r.uvarint()
		if int64(id) <= last || id >= c.nextID {
			r.fail("bad delivery id")
		}
		last = int64(id)
		c.checked[id] = r.msg(s.applied)
	}
	if r.err == nil {
		s.addConsumer(c)
	}
}
