package classic

import "github.com/warrenmq/warren/queue"

// subscriber is the queue's record of one subscription: the
// queue.Consumer it delivers to, and how (no-ack, exclusive, blocked).
type subscriber struct {
	c         queue.Consumer
	noAck     bool
	exclusive bool
	blocked   bool // refused a delivery; skipped until the next Kick
}

// group is the subscribers of one x-priority, in subscription order, served
// round robin from next.
type group struct {
	priority  int32
	members   []*subscriber
	next      int
	unblocked int
}

// consumerSet holds a queue's consumers by priority, highest first.
type consumerSet struct {
	groups    []group
	count     int
	blocked   int
	exclusive bool // an exclusive consumer holds the queue
	sac       bool // single active consumer
	active    *subscriber
}

// canDeliver reports whether some consumer may take a message now.
func (s *consumerSet) canDeliver() bool {
	if s.sac {
		return s.active != nil && !s.active.blocked
	}
	return s.count > s.blocked
}

// add subscribes c behind the consumers of its priority.
func (s *consumerSet) add(c *subscriber, priority int32) {
	i := 0
	for i < len(s.groups) && s.groups[i].priority > priority {
		i++
	}
	if i == len(s.groups) || s.groups[i].priority != priority {
		s.groups = append(s.groups, group{})
		copy(s.groups[i+1:], s.groups[i:])
		s.groups[i] = group{priority: priority}
	}
	g := &s.groups[i]
	g.members = append(g.members, c)
	g.unblocked++
	s.count++
	if c.exclusive {
		s.exclusive = true
	}
	if s.sac && s.active == nil {
		s.active = c
	}
}

// remove unsubscribes qc and returns its record, or nil. When it was the
// single active consumer, the next one (highest priority, then earliest
// subscribed, as RabbitMQ picks it) becomes active.
func (s *consumerSet) remove(qc queue.Consumer) *subscriber {
	for gi := range s.groups {
		g := &s.groups[gi]
		for i, c := range g.members {
			if c.c != qc {
				continue
			}
			g.members = append(g.members[:i], g.members[i+1:]...)
			if i < g.next {
				g.next--
			}
			if g.next >= len(g.members) {
				g.next = 0
			}
			if c.blocked {
				s.blocked--
			} else {
				g.unblocked--
			}
			if len(g.members) == 0 {
				s.groups = append(s.groups[:gi], s.groups[gi+1:]...)
			}
			s.count--
			if c.exclusive {
				s.exclusive = false
			}
			if s.active == c {
				s.active = nil
				if len(s.groups) > 0 {
					s.active = s.groups[0].members[0]
				}
			}
			return c
		}
	}
	return nil
}

// unblockAll lets every consumer be offered messages again.
func (s *consumerSet) unblockAll() {
	if s.blocked == 0 {
		return
	}
	for gi := range s.groups {
		g := &s.groups[gi]
		for _, c := range g.members {
			c.blocked = false
		}
		g.unblocked = len(g.members)
	}
	s.blocked = 0
}

// offer hands d to the first consumer that takes it: the single active
// consumer, or round robin within the highest priority that has a consumer
// with credit. A consumer that refuses is blocked until the next Kick. It
// returns the consumer that took d, or nil.
func (s *consumerSet) offer(d queue.Delivery) *subscriber {
	if s.sac {
		a := s.active
		if a == nil || a.blocked {
			return nil
		}
		if a.c.Deliver(d) {
			return a
		}
		a.blocked = true
		s.blocked++
		return nil
	}
	for gi := range s.groups {
		g := &s.groups[gi]
		n := len(g.members)
		for k := 0; k < n && g.unblocked > 0; k++ {
			i := g.next + k
			if i >= n {
				i -= n
			}
			c := g.members[i]
			if c.blocked {
				continue
			}
			if c.c.Deliver(d) {
				g.next = i + 1
				if g.next == n {
					g.next = 0
				}
				return c
			}
			c.blocked = true
			g.unblocked--
			s.blocked++
		}
	}
	return nil
}

// all returns every subscription, for cancelling them.
func (s *consumerSet) all() []queue.Consumer {
	out := make([]queue.Consumer, 0, s.count)
	for _, g := range s.groups {
		for _, c := range g.members {
			out = append(out, c.c)
		}
	}
	return out
}
