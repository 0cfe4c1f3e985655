package fifo

import "slices"

// Unreachable names the nodes the leader cannot reach now, all of them
// (RabbitMQ's {down, Pid, noconnection} for the consumers of a node whose
// connection closed, and nodeup once it is back): every consumer on one
// of Nodes is unreachable, takes no new deliveries and returns its
// unsettled messages to the queue at once (not counted as failed
// deliveries, as when its channel closes), where a consumer elsewhere
// takes them; a single active consumer gives way to a waiting one.
// Every consumer on a node not named is reachable again and served as
// before (an unreachable single active consumer waits its turn). The
// consumers stay: a node that is gone for good ends them with NodeDown.
// Listing every unreachable node each time makes the command idempotent,
// so a new leader proposes its own view whatever the state's.
type Unreachable struct {
	Nodes []string
	Now   int64
}

// Op implements Command.
func (Unreachable) Op() Op { return OpUnreachable }

// Time implements Command.
func (c Unreachable) Time() int64 { return c.Now }

func (c Unreachable) encode(w *writer) {
	w.Uvarint(uint64(len(c.Nodes)))
	for _, n := range c.Nodes {
		w.Str(n)
	}
	w.Varint(c.Now)
}

func (c *Unreachable) decode(r *reader) {
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		c.Nodes = append(c.Nodes, r.Str())
	}
	c.Now = r.Varint()
}

// unreachable applies Unreachable.
func (s *State) unreachable(cmd Unreachable) {
	var lost []*consumer
	for _, c := range s.order {
		was := c.unreachable
		c.unreachable = slices.Contains(cmd.Nodes, c.id.Chan.Node)
		if c.unreachable && !was {
			lost = append(lost, c)
		}
	}
	for _, c := range lost {
		for _, id := range c.sortedIDs() {
			m := c.checked[id]
			delete(c.checked, id)
			s.requeue(m, false)
		}
		s.tidy(c)
	}
}

// UnreachableNodes returns, sorted, the nodes whose consumers are
// unreachable (Unreachable).
func (s *State) UnreachableNodes() []string {
	var out []string
	for _, c := range s.order {
		if c.unreachable && !slices.Contains(out, c.id.Chan.Node) {
			out = append(out, c.id.Chan.Node)
		}
	}
	slices.Sort(out)
	return out
}

// ConsumerNodes returns, sorted, the nodes the queue's consumers are on,
// those basic.get made included.
func (s *State) ConsumerNodes() []string {
	var out []string
	for _, c := range s.order {
		if !slices.Contains(out, c.id.Chan.Node) {
			out = append(out, c.id.Chan.Node)
		}
	}
	slices.Sort(out)
	return out
}
