package fifo

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/warrenmq/warren/protocol/fields"
	"github.com/warrenmq/warren/queue"
)

// Snapshot encodes the whole state deterministically (equal states encode
// to equal bytes): the configuration, the applied index, the publishers'
// sequences, and every message's header (ready in delivery order, checked
// out by consumer and id, waiting to be dead-lettered by index), never a
// body: bodies stay in the log from LiveFrom on. It does no I/O.
func (s *State) Snapshot() []byte {
	w := writer{fields.Writer{B: make([]byte, 0, 64+16*(s.Ready()+s.CheckedOut()+len(s.dlx)))}}
	s.encode(&w, nil)
	return w.B
}

// snapshotChunk is how many bytes WriteSnapshot encodes before it writes
// them out.
const snapshotChunk = 64 << 10

// WriteSnapshot writes the bytes Snapshot returns to out, a buffer of
// about 64 KiB at a time, and returns how many it wrote: a state of
// millions of messages is encoded without holding its encoding in memory.
func (s *State) WriteSnapshot(out io.Writer) (int64, error) {
	w := writer{fields.Writer{B: make([]byte, 0, 2*snapshotChunk)}}
	var n int64
	var err error
	flush := func(final bool) {
		if err != nil || (!final && len(w.B) < snapshotChunk) {
			return
		}
		var k int
		k, err = out.Write(w.B)
		n += int64(k)
		w.B = w.B[:0]
	}
	s.encode(&w, flush)
	flush(true)
	return n, err
}

// encode appends the snapshot's bytes to w, calling flush, when not nil,
// after each message header and each consumer, where w may be emptied.
func (s *State) encode(w *writer, flush func(final bool)) {
	if flush == nil {
		flush = func(bool) {}
	}
	w.Byte(Version)
	w.Uvarint(s.applied)
	w.config(&s.cfg)
	w.Varint(s.now)
	w.Varint(s.lastActive)
	w.Varint(s.expiryTimer)
	w.Varint(s.queueTimer)
	w.Uvarint(s.serveSeq)
	pubs := slices.SortedFunc(maps.Keys(s.publishers), comparePublishers)
	w.Uvarint(uint64(len(pubs)))
	for _, p := range pubs {
		w.channel(p)
		w.Uvarint(s.publishers[p])
	}
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		w.Uvarint(uint64(d.len()))
		for i := range d.len() {
			m := d.at(i)
			w.msg(&m)
			flush(false)
		}
	}
	w.Uvarint(uint64(len(s.order)))
	for _, c := range s.order {
		w.consumerState(c)
		flush(false)
	}
	w.Uvarint(uint64(len(s.dlx)))
	for _, idx := range s.dlxIndexes() {
		d := s.dlx[idx]
		w.Uvarint(d.Index)
		w.Uvarint(uint64(d.Size))
		w.Uvarint(uint64(d.DeliveryCount))
		w.Byte(byte(d.Reason))
		flush(false)
	}
}

func comparePublishers(a, b queue.Publisher) int {
	return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Conn, b.Conn), cmp.Compare(a.Channel, b.Channel))
}

// msg writes a message header: flags (high, expiring), index, size,
// counts, then the expiry when it has one.
func (w *writer) msg(m *msg) {
	w.Flags(m.high, m.expiry != never)
	w.Uvarint(m.index)
	w.Uvarint(uint64(m.size))
	w.Uvarint(uint64(m.count))
	w.Uvarint(uint64(m.acquired))
	if m.expiry != never {
		w.Varint(m.expiry)
	}
}

func (w *writer) consumerState(c *consumer) {
	w.Uvarint(c.key)
	w.consumer(c.id)
	w.Uvarint(uint64(c.prefetch))
	w.Varint(int64(c.priority))
	w.Flags(c.autoSettle, c.oneShot, c.unreachable)
	w.Byte(byte(c.status))
	w.Uvarint(c.nextID)
	w.Uvarint(c.served)
	ids := c.sortedIDs()
	w.Uvarint(uint64(len(ids)))
	for _, id := range ids {
		w.Uvarint(id)
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
	r := newReader(b[1:])
	applied := r.Uvarint()
	s := NewState(r.config())
	s.applied = applied
	s.now = r.Varint()
	s.lastActive = r.Varint()
	s.expiryTimer = r.Varint()
	s.queueTimer = r.Varint()
	s.serveSeq = r.Uvarint()
	r.restorePublishers(s)
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		for n := r.Count(); n > 0 && r.Err == nil; n-- {
			m := r.msg(applied)
			d.push(m)
			s.readyBytes += uint64(m.size)
		}
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		r.restoreConsumer(s)
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		d := DeadMessage{Index: r.Uvarint(), Size: r.U32(), DeliveryCount: r.U32(), Reason: queue.Reason(r.Byte())}
		if _, dup := s.dlx[d.Index]; dup || d.Index == 0 || d.Index > applied || d.Reason > queue.DeliveryLimit {
			r.Fail("bad dead-letter entry")
		}
		s.dlx[d.Index] = d
		s.dlxBytes += uint64(d.Size)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *reader) restorePublishers(s *State) {
	var prev *queue.Publisher
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		p := r.channel()
		if prev != nil && comparePublishers(*prev, p) >= 0 {
			r.Fail("publishers out of order")
		}
		s.publishers[p] = r.Uvarint()
		prev = &p
	}
}

func (r *reader) msg(applied uint64) msg {
	var m msg
	var expiring bool
	r.Flags(&m.high, &expiring)
	m.index = r.Uvarint()
	m.size = r.U32()
	m.count = r.U32()
	m.acquired = r.U32()
	m.expiry = never
	if expiring {
		m.expiry = r.Varint()
	}
	if r.Err == nil && (m.index == 0 || m.index > applied) {
		r.Fail("message index out of range")
	}
	return m
}

func (r *reader) restoreConsumer(s *State) {
	c := &consumer{key: r.Uvarint(), id: r.consumer(), prefetch: r.U32(), checked: make(map[uint64]msg)}
	p := r.Varint()
	r.Flags(&c.autoSettle, &c.oneShot, &c.unreachable)
	c.status = consumerStatus(r.Byte())
	c.nextID = r.Uvarint()
	c.served = r.Uvarint()
	if p < -1<<31 || p > 1<<31-1 || c.status > statusCancelled {
		r.Fail("bad consumer")
	}
	c.priority = int32(p)
	if _, dup := s.consumers[c.id]; dup {
		r.Fail("consumer twice")
	}
	if n := len(s.order); n > 0 && s.order[n-1].key >= c.key {
		r.Fail("consumers out of order")
	}
	last := int64(-1)
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		id := r.Uvarint()
		if int64(id) <= last || id >= c.nextID {
			r.Fail("bad delivery id")
		}
		last = int64(id)
		c.checked[id] = r.msg(s.applied)
	}
	if r.Err == nil {
		s.addConsumer(c)
	}
}
