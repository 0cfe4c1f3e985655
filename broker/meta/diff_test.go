package meta

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/warrenmq/warren/exchange"
)

// node is what a node carries out of effects: its vhosts, exchanges,
// running queues (with their members) and router bindings. apply fails on
// an effect that finds what it needs missing, or leaves something
// dangling.
type node struct {
	vhosts    map[string]bool
	exchanges map[string]ExchangeDef      // vhost/name
	queues    map[string]uint64           // vhost/name → incarnation
	members   map[string][]string         // vhost/name → members
	bindings  map[string]exchange.Binding // vhost/canonical key
}

func newNode() *node {
	return &node{vhosts: map[string]bool{}, exchanges: map[string]ExchangeDef{},
		queues: map[string]uint64{}, members: map[string][]string{}, bindings: map[string]exchange.Binding{}}
}

func (n *node) hasDest(vh string, d exchange.Destination) bool {
	if d.Exchange {
		_, ok := n.exchanges[vh+"/"+d.Name]
		return ok
	}
	_, ok := n.queues[vh+"/"+d.Name]
	return ok
}

func (n *node) apply(e Effect) error {
	vh := e.Vhost
	switch e.Kind {
	case VhostAdded:
		n.vhosts[vh] = true
	case VhostDeleted:
		for k := range n.queues {
			if len(k) > len(vh) && k[:len(vh)+1] == vh+"/" {
				return fmt.Errorf("vhost %s deleted with queue %s", vh, k)
			}
		}
		delete(n.vhosts, vh)
		for k := range n.exchanges {
			if len(k) > len(vh) && k[:len(vh)+1] == vh+"/" {
				delete(n.exchanges, k)
			}
		}
	case ExchangeAdded:
		if !n.vhosts[vh] {
			return fmt.Errorf("exchange %s added to missing vhost", e.Exchange.Name)
		}
		n.exchanges[vh+"/"+e.Exchange.Name] = e.Exchange
	case ExchangeRemoved:
		if err := n.unbound(vh, e.Exchange.Name, true); err != nil {
			return err
		}
		delete(n.exchanges, vh+"/"+e.Exchange.Name)
	case QueueStarted:
		if !n.vhosts[vh] {
			return fmt.Errorf("queue %s started in missing vhost", e.Queue.Name)
		}
		n.queues[vh+"/"+e.Queue.Name] = e.Queue.Incarnation
		n.members[vh+"/"+e.Queue.Name] = e.Queue.Members
	case QueueStopped:
		if err := n.unbound(vh, e.Queue.Name, false); err != nil {
			return err
		}
		delete(n.queues, vh+"/"+e.Queue.Name)
		delete(n.members, vh+"/"+e.Queue.Name)
	case QueueMembersChanged:
		if inc, ok := n.queues[vh+"/"+e.Queue.Name]; !ok || inc != e.Queue.Incarnation {
			return fmt.Errorf("members of queue %s changed, incarnation %d not running", e.Queue.Name, e.Queue.Incarnation)
		}
		n.members[vh+"/"+e.Queue.Name] = e.Queue.Members
	case BindingAdded:
		if _, ok := n.exchanges[vh+"/"+e.Binding.Source]; !ok || !n.hasDest(vh, e.Binding.Destination) {
			return fmt.Errorf("binding %+v added without its ends", e.Binding)
		}
		n.bindings[vh+"/"+string(BindingKey(nil, e.Binding))] = e.Binding
	case BindingRemoved:
		delete(n.bindings, vh+"/"+string(BindingKey(nil, e.Binding)))
	}
	return nil
}

// unbound fails when a binding of vhost vh still names the exchange (or
// queue) name: the reconciler removes bindings before what they join.
func (n *node) unbound(vh, name string, isExchange bool) error {
	for k, b := range n.bindings {
		if k[:len(vh)+1] != vh+"/" {
			continue
		}
		if (isExchange && b.Source == name) || b.Destination == (exchange.Destination{Name: name, Exchange: isExchange}) {
			return fmt.Errorf("%s removed while bound: %+v", name, b)
		}
	}
	return nil
}

// carry applies effects to n, failing t on the first one n cannot take.
func (n *node) carry(t *testing.T, effects []Effect) {
	t.Helper()
	for _, e := range effects {
		if err := n.apply(e); err != nil {
			t.Fatal(err)
		}
	}
}

// randomCommand is one of a small universe of commands, so that random
// sequences declare, bind, delete and redeclare the same names, and
// change the members of the quorum queue qq.
func randomCommand(r *rand.Rand, inc *uint64, last map[string]uint64) Command {
	vh := []string{"/", "v"}[r.IntN(2)]
	q := []string{"q1", "q2"}[r.IntN(2)]
	x := []string{"x1", "x2"}[r.IntN(2)]
	nodes := []string{"a", "b", "c"}
	switch r.IntN(10) {
	case 8:
		*inc++
		last[vh+"qq"] = *inc
		return DeclareQueue{Vhost: vh, Queue: QueueDef{Name: "qq", Durable: true, Type: "quorum", Incarnation: *inc,
			Home: "a", Members: nodes[r.IntN(3):]}}
	case 9:
		return SetQueueMembers{Vhost: vh, Name: "qq", Incarnation: last[vh+"qq"], Members: nodes[r.IntN(3):],
			Was: nodes[r.IntN(3):]}
	case 0:
		return AddVhost{Name: vh}
	case 1:
		if r.IntN(4) == 0 {
			return DeleteVhost{Name: vh}
		}
		return AddVhost{Name: vh}
	case 2:
		return DeclareExchange{Vhost: vh, Exchange: ExchangeDef{Name: x, Kind: []exchange.Kind{exchange.Direct, exchange.Topic}[r.IntN(2)], Durable: true}}
	case 3:
		return DeleteExchange{Vhost: vh, Name: x}
	case 4:
		*inc++
		last[vh+q] = *inc
		return DeclareQueue{Vhost: vh, Queue: QueueDef{Name: q, Durable: true, Type: "classic", Incarnation: *inc, Home: "warren@a"}}
	case 5:
		return DeleteQueue{Vhost: vh, Name: q, Incarnation: last[vh+q] - uint64(r.IntN(4)/3)}
	case 6:
		return Bind{Vhost: vh, Binding: qbind(x, q, "k")}
	default:
		return Bind{Vhost: vh, Binding: xbind(x, []string{"x1", "x2"}[r.IntN(2)], "k")}
	}
}

// TestDiff: for random histories, a node that carried out a state and
// then the Diff to a later one ends exactly as a node that carried out
// the later state from nothing, and no effect of the Diff finds what it
// refers to missing.
func TestDiff(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 300 {
		var inc uint64
		last := map[string]uint64{}
		from := NewState()
		for range r.IntN(30) {
			from.Apply(from.Applied()+1, randomCommand(r, &inc, last))
		}
		to, err := Restore(from.Snapshot())
		if err != nil {
			t.Fatalf("round %d: restore: %v", round, err)
		}
		for range r.IntN(30) {
			to.Apply(to.Applied()+1, randomCommand(r, &inc, last))
		}
		carried := newNode()
		carried.carry(t, Diff(NewState(), from))
		carried.carry(t, Diff(from, to))
		fresh := newNode()
		fresh.carry(t, Diff(NewState(), to))
		if !reflect.DeepEqual(carried, fresh) {
			t.Fatalf("round %d: after the diff\n got %v\nwant %v", round, carried, fresh)
		}
		if d := Diff(to, to); d != nil {
			t.Fatalf("round %d: diff of a state with itself: %+v", round, d)
		}
	}
}

// TestDiffFromNothing: a state's diff from the empty state starts every
// vhost, exchange, queue and binding in it.
func TestDiffFromNothing(t *testing.T) {
	s := NewState()
	applyAll(s, []Command{
		AddVhost{Name: "/"},
		DeclareExchange{Vhost: "/", Exchange: xdef("t", exchange.Topic)},
		DeclareQueue{Vhost: "/", Queue: qdef("q", 1)},
		Bind{Vhost: "/", Binding: qbind("t", "q", "k")},
	})
	n := newNode()
	n.carry(t, Diff(NewState(), s))
	if !n.vhosts["/"] || n.queues["//q"] != 1 || len(n.bindings) != 1 {
		t.Fatalf("node after the diff: %+v", n)
	}
	if got, want := len(n.exchanges), len(BuiltinExchanges)+2; got != want {
		t.Fatalf("%d exchanges, want %d (default, amq.*, t): %v", got, want, slices.Collect(maps.Keys(n.exchanges)))
	}
}
