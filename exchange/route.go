package exchange

import "github.com/warrenmq/warren/protocol"

// scratch is the per-route working memory, pooled so that routing does not
// allocate. Queues and exchanges are marked as reached by writing the
// route's generation number at their id, which makes clearing free.
type scratch struct {
	gen     uint32
	xseen   []uint32 // by exchange id
	qseen   []uint32 // by queue id
	stack   []*exchange
	targets []target
	topic   topicMatch
}

// reset starts a new route over nx exchange ids and nq queue ids.
func (s *scratch) reset(nx, nq uint32) {
	if int(nx) > len(s.xseen) {
		s.xseen = make([]uint32, nx+nx/4+16)
	}
	if int(nq) > len(s.qseen) {
		s.qseen = make([]uint32, nq+nq/4+16)
	}
	s.gen++
	if s.gen == 0 {
		clear(s.xseen)
		clear(s.qseen)
		s.gen = 1
	}
}

// Route appends to out the names of the queues a message published to the
// named exchange reaches, each once, and returns it. keys are the routing
// key followed by any CC and BCC keys; headers are the message headers
// (headers exchanges only).
//
// The message follows exchange-to-exchange bindings, visiting each exchange
// at most once, so cycles end. An exchange whose own bindings match nothing
// (neither a queue nor an exchange) hands the message to its alternate
// exchange, if that exists, which may in turn use its own; this is
// RabbitMQ's rule, so an exchange that matched only an exchange that
// reached nothing does not use its alternate.
//
// An unknown exchange routes nowhere. The default exchange "" is not the
// router's: the broker routes it to the queue named by the key. Route does
// not allocate when out has room for the result.
func (r *Router) Route(name string, keys []string, headers protocol.Table, out []string) []string {
	r.mu.RLock()
	x, ok := r.exchanges[name]
	if !ok {
		r.mu.RUnlock()
		return out
	}
	s := r.scratch.Get().(*scratch)
	s.reset(r.xids.next, r.qids.next)
	gen := s.gen
	s.xseen[x.id] = gen
	s.stack = append(s.stack[:0], x)
	for len(s.stack) > 0 {
		x = s.stack[len(s.stack)-1]
		s.stack = s.stack[:len(s.stack)-1]
		ts := x.match(keys, headers, s)
		if len(ts) == 0 {
			if x.alternate == "" {
				continue
			}
			if ax, ok := r.exchanges[x.alternate]; ok && s.xseen[ax.id] != gen {
				s.xseen[ax.id] = gen
				s.stack = append(s.stack, ax)
			}
			continue
		}
		for i := range ts {
			if q := ts[i].q; q != nil {
				if s.qseen[q.id] != gen {
					s.qseen[q.id] = gen
					out = append(out, q.name)
				}
			} else if dx := ts[i].x; s.xseen[dx.id] != gen {
				s.xseen[dx.id] = gen
				s.stack = append(s.stack, dx)
			}
		}
	}
	r.mu.RUnlock()
	r.scratch.Put(s)
	return out
}

// match returns the targets of the exchange's bindings that the message
// matches, possibly with repeats. The result is either s.targets or, for
// fanout and single-key direct, the routing table itself: read it only.
func (x *exchange) match(keys []string, headers protocol.Table, s *scratch) []target {
	switch x.kind {
	case Fanout:
		return x.fanout
	case Direct:
		if len(keys) == 1 {
			return x.direct[keys[0]]
		}
		ts := s.targets[:0]
		for _, k := range keys {
			ts = append(ts, x.direct[k]...)
		}
		s.targets = ts
		return ts
	case Topic:
		if x.topic.empty() {
			return nil
		}
		m := &s.topic
		m.out = s.targets[:0]
		for _, k := range keys {
			m.words = splitWords(m.words[:0], k)
			x.topic.match(m)
		}
		s.targets = m.out
		return m.out
	case Headers:
		ts := s.targets[:0]
		for _, b := range x.headers {
			if b.headers.matches(headers) {
				ts = append(ts, b.target)
			}
		}
		s.targets = ts
		return ts
	}
	return nil
}
