package broker

import (
	"context"
	"slices"
	"strings"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// The inspection API of a vhost's objects: its exchanges, queues (with
// their depths) and bindings as the node's definitions hold them, and the
// whole definitions as a RabbitMQ document. Reads take defsFSM.mu (a
// leaf) to copy the definitions and ask each queue for its counters with
// no lock held.

// ExchangeInfo is an exchange of a vhost, the default and amq.* ones
// included.
type ExchangeInfo struct {
	Vhost, Name, Type             string
	Durable, AutoDelete, Internal bool
	Args                          protocol.Table
	// MessageStats are its counters on this node.
	MessageStats MessageStats
}

// QueueInfo is a queue of a vhost with its counters.
type QueueInfo struct {
	Vhost, Name, Type              string
	Durable, AutoDelete, Exclusive bool
	Args                           protocol.Table
	// Node is the queue's home node (a quorum queue's: the node that
	// declared it); Members a quorum queue's replicas.
	Node    string
	Members []string
	// OwnerPeer is, for an exclusive queue, the node and connection id
	// of its owner.
	OwnerNode string
	// Stats are the queue's counters; Running is false when it is not
	// running on this node and could not be asked.
	Stats   queue.Stats
	Running bool
	// MessageStats are the counters of what this node's channels
	// published into it and took from it.
	MessageStats MessageStats
	// Raft is the Raft figures of this node's replica of a quorum queue
	// (LocalQueues only; nil elsewhere).
	Raft *queue.RaftMetrics
	// Policy and OperatorPolicy name the policy and the operator policy
	// in force on the queue ("" for none), EffectivePolicy is their
	// definitions merged (RabbitMQ's effective_policy_definition; nil
	// for none). Queues sets them; LocalQueues leaves them empty.
	Policy, OperatorPolicy string
	EffectivePolicy        policy.Definition
}

// BindingInfo is a binding of a vhost. Source "" is the default
// exchange, whose bindings (one per queue, keyed by its name) are listed
// as RabbitMQ lists them.
type BindingInfo struct {
	Vhost, Source, Destination, DestinationType, RoutingKey string
	Args                                                    protocol.Table
}

// Vhosts returns the names of the vhosts, sorted.
func (s *Server) Vhosts() []string {
	var out []string
	s.fsm.read(func(st *meta.State) { out = st.Vhosts() })
	slices.Sort(out)
	return out
}

// VhostExists reports whether the vhost exists.
func (s *Server) VhostExists(name string) bool {
	return slices.Contains(s.Vhosts(), name)
}

// Exchanges lists the exchanges of a vhost, sorted by name; nil for a
// vhost that does not exist.
func (s *Server) Exchanges(vhost string) []ExchangeInfo {
	var out []ExchangeInfo
	s.fsm.read(func(st *meta.State) {
		for _, x := range st.Exchanges(vhost) {
			out = append(out, ExchangeInfo{Vhost: vhost, Name: x.Name, Type: x.Kind.String(),
				Durable: x.Durable, AutoDelete: x.AutoDelete, Internal: x.Internal, Args: x.Args})
		}
	})
	slices.SortFunc(out, func(a, b ExchangeInfo) int { return strings.Compare(a.Name, b.Name) })
	if v := s.vhost(vhost); v != nil {
		v.mu.RLock()
		for i := range out {
			if out[i].Name == "" {
				out[i].MessageStats = v.defaultX.messageStats()
			} else if x := v.exchanges[out[i].Name]; x != nil {
				out[i].MessageStats = x.stats.messageStats()
			}
		}
		v.mu.RUnlock()
	}
	return out
}

// Queues lists the queues of a vhost, sorted by name, with the counters
// of each (asked of the queue with ctx, which bounds the wait for queues
// on other nodes) and the policies in force on it.
func (s *Server) Queues(ctx context.Context, vhost string) []QueueInfo {
	var defs []meta.QueueDef
	var pols []policy.Effective
	s.fsm.read(func(st *meta.State) {
		defs = st.Queues(vhost)
		slices.SortFunc(defs, func(a, b meta.QueueDef) int { return strings.Compare(a.Name, b.Name) })
		pols = make([]policy.Effective, len(defs))
		for i := range defs {
			pols[i] = st.QueuePolicy(vhost, &defs[i])
		}
	})
	v := s.vhost(vhost)
	out := make([]QueueInfo, 0, len(defs))
	for i, d := range defs {
		qi := QueueInfo{Vhost: vhost, Name: d.Name, Type: d.Type, Durable: d.Durable, AutoDelete: d.AutoDelete,
			Exclusive: d.Exclusive, Args: d.Args, Node: d.Home, Members: d.Members, OwnerNode: d.Owner.Node,
			Policy: pols[i].Policy, OperatorPolicy: pols[i].Operator}
		if !pols[i].None() {
			qi.EffectivePolicy = pols[i].Definition
		}
		if qi.Type == "" {
			qi.Type = "classic"
		}
		if qi.Node == "" {
			qi.Node = s.cfg.NodeName
		}
		if e := v.entryNamed(d.Name); e != nil {
			qi.Stats, qi.Running = e.q.Stats(ctx), true
			qi.MessageStats = e.stats.messageStats()
		}
		out = append(out, qi)
	}
	return out
}

// entryNamed returns the running queue of that name, or nil (v may be
// nil).
func (v *vhost) entryNamed(name string) *queueEntry {
	if v == nil {
		return nil
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.queues[name]
}

// Bindings lists the bindings of a vhost: first the default exchange's
// implicit one per queue, then the others sorted by source, destination
// and key.
func (s *Server) Bindings(vhost string) []BindingInfo {
	var out []BindingInfo
	s.fsm.read(func(st *meta.State) {
		qs := st.Queues(vhost)
		slices.SortFunc(qs, func(a, b meta.QueueDef) int { return strings.Compare(a.Name, b.Name) })
		for _, q := range qs {
			out = append(out, BindingInfo{Vhost: vhost, Destination: q.Name, DestinationType: "queue",
				RoutingKey: q.Name, Args: protocol.Table{}})
		}
		var bs []BindingInfo
		for _, b := range st.Bindings(vhost) {
			bs = append(bs, BindingInfo{Vhost: vhost, Source: b.Source, Destination: b.Destination.Name,
				DestinationType: destinationType(b.Destination), RoutingKey: b.Key, Args: b.Args})
		}
		slices.SortFunc(bs, func(a, b BindingInfo) int {
			return strings.Compare(a.Source+"\x00"+a.Destination+"\x00"+a.RoutingKey,
				b.Source+"\x00"+b.Destination+"\x00"+b.RoutingKey)
		})
		out = append(out, bs...)
	})
	return out
}

// destinationType is RabbitMQ's name for a binding's destination kind.
func destinationType(d exchange.Destination) string {
	if d.Exchange {
		return "exchange"
	}
	return "queue"
}

// Snapshot returns the node's definitions as a RabbitMQ definitions
// document, as ExportDefinitions writes it: users (with their password
// hashes), vhosts, permissions, topic permissions, parameters, global
// parameters and policies, and the exchanges, queues and bindings
// clients declared.
func (s *Server) Snapshot() *Definitions {
	var d *Definitions
	s.fsm.read(func(st *meta.State) { d = exportState(st) })
	return d
}
