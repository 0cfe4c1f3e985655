package meta

import (
	"maps"
	"slices"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue"
)

// applier applies one command, collecting its result and effects.
type applier struct {
	s       *State
	res     Result
	effects []Effect
}

func (a *applier) effect(e Effect) { a.effects = append(a.effects, e) }

// vhost returns the named virtual host, or sets the result to 404.
func (a *applier) vhost(name string) *vhostState {
	v := a.s.vhosts[name]
	if v == nil {
		a.res.Err = NoVhost(name)
	}
	return v
}

func (a *applier) addVhost(name string) {
	if _, ok := a.s.vhosts[name]; ok {
		return
	}
	v := newVhostState()
	a.s.vhosts[name] = v
	a.res.Created = true
	a.effect(Effect{Kind: VhostAdded, Vhost: name})
	dflt := ExchangeDef{Name: "", Kind: exchange.Direct, Durable: true}
	for _, x := range append([]ExchangeDef{dflt}, BuiltinExchanges...) {
		v.exchanges[x.Name] = x
		a.effect(Effect{Kind: ExchangeAdded, Vhost: name, Exchange: x})
	}
}

// deleteVhost deletes every queue of the vhost, in name order, then the
// vhost; its exchanges and bindings go with its router.
func (a *applier) deleteVhost(name string) {
	v := a.vhost(name)
	if v == nil {
		return
	}
	for _, n := range slices.Sorted(maps.Keys(v.queues)) {
		a.effect(Effect{Kind: QueueStopped, Vhost: name, Queue: v.queues[n], DeleteData: true})
	}
	a.dropVhostAccess(name)
	delete(a.s.vhosts, name)
	a.effect(Effect{Kind: VhostDeleted, Vhost: name})
}

func (a *applier) declareExchange(c DeclareExchange) {
	v := a.vhost(c.Vhost)
	if v == nil {
		return
	}
	if cur, ok := v.exchanges[c.Exchange.Name]; ok {
		if err := ExchangeEquivalent(c.Vhost, &cur, &c.Exchange); err != nil {
			a.res.Err = err
			return
		}
		a.res.Exchange = cur
		return
	}
	v.exchanges[c.Exchange.Name] = c.Exchange
	a.res.Created, a.res.Exchange = true, c.Exchange
	a.effect(Effect{Kind: ExchangeAdded, Vhost: c.Vhost, Exchange: c.Exchange,
		Policy: a.s.ExchangePolicy(c.Vhost, c.Exchange.Name)})
}

func (a *applier) deleteExchange(c DeleteExchange) {
	v := a.vhost(c.Vhost)
	if v == nil || !v.hasExchange(c.Name) {
		return
	}
	if c.IfUnused && len(v.from[c.Name]) > 0 {
		a.res.Err = ExchangeInUse(c.Vhost, c.Name)
		return
	}
	a.removeExchange(c.Vhost, v, c.Name)
}

// removeExchange removes an exchange with the bindings from and to it, in
// canonical order, then the auto-delete exchanges those bindings left
// without any.
func (a *applier) removeExchange(vhost string, v *vhostState, name string) {
	keys := slices.Collect(maps.Keys(v.from[name]))
	keys = append(keys, slices.Collect(maps.Keys(v.to[exchange.Destination{Name: name, Exchange: true}]))...)
	slices.Sort(keys)
	keys = slices.Compact(keys) // a binding from the exchange to itself
	removed := a.removeBindings(vhost, v, keys)
	x := v.exchanges[name]
	delete(v.exchanges, name)
	a.effect(Effect{Kind: ExchangeRemoved, Vhost: vhost, Exchange: x})
	a.autoDelete(vhost, v, removed)
}

// removeBindings removes the bindings of keys, in that order.
func (a *applier) removeBindings(vhost string, v *vhostState, keys []string) []exchange.Binding {
	removed := make([]exchange.Binding, 0, len(keys))
	for _, k := range keys {
		b := v.removeBinding(k)
		removed = append(removed, b)
		a.effect(Effect{Kind: BindingRemoved, Vhost: vhost, Binding: b})
	}
	return removed
}

// autoDelete deletes the auto-delete source exchanges of removed bindings
// that are left with no bindings from them, in the order of removed.
func (a *applier) autoDelete(vhost string, v *vhostState, removed []exchange.Binding) {
	for _, b := range removed {
		x, ok := v.exchanges[b.Source]
		if !ok || !x.AutoDelete || len(v.from[b.Source]) > 0 {
			continue
		}
		a.removeExchange(vhost, v, b.Source)
	}
}

// bind adds a binding, checking as RabbitMQ does, in its order: the
// source, the destination, the destination's exclusive owner, then the
// arguments.
func (a *applier) bind(c Bind) {
	v := a.vhost(c.Vhost)
	if v == nil {
		return
	}
	b := c.Binding
	src, ok := v.exchanges[b.Source]
	if !ok {
		a.res.Err = NoExchange(c.Vhost, b.Source)
		return
	}
	if b.Destination.Exchange {
		if !v.hasExchange(b.Destination.Name) {
			a.res.Err = NoExchange(c.Vhost, b.Destination.Name)
			return
		}
	} else {
		q, ok := v.queues[b.Destination.Name]
		if !ok {
			a.res.Err = NoQueue(c.Vhost, b.Destination.Name)
			return
		}
		if q.LockedFor(c.By) {
			a.res.Err = Locked(c.Vhost, q.Name)
			return
		}
	}
	if err := exchange.ValidateBindingArgs(src.Kind, b.Args); err != nil {
		a.res.Err = err
		return
	}
	k := string(BindingKey(nil, b))
	if _, ok := v.bindings[k]; ok {
		return
	}
	v.addBinding(k, b)
	a.res.Changed = true
	a.effect(Effect{Kind: BindingAdded, Vhost: c.Vhost, Binding: b})
}

// unbind removes a binding. As rabbit_binding:remove, a missing source,
// destination or binding is no error; an existing binding to another
// connection's exclusive queue is refused with 405.
func (a *applier) unbind(c Unbind) {
	v := a.vhost(c.Vhost)
	if v == nil {
		return
	}
	k := string(BindingKey(nil, c.Binding))
	if _, ok := v.bindings[k]; !ok {
		return
	}
	if d := c.Binding.Destination; !d.Exchange {
		if q, ok := v.queues[d.Name]; ok && q.LockedFor(c.By) {
			a.res.Err = Locked(c.Vhost, d.Name)
			return
		}
	}
	removed := a.removeBindings(c.Vhost, v, []string{k})
	a.res.Changed = true
	a.autoDelete(c.Vhost, v, removed)
}

func (a *applier) declareQueue(c DeclareQueue) {
	v := a.vhost(c.Vhost)
	if v == nil {
		return
	}
	if cur, ok := v.queues[c.Queue.Name]; ok {
		if err := QueueEquivalent(c.Vhost, &cur, &c.Queue); err != nil {
			a.res.Err = err
			return
		}
		a.res.Queue = cur
		return
	}
	if err := a.queueLimit(c.Vhost, v, c.Queue.Name); err != nil {
		a.res.Err = err
		return
	}
	v.queues[c.Queue.Name] = c.Queue
	a.res.Created, a.res.Queue = true, c.Queue
	a.effect(Effect{Kind: QueueStarted, Vhost: c.Vhost, Queue: c.Queue, Policy: a.s.QueuePolicy(c.Vhost, &c.Queue)})
}

// deleteQueue removes a queue, if it is still the incarnation named, with
// the bindings to it, then the auto-delete exchanges they leave unbound.
func (a *applier) deleteQueue(c DeleteQueue) {
	v := a.s.vhosts[c.Vhost]
	if v == nil {
		return
	}
	q, ok := v.queues[c.Name]
	if !ok || q.Incarnation != c.Incarnation {
		return
	}
	keys := slices.Sorted(maps.Keys(v.to[exchange.Destination{Name: c.Name}]))
	removed := a.removeBindings(c.Vhost, v, keys)
	delete(v.queues, c.Name)
	a.effect(Effect{Kind: QueueStopped, Vhost: c.Vhost, Queue: q, DeleteData: true})
	a.autoDelete(c.Vhost, v, removed)
}

// nodeDown deletes, vhost by vhost and name by name (so that every replica
// makes the same effects in the same order), the queues that do not
// outlive the node's lives up to c.UpTo: those exclusive to its
// connections and the non-durable ones it is home to.
func (a *applier) nodeDown(c NodeDown) {
	for _, vh := range slices.Sorted(maps.Keys(a.s.vhosts)) {
		v := a.s.vhosts[vh]
		for _, name := range slices.Sorted(maps.Keys(v.queues)) {
			q := v.queues[name]
			if q.Life > c.UpTo {
				continue
			}
			if q.Owner.Node == c.Node || (q.Home == c.Node && !q.Durable) {
				a.deleteQueue(DeleteQueue{Vhost: vh, Name: name, Incarnation: q.Incarnation})
			}
		}
	}
}

// setQueueMembers sets a quorum queue's members, if the queue is still
// the incarnation named and its members those the change was made from;
// the same members change nothing.
func (a *applier) setQueueMembers(c SetQueueMembers) {
	v := a.vhost(c.Vhost)
	if v == nil {
		return
	}
	q, ok := v.queues[c.Name]
	switch {
	case !ok || q.Incarnation != c.Incarnation:
		a.res.Err = NoQueue(c.Vhost, c.Name)
		return
	case q.Type != queue.TypeQuorum:
		a.res.Err = NotQuorum(c.Vhost, c.Name)
		return
	case len(c.Members) == 0:
		a.res.Err = NoMembers(c.Vhost, c.Name)
		return
	}
	if slices.Contains(c.Members, "") || len(slices.Compact(slices.Sorted(slices.Values(c.Members)))) != len(c.Members) {
		a.res.Err = BadMembers(c.Vhost, c.Name)
		return
	}
	a.res.Queue = q
	if slices.Equal(q.Members, c.Members) {
		return
	}
	if !slices.Equal(q.Members, c.Was) {
		a.res.Err = MembersChanged(c.Vhost, c.Name)
		return
	}
	q.Members = slices.Clone(c.Members)
	v.queues[c.Name] = q
	a.res.Changed, a.res.Queue = true, q
	a.effect(Effect{Kind: QueueMembersChanged, Vhost: c.Vhost, Queue: q})
}
