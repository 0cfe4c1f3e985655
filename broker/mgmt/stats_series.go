package mgmt

// An object's samples: the values of its counters and lengths at each
// tick of the sampler, newest last, in a ring. Most objects keep two
// points, all basic rates need; the overview, the vhosts and the objects
// asked for with a range keep historyPoints.

// historyPoints bounds an object's history: ten minutes at RabbitMQ's
// 5 s interval (its basic retention of 600 s), whatever the interval.
const historyPoints = 121

// series is the ring of one object's points.
type series struct {
	width int
	ts    []int64  // milliseconds since the epoch, per slot
	vals  []uint64 // width values per slot
	n     int      // points held
	head  int      // the slot of the next point
	seen  uint64   // the sampler's tick that last sampled the object
}

// newSeries returns a series of width values per point holding up to
// points of them.
func newSeries(width, points int) *series {
	return &series{width: width, ts: make([]int64, points), vals: make([]uint64, points*width)}
}

// add records v, taken at t (milliseconds), as the newest point.
func (s *series) add(t int64, v []uint64) {
	s.ts[s.head] = t
	copy(s.vals[s.head*s.width:(s.head+1)*s.width], v)
	s.head = (s.head + 1) % len(s.ts)
	if s.n < len(s.ts) {
		s.n++
	}
}

// point returns the i-th newest point (0 is the newest); i < s.n.
func (s *series) point(i int) (int64, []uint64) {
	slot := (s.head - 1 - i + 2*len(s.ts)) % len(s.ts)
	return s.ts[slot], s.vals[slot*s.width : (slot+1)*s.width]
}

// grow makes room for points points, keeping those held.
func (s *series) grow(points int) {
	if points <= len(s.ts) {
		return
	}
	g := newSeries(s.width, points)
	for i := s.n - 1; i >= 0; i-- {
		t, v := s.point(i)
		g.add(t, v)
	}
	g.seen = s.seen
	*s = *g
}
