package classic

import "github.com/warrenmq/warren/queue"

// entry is a ready message: its id (which is also its position in the
// queue's order), the message, and when it expires.
type entry struct {
	msg         *queue.Message
	id          uint64
	expiry      int64  // Unix nanoseconds; 0 when the message never expires
	seq         uint64 // its log record; 0 when not in the log
	count       uint32 // deliveries that came back (DeliveryCount)
	redelivered bool
	unlogged    bool // persistent, just published, not offered to the log yet
}

// ring is a FIFO of entries kept in ascending id order, in a power-of-two
// circular buffer.
type ring struct {
	buf  []entry
	head int
	n    int
}

// minRing is the smallest buffer a ring allocates.
const minRing = 16

// shrinkAt is the buffer size above which an emptied ring gives its buffer
// back, so that a burst does not pin memory for the queue's lifetime.
const shrinkAt = 4096

func (r *ring) at(i int) *entry { return &r.buf[(r.head+i)&(len(r.buf)-1)] }

func (r *ring) front() *entry { return &r.buf[r.head] }

func (r *ring) grow() {
	size := 2 * len(r.buf)
	if size < minRing {
		size = minRing
	}
	buf := make([]entry, size)
	for i := 0; i < r.n; i++ {
		buf[i] = *r.at(i)
	}
	r.buf, r.head = buf, 0
}

func (r *ring) push(e entry) {
	if r.n == len(r.buf) {
		r.grow()
	}
	*r.at(r.n) = e
	r.n++
}

func (r *ring) pop() entry {
	p := &r.buf[r.head]
	e := *p
	*p = entry{} // let the message go
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	if r.n == 0 {
		r.head = 0
		if len(r.buf) > shrinkAt {
			r.buf = nil
		}
	}
	return e
}

// insert puts e at its place by id, shifting whichever side is shorter. A
// requeued message usually goes at or near the front, which costs nothing.
func (r *ring) insert(e entry) {
	if r.n == len(r.buf) {
		r.grow()
	}
	lo, hi := 0, r.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if r.at(mid).id < e.id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	p := lo
	if p < r.n-p {
		r.head = (r.head - 1) & (len(r.buf) - 1)
		r.n++
		for i := 0; i < p; i++ {
			*r.at(i) = *r.at(i + 1)
		}
	} else {
		r.n++
		for i := r.n - 1; i > p; i-- {
			*r.at(i) = *r.at(i - 1)
		}
	}
	*r.at(p) = e
}

func (r *ring) clear() {
	clear(r.buf)
	r.head, r.n = 0, 0
	if len(r.buf) > shrinkAt {
		r.buf = nil
	}
}

// readyQueue holds the ready messages: one ring per priority level, the
// highest level served first.
type readyQueue struct {
	levels []ring
	top    int // no level above top holds messages
	count  int
	bytes  int64
}

func newReadyQueue(maxPriority uint8) readyQueue {
	return readyQueue{levels: make([]ring, int(maxPriority)+1)}
}

// level is the ring a message of priority p goes to: p capped at the
// queue's maximum, as RabbitMQ caps it.
func (q *readyQueue) level(m *queue.Message) int {
	if len(q.levels) == 1 {
		return 0
	}
	return min(int(m.Props.Priority), len(q.levels)-1)
}

// head returns the next message to deliver and its level, or nil.
func (q *readyQueue) head() (*entry, int) {
	if q.count == 0 {
		return nil, 0
	}
	for q.levels[q.top].n == 0 {
		q.top--
	}
	return q.levels[q.top].front(), q.top
}

func (q *readyQueue) add(e entry, requeue bool) {
	l := q.level(e.msg)
	if requeue {
		q.levels[l].insert(e)
	} else {
		q.levels[l].push(e)
	}
	q.top = max(q.top, l)
	q.count++
	q.bytes += int64(len(e.msg.Body))
}

func (q *readyQueue) pop(level int) entry {
	e := q.levels[level].pop()
	q.count--
	q.bytes -= int64(len(e.msg.Body))
	return e
}

// each calls f for every ready message.
func (q *readyQueue) each(f func(e *entry)) {
	for l := range q.levels {
		r := &q.levels[l]
		for i := 0; i < r.n; i++ {
			f(r.at(i))
		}
	}
}

func (q *readyQueue) clear() int {
	n := q.count
	for i := range q.levels {
		q.levels[i].clear()
	}
	q.top, q.count, q.bytes = 0, 0, 0
	return n
}
