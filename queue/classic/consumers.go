package classic

import "github.com/warrenmq/warren/queue"

// subscriber is the queue's record of one subscription: the
// queue.Consumer it delivers to, how (no-ack, exclusive), and its credit.
type subscriber struct {
	c           queue.Consumer
	noAck       bool
	exclusive   bool
	priority    int32
	prefetch    uint16         // per-consumer limit; 0: none
	outstanding uint32         // deliveries not settled yet (acking consumers)
	lim         *queue.Limiter // the channel's shared limit, or nil
	waiting     bool           // the limiter refused; skipped until Resume
	stalled     bool           // no credit or waiting: skipped by offer
	gone        bool           // cancelled
	// from is the connection the consumer subscribed through (its
	// session's owner), nil when it came without a session.
	from *queue.Publisher
}

// wantsStall reports whether c may not be offered a message now.
func (c *subscriber) wantsStall() bool {
	return c.waiting || (!c.noAck && c.prefetch != 0 && c.outstanding >= uint32(c.prefetch))
}

// group is the subscribers of one x-priority, in subscription order, served
// round robin from next.
type group struct {
	priority  int32
	members   []*subscriber
	next      int
	unblocked int // members not stalled
}

// consumerSet holds a queue's consumers by priority, highest first.
type consumerSet struct {
	groups    []group
	count     int
	blocked   int  // subscribers stalled
	waiting   int  // subscribers waiting for their limiter
	exclusive bool // an exclusive consumer holds the queue
	sac       bool // single active consumer
	active    *subscriber
}

// canDeliver reports whether some consumer may take a message now.
func (s *consumerSet) canDeliver() bool {
	if s.sac {
		return s.active != nil && !s.active.stalled
	}
	return s.count > s.blocked
}

// add subscribes c behind the consumers of its priority.
func (s *consumerSet) add(c *subscriber) {
	priority := c.priority
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
			if c.stalled {
				s.blocked--
			} else {
				g.unblocked--
			}
			if c.waiting {
				s.waiting--
			}
			c.gone = true
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

// restall brings c's stalled mark, and the counts, up to date after its
// credit or its limiter changed.
func (s *consumerSet) restall(c *subscriber) {
	if c.gone {
		return
	}
	want := c.wantsStall()
	if want == c.stalled {
		return
	}
	c.stalled = want
	g := s.group(c.priority)
	if want {
		s.blocked++
		g.unblocked--
	} else {
		s.blocked--
		g.unblocked++
	}
}

// group returns the group of priority p, which exists.
func (s *consumerSet) group(p int32) *group {
	for gi := range s.groups {
		if s.groups[gi].priority == p {
			return &s.groups[gi]
		}
	}
	panic("classic: no consumer group for a subscribed priority")
}

// settled gives c the credit of one settled delivery back.
func (s *consumerSet) settled(c *subscriber) {
	if c.outstanding > 0 {
		c.outstanding--
	}
	if c.stalled {
		s.restall(c)
	}
}

// resume lets the consumers a limiter refused be offered messages again.
func (s *consumerSet) resume() {
	if s.waiting == 0 {
		return
	}
	for gi := range s.groups {
		for _, c := range s.groups[gi].members {
			if c.waiting {
				c.waiting = false
				s.waiting--
				s.restall(c)
			}
		}
	}
}

// offer hands d to the first consumer with credit: the single active
// consumer, or round robin within the highest priority that has one. A
// consumer whose limiter refuses waits until the limiter resumes r. It
// returns the consumer that took d, or nil.
func (s *consumerSet) offer(d queue.Delivery, r queue.Resumer) *subscriber {
	if s.sac {
		a := s.active
		if a == nil || a.stalled || !s.give(a, d, r) {
			return nil
		}
		return a
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
			if c.stalled || !s.give(c, d, r) {
				continue
			}
			g.next = i + 1
			if g.next == n {
				g.next = 0
			}
			return c
		}
	}
	return nil
}

// give delivers d to c unless c's limiter refuses, counting c's credit.
func (s *consumerSet) give(c *subscriber, d queue.Delivery, r queue.Resumer) bool {
	if c.lim != nil && !c.lim.Take(!c.noAck, r) {
		c.waiting = true
		s.waiting++
		s.restall(c)
		return false
	}
	c.c.Deliver(d)
	if !c.noAck {
		c.outstanding++
		if c.prefetch != 0 && c.outstanding >= uint32(c.prefetch) {
			s.restall(c)
		}
	}
	return true
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
