package fifo

// msg is what the state keeps of a message: its header, never its body.
type msg struct {
	index    uint64 // Raft index of its Enqueue: identity and body reference
	expiry   int64  // Unix ms at which it expires while ready; 0 never
	size     uint32 // body bytes
	count    uint32 // failed deliveries (x-delivery-count)
	acquired uint32 // deliveries that came back, failed or not
	high     bool   // priority above 4
}

// chunkLen is how many messages one chunk of a deque holds.
const chunkLen = 1024

// chunk holds chunkLen message headers by column: index and size for
// every message (12 bytes), expiry (8 bytes) only once a message of the
// chunk expires, and the counts and priority (12 bytes) only once one has
// any. A backlog of plain messages costs 12 bytes a message. Each column
// is an allocation of its own, a size the allocator has a class for.
type chunk struct {
	index  *[chunkLen]uint64
	size   *[chunkLen]uint32
	expiry *[chunkLen]int64 // nil: no message of the chunk expires
	extra  *[chunkLen]extra // nil: every count zero, none high
}

// extra is the part of a header that is zero for most messages.
type extra struct {
	count, acquired uint32
	high            bool
}

// deque is a queue of message headers, in delivery order, stored in
// fixed-size chunks: it grows a chunk at a time, with no copy of what it
// holds and no slack beyond the last chunk, and a drained chunk is freed
// (one is kept for reuse).
type deque struct {
	chunks []*chunk // chunks[0] holds the front
	head   int      // the front's position in chunks[0]
	n      int
	spare  *chunk
}

func (d *deque) len() int { return d.n }

// at returns the i-th message from the front.
func (d *deque) at(i int) msg {
	p := d.head + i
	c, j := d.chunks[p/chunkLen], p%chunkLen
	m := msg{index: c.index[j], size: c.size[j], expiry: never}
	if c.expiry != nil {
		m.expiry = c.expiry[j]
	}
	if c.extra != nil {
		x := &c.extra[j]
		m.count, m.acquired, m.high = x.count, x.acquired, x.high
	}
	return m
}

func (d *deque) front() msg { return d.at(0) }

func (d *deque) push(m msg) {
	p := d.head + d.n
	if p/chunkLen == len(d.chunks) {
		d.chunks = append(d.chunks, d.newChunk())
	}
	c, j := d.chunks[p/chunkLen], p%chunkLen
	c.index[j], c.size[j] = m.index, m.size
	if c.expiry == nil && m.expiry != never {
		c.expiry = new([chunkLen]int64)
		for k := range c.expiry {
			c.expiry[k] = never
		}
	}
	if c.expiry != nil {
		c.expiry[j] = m.expiry
	}
	x := extra{count: m.count, acquired: m.acquired, high: m.high}
	if c.extra == nil && x != (extra{}) {
		c.extra = new([chunkLen]extra)
	}
	if c.extra != nil {
		c.extra[j] = x
	}
	d.n++
}

func (d *deque) pop() msg {
	m := d.front()
	d.head++
	d.n--
	switch {
	case d.n == 0:
		d.clear()
	case d.head == chunkLen:
		d.spare = d.chunks[0]
		d.chunks[0] = nil
		d.chunks = d.chunks[1:]
		d.head = 0
	}
	return m
}

// newChunk returns an empty chunk, the spare one if there is one.
func (d *deque) newChunk() *chunk {
	c := d.spare
	if c == nil {
		return &chunk{index: new([chunkLen]uint64), size: new([chunkLen]uint32)}
	}
	d.spare = nil
	c.expiry, c.extra = nil, nil
	return c
}

// clear empties the deque, keeping one chunk for reuse.
func (d *deque) clear() {
	if len(d.chunks) > 0 {
		d.spare = d.chunks[0]
	}
	clear(d.chunks)
	d.chunks, d.head, d.n = d.chunks[:0], 0, 0
}
