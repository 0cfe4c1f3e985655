package broker

import (
	"context"
	"path/filepath"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/classic"
	"github.com/warrenmq/warren/queue/quorum"
)

// This file is the one place the broker names a queue type's package: it
// builds the node's queue.Registry. Everywhere else the broker reaches
// queues through queue.Type and queue.Queue, and reads a type's
// capabilities instead of knowing which type it is.

// transientDir is the data dir's folder where classic queues page out
// transient messages; it is emptied at every start.
const transientDir = "transient"

// quorumDir is the data dir's folder of the quorum queues' WAL and
// snapshots.
const quorumDir = "quorum"

// openQueueTypes builds the registry of the queue types this node runs,
// classic first; the classic type opens the queue store, and the volatile
// store of transient messages, under the data dir (none with
// Config.InMemory).
func (s *Server) openQueueTypes() error {
	c := classic.TypeConfig{
		Logger:   s.log,
		OnDamage: func(records uint64) { s.damaged.Add(records) },
	}
	if !s.cfg.InMemory {
		c.Dir = filepath.Join(s.cfg.DataDir, queuesDir)
		c.SpillDir = filepath.Join(s.cfg.DataDir, transientDir)
	}
	ct, err := classic.OpenType(c)
	if err != nil {
		return err
	}
	var first queue.Type = ct
	if s.cfg.WrapClassic != nil {
		first = s.cfg.WrapClassic(ct)
	}
	types := []queue.Type{first}
	if !s.extraType(queue.TypeQuorum) {
		qt, err := s.openQuorum()
		if err != nil {
			ct.Close()
			return err
		}
		types = append(types, qt)
	}
	reg, err := queue.NewRegistry(append(types, s.cfg.extraTypes...)...)
	if err != nil {
		for _, t := range types {
			t.Close()
		}
		return err
	}
	s.types = reg
	return nil
}

// openQuorum opens the quorum queue type, logging to the WAL under the
// data dir: on a single node each quorum queue is a Raft group of one; a
// cluster node's groups replicate over the cluster port
// (cluster_quorum.go).
func (s *Server) openQuorum() (queue.Type, error) {
	c := quorum.Config{Node: s.cfg.NodeName, Logger: s.log, RaftLogger: cluster.NewHCLogger(s.log, "quorum")}
	if s.cluster != nil {
		c.Net, c.RestAfter = quorumNet{s.cluster}, s.cfg.Cluster.QuorumRestAfter
	}
	if !s.cfg.InMemory {
		c.Dir = filepath.Join(s.cfg.DataDir, quorumDir)
	}
	return quorum.OpenType(c)
}

// extraType reports whether a test registers its own type called name.
func (s *Server) extraType(name string) bool {
	for _, t := range s.cfg.extraTypes {
		if t.Name() == name {
			return true
		}
	}
	return false
}

// closeQueueTypes closes every queue type once their queues are closed.
func (s *Server) closeQueueTypes() error {
	if s.types == nil {
		return nil
	}
	var first error
	for _, t := range s.types.Types() {
		if err := t.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// typeArgs returns the declare arguments the registered type typ accepts,
// or nil for a type this node does not run (queue.ParseArgsWith then uses
// RabbitMQ's list, to refuse as RabbitMQ does).
func (s *Server) typeArgs(typ string) []string {
	if t := s.types.Lookup(typ); t != nil {
		return t.Capabilities().Args
	}
	return nil
}

// parseQueueArgs validates a queue's declare arguments against what its
// type accepts.
func (s *Server) parseQueueArgs(t protocol.Table, name, vhost string) (queue.Args, error) {
	return queue.ParseArgsWith(t, name, vhost, s.typeArgs)
}

// recoverQueueTypes tells each queue type, before any queue is started,
// which durable queues of the loaded definitions are its own, so that it
// drops what belongs to none (the classic type: the logs of deleted
// queues).
func (s *Server) recoverQueueTypes(state *meta.State) error {
	refs := make(map[string][]queue.Ref)
	for _, vh := range state.Vhosts() {
		for _, qd := range state.Queues(vh) {
			typ := s.savedType(qd.Args)
			refs[typ] = append(refs[typ], queue.Ref{VHost: vh, Name: qd.Name})
		}
	}
	for _, t := range s.types.Types() {
		if err := t.Recover(context.Background(), refs[t.Name()]); err != nil {
			return err
		}
	}
	return nil
}

// savedType is the registered type a saved queue belongs to. A queue whose
// x-queue-type names no registered type cannot be recreated; it counts as
// classic, so that whatever it left on disk is kept.
func (s *Server) savedType(args protocol.Table) string {
	if typ, ok := args["x-queue-type"].(string); ok && s.types.Lookup(typ) != nil {
		return typ
	}
	return queue.TypeClassic
}

// checkServerNamed refuses a server-named queue of a type that does not
// allow one, as RabbitMQ does.
func (s *Server) checkServerNamed(typ string) error {
	if t := s.types.Lookup(typ); t != nil && !t.Capabilities().ServerNamed {
		return protocol.NewError(protocol.PreconditionFailed,
			"Cannot declare a server-named queue for type %s", queue.TypeModule(typ))
	}
	return nil
}

// checkDeclarable checks a new queue's flags against what its type allows,
// in rabbit_queue_type_util's order (auto-delete, exclusive, non-durable),
// then refuses a type RabbitMQ has that this node does not run (t nil),
// whose capabilities are taken to be RabbitMQ's quorum and stream queues':
// durable, not exclusive, not auto-delete.
func checkDeclarable(t queue.Type, typ string, def queueDef, vhost string) error {
	var caps queue.Capabilities
	if t != nil {
		caps = t.Capabilities()
	}
	invalid := func(prop string) error {
		return protocol.NewError(protocol.PreconditionFailed,
			"invalid property '%s' for queue '%s' in vhost '%s'", prop, def.Name, vhost)
	}
	switch {
	case def.AutoDelete && !caps.AutoDelete:
		return invalid("auto-delete")
	case def.Exclusive && !caps.Exclusive:
		return invalid("exclusive-owner")
	case !def.Durable && !caps.NonDurable:
		return invalid("non-durable")
	}
	if t == nil {
		return protocol.NewError(protocol.PreconditionFailed,
			"queue type '%s' is not supported by Warren yet; declare a classic queue", typ)
	}
	return nil
}
