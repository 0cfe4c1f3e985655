package meta

import (
	"maps"
	"slices"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// State is the definitions of every virtual host, as of the last applied
// command. Only Apply, Restore and DropTransient change it; it is not safe
// for concurrent use (the node applies commands one at a time).
type State struct {
	applied uint64
	vhosts  map[string]*vhostState
	access  accessState // users, permissions, vhost metadata, parameters (access_state.go)
}

// vhostState is one virtual host's definitions. Bindings are kept by their
// canonical encoding (BindingKey), indexed by source and destination.
type vhostState struct {
	exchanges map[string]ExchangeDef
	queues    map[string]QueueDef
	bindings  map[string]exchange.Binding
	from      map[string]map[string]struct{}
	to        map[exchange.Destination]map[string]struct{}
}

// NewState returns an empty state: no virtual hosts, nothing applied.
func NewState() *State {
	return &State{vhosts: make(map[string]*vhostState), access: newAccessState()}
}

func newVhostState() *vhostState {
	return &vhostState{
		exchanges: make(map[string]ExchangeDef),
		queues:    make(map[string]QueueDef),
		bindings:  make(map[string]exchange.Binding),
		from:      make(map[string]map[string]struct{}),
		to:        make(map[exchange.Destination]map[string]struct{}),
	}
}

// BuiltinExchanges are the exchanges every virtual host has besides the
// default exchange "", as RabbitMQ declares them when it adds a vhost.
var BuiltinExchanges = []ExchangeDef{
	{Name: "amq.direct", Kind: exchange.Direct, Durable: true},
	{Name: "amq.fanout", Kind: exchange.Fanout, Durable: true},
	{Name: "amq.headers", Kind: exchange.Headers, Durable: true},
	{Name: "amq.match", Kind: exchange.Headers, Durable: true},
	{Name: "amq.topic", Kind: exchange.Topic, Durable: true},
}

// Applied returns the index of the last command applied.
func (s *State) Applied() uint64 { return s.applied }

// Vhosts returns the names of the virtual hosts, sorted.
func (s *State) Vhosts() []string {
	return slices.Sorted(maps.Keys(s.vhosts))
}

// Exchanges returns a virtual host's exchanges, sorted by name.
func (s *State) Exchanges(vhost string) []ExchangeDef {
	v := s.vhosts[vhost]
	if v == nil {
		return nil
	}
	out := make([]ExchangeDef, 0, len(v.exchanges))
	for _, n := range slices.Sorted(maps.Keys(v.exchanges)) {
		out = append(out, v.exchanges[n])
	}
	return out
}

// Queues returns a virtual host's queues, sorted by name.
func (s *State) Queues(vhost string) []QueueDef {
	v := s.vhosts[vhost]
	if v == nil {
		return nil
	}
	out := make([]QueueDef, 0, len(v.queues))
	for _, n := range slices.Sorted(maps.Keys(v.queues)) {
		out = append(out, v.queues[n])
	}
	return out
}

// LeaderPlacements counts, per node, the quorum queues of every virtual
// host whose first member it is: the member placed as the queue's leader
// when it was declared (a new group's first member stands for election
// at once). It counts placements, not the leaders of now: after a
// failover the two differ. Every node reads the same counts from the
// same definitions.
func (s *State) LeaderPlacements() map[string]int {
	out := make(map[string]int)
	for _, v := range s.vhosts {
		for _, q := range v.queues {
			if len(q.Members) > 0 {
				out[q.Members[0]]++
			}
		}
	}
	return out
}

// Bindings returns a virtual host's bindings in canonical order.
func (s *State) Bindings(vhost string) []exchange.Binding {
	v := s.vhosts[vhost]
	if v == nil {
		return nil
	}
	out := make([]exchange.Binding, 0, len(v.bindings))
	for _, k := range slices.Sorted(maps.Keys(v.bindings)) {
		out = append(out, v.bindings[k])
	}
	return out
}

// Apply applies the command committed at index and returns what to answer
// and what the node must do, in order. It is pure: it reads and changes
// only s. Indexes must increase; an index at or below the last one applied
// changes nothing and answers an internal error, so that replaying an
// entry twice is harmless.
func (s *State) Apply(index uint64, cmd Command) (Result, []Effect) {
	if index <= s.applied {
		return Result{Err: protocol.NewError(protocol.InternalError,
			"definitions entry %d is at or before the last applied, %d", index, s.applied)}, nil
	}
	s.applied = index
	a := &applier{s: s}
	switch c := cmd.(type) {
	case AddVhost:
		a.addVhost(c.Name)
	case DeleteVhost:
		a.deleteVhost(c.Name)
	case DeclareExchange:
		a.declareExchange(c)
	case DeleteExchange:
		a.deleteExchange(c)
	case Bind:
		a.bind(c)
	case Unbind:
		a.unbind(c)
	case DeclareQueue:
		a.declareQueue(c)
	case DeleteQueue:
		a.deleteQueue(c)
	case NodeDown:
		a.nodeDown(c)
	case SetQueueMembers:
		a.setQueueMembers(c)
	default:
		if a.applyAccess(cmd) || a.applyPolicy(cmd) {
			break
		}
		a.res.Err = protocol.NewError(protocol.InternalError, "unknown definitions command %T", cmd)
	}
	return a.res, a.effects
}

// DropTransient removes what does not outlive a node's restart: exclusive
// and non-durable queues, non-durable exchanges and the bindings to or
// from anything removed. A single node applies it to the state it loads,
// before serving; in a cluster the restarted node will propose deleting
// the transient queues it was home to instead.
func (s *State) DropTransient() {
	for _, v := range s.vhosts {
		for n, q := range v.queues {
			if !q.Durable || q.Exclusive {
				delete(v.queues, n)
			}
		}
		for n, x := range v.exchanges {
			if !x.Durable {
				delete(v.exchanges, n)
			}
		}
		for k, b := range v.bindings {
			if !v.hasDestination(b.Destination) || !v.hasExchange(b.Source) {
				v.removeBinding(k)
			}
		}
	}
}

func (v *vhostState) hasExchange(name string) bool {
	_, ok := v.exchanges[name]
	return ok
}

func (v *vhostState) hasDestination(d exchange.Destination) bool {
	if d.Exchange {
		return v.hasExchange(d.Name)
	}
	_, ok := v.queues[d.Name]
	return ok
}

// addBinding records b under its canonical key k.
func (v *vhostState) addBinding(k string, b exchange.Binding) {
	v.bindings[k] = b
	addKey(v.from, b.Source, k)
	addKey(v.to, b.Destination, k)
}

// removeBinding forgets the binding of key k and returns it.
func (v *vhostState) removeBinding(k string) exchange.Binding {
	b := v.bindings[k]
	delete(v.bindings, k)
	dropKey(v.from, b.Source, k)
	dropKey(v.to, b.Destination, k)
	return b
}

func addKey[K comparable](m map[K]map[string]struct{}, at K, k string) {
	set := m[at]
	if set == nil {
		set = make(map[string]struct{})
		m[at] = set
	}
	set[k] = struct{}{}
}

func dropKey[K comparable](m map[K]map[string]struct{}, at K, k string) {
	set := m[at]
	delete(set, k)
	if len(set) == 0 {
		delete(m, at)
	}
}
