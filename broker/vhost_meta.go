package broker

import (
	"context"
	"math/rand/v2"
	"slices"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"go.uber.org/zap"
)

// Every change to vhosts, exchanges, queues and bindings is a meta.Command
// passed to apply (or Server.applyDefs): the node's proposer commits it,
// then applies it (defs.go), and the reconciler below carries out its
// effects here. The command holds everything decided before it was
// proposed (names, incarnation ids); whether it succeeds is decided by
// meta.State.Apply from the committed state.

// apply commits and applies one definitions command of the vhost and
// returns what it answered. A failed commit changes nothing and is 541.
func (v *vhost) apply(cmd meta.Command) (applied, error) {
	return v.applyCtx(context.Background(), cmd)
}

// applyCtx is apply giving up on waiting for the commit once ctx ends
// (the channel that asked was closed); a commit under way completes.
func (v *vhost) applyCtx(ctx context.Context, cmd meta.Command) (applied, error) {
	return v.srv.applyDefs(ctx, cmd, v.name)
}

// applyDefs commits and applies cmd, giving up on waiting for the commit
// once ctx ends; vhost names it in the 541 of a failed commit.
func (s *Server) applyDefs(ctx context.Context, cmd meta.Command, vhost string) (applied, error) {
	a, err := s.defs.Propose(ctx, cmd)
	if err != nil && ctx.Err() != nil {
		return applied{}, protocol.NewError(protocol.InternalError, "definitions change in vhost '%s' abandoned: %v", vhost, err)
	}
	if pe := timedOut(cmd, s.cfg.NodeName, err); pe != nil {
		s.log.Warn("definitions change refused: the cluster did not commit it in time",
			zap.String("change", describeChange(cmd)), zap.Error(err))
		return applied{}, pe
	}
	if err != nil {
		s.log.Error("saving definitions failed", zap.Uint8("op", uint8(cmd.Op())), zap.String("vhost", vhost), zap.Error(err))
		return applied{}, protocol.NewError(protocol.InternalError,
			"cannot save definitions in vhost '%s': %v", vhost, err)
	}
	if a.Err != nil {
		return a, a.Err
	}
	s.log.Debug("definition changed", zap.Uint8("op", uint8(cmd.Op())), zap.String("vhost", vhost))
	return a, nil
}

// newIncarnation returns a fresh incarnation id for a queue about to be
// declared: random, so that it is chosen before proposing and the same on
// every replica, and never zero.
func newIncarnation() uint64 {
	for {
		if n := rand.Uint64(); n != 0 {
			return n
		}
	}
}

// declareRetries bounds how often a declare is proposed again when it
// meets a queue that is being deleted.
const declareRetries = 5

// declareQueue declares a queue that this node does not have and returns
// it in a.queue: the one it started, or the equivalent one that another
// connection declared meanwhile. A queue that deleted itself leaves the
// maps at once and its definition once the delete commits, so a declare
// in between finds the old definition: it is proposed again, after the
// delete. If the definition was committed but the queue could not be
// started here, the definition is deleted again (by incarnation) and the
// start error answered.
func (v *vhost) declareQueue(ctx context.Context, def queueDef) (applied, error) {
	for range declareRetries {
		a, err := v.applyCtx(ctx, meta.DeclareQueue{Vhost: v.name, Queue: def})
		switch {
		case err != nil:
			return a, err
		case a.startErr != nil:
			if _, derr := v.apply(meta.DeleteQueue{Vhost: v.name, Name: def.Name, Incarnation: def.Incarnation}); derr != nil {
				v.log.Warn("cannot remove the queue that did not start", zap.String("queue", def.Name), zap.Error(derr))
			}
			return applied{}, a.startErr
		case a.queue != nil:
			return a, nil
		}
		if a.queue = v.running(def.Name, a.Queue.Incarnation); a.queue != nil {
			return a, nil
		}
	}
	return applied{}, v.noQueue(def.Name)
}

// running returns the queue name if this node runs that incarnation.
func (v *vhost) running(name string, incarnation uint64) *queueEntry {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if e := v.queues[name]; e != nil && e.def.Incarnation == incarnation {
		return e
	}
	return nil
}

// forget stops routing to e, a queue that has deleted itself, before its
// definition's delete commits, so that nothing finds a deleted queue.
func (v *vhost) forget(e *queueEntry) {
	v.mu.Lock()
	if v.queues[e.def.Name] == e {
		delete(v.queues, e.def.Name)
	}
	v.mu.Unlock()
}

// reconcile carries out the effects of one applied command on this node,
// in order, recording in a the queue a declare started. It runs on the
// proposer's turn, so effects of different commands never interleave; it
// takes vhost.mu only to update maps and the router, and calls into queues
// (Declare, Delete, Close) without it.
func (s *Server) reconcile(effects []meta.Effect, a *applied) {
	for i := range effects {
		e := &effects[i]
		switch e.Kind {
		case meta.VhostAdded:
			s.addVhost(newVhost(s, e.Vhost))
			continue
		case meta.VhostDeleted:
			s.removeVhost(e.Vhost)
			continue
		case meta.UserChanged:
			s.userChanged(e.Access)
			continue
		case meta.UserDeleted:
			s.userDeleted(e.Access.User.Name)
			continue
		case meta.VhostMetaChanged:
			s.vhostMetaChanged(e.Vhost, e.VhostMeta)
			continue
		}
		v := s.vhost(e.Vhost)
		if v == nil {
			s.log.Error("definitions effect for a vhost this node does not serve", zap.String("vhost", e.Vhost))
			continue
		}
		switch e.Kind {
		case meta.ExchangeAdded:
			v.addExchange(e.Exchange, e.Policy)
		case meta.ExchangePolicyChanged:
			v.exchangePolicyChanged(e.Exchange.Name, e.Policy)
		case meta.QueuePolicyChanged:
			v.queuePolicyChanged(e.Queue, e.Policy)
		case meta.ExchangeRemoved:
			v.removeExchange(e.Exchange.Name)
		case meta.BindingAdded:
			if _, err := v.router.Bind(e.Binding); err != nil {
				v.log.Error("router refused a committed binding", zap.String("source", e.Binding.Source), zap.Error(err))
			}
		case meta.BindingRemoved:
			v.router.Unbind(e.Binding)
		case meta.QueueStarted:
			var q *queueEntry
			var err error
			if s.homedHere(e.Queue) {
				q, err = v.startQueue(e.Queue, e.Policy)
			} else {
				q, err = v.startRemote(e.Queue)
			}
			if err != nil {
				v.log.Error("cannot start queue", zap.String("queue", e.Queue.Name), zap.Error(err))
			}
			a.queue, a.startErr = q, err
		case meta.QueueStopped:
			v.stopQueue(e.Queue, e.DeleteData)
		case meta.QueueMembersChanged:
			v.setQueueMembers(e.Queue)
		}
	}
}

// memberSetter is a replicated queue whose members can change (a quorum
// queue).
type memberSetter interface {
	SetMembers(members []string)
}

// setQueueMembers records the new members of the queue def names, if this
// node runs that incarnation, and tells the queue, without the vhost lock
// (it only starts work of its own).
func (v *vhost) setQueueMembers(def queueDef) {
	v.mu.Lock()
	e := v.queues[def.Name]
	if e == nil || e.def.Incarnation != def.Incarnation {
		v.mu.Unlock()
		return
	}
	e.def.Members = slices.Clone(def.Members)
	v.mu.Unlock()
	if q, ok := e.q.(memberSetter); ok {
		q.SetMembers(def.Members)
	}
}

// homedHere reports whether this node runs the queue def. A single node
// runs every queue, whatever node name it had when the queue was declared;
// a cluster member runs the queues whose Home it is, and every quorum
// queue (a replica on its members, a client of the leader elsewhere).
func (s *Server) homedHere(def queueDef) bool {
	return s.cfg.Cluster == nil || def.Home == s.cfg.NodeName || def.Type == queue.TypeQuorum
}

// addExchange adds an exchange to the vhost and its router, with the
// alternate exchange its argument or the policy in force says.
func (v *vhost) addExchange(d exchangeDef, pol policy.Effective) {
	v.mu.Lock()
	v.exchanges[d.Name] = &exchangeEntry{exchangeDef: d}
	v.router.AddExchange(d.Name, d.Kind, policy.AlternateExchange(d.Alternate, d.Alternate != "", pol.Definition))
	v.mu.Unlock()
}

func (v *vhost) removeExchange(name string) {
	v.mu.Lock()
	delete(v.exchanges, name)
	v.router.RemoveExchange(name)
	v.mu.Unlock()
}

// startQueue opens a queue through its type (a durable classic queue
// recovers its messages), with its arguments under the policy pol, and
// routes to it. The vhost lock is held only to add it.
func (v *vhost) startQueue(def queueDef, pol policy.Effective) (*queueEntry, error) {
	t := v.srv.types.Lookup(def.Type)
	if t == nil {
		return nil, protocol.NewError(protocol.InternalError,
			"queue type '%s' of queue '%s' in vhost '%s' does not run on this node", def.Type, def.Name, v.name)
	}
	args, err := v.srv.parseQueueArgs(def.Args, def.Name, v.name)
	if err != nil {
		return nil, err
	}
	e := &queueEntry{def: def, args: args, owner: ownerOf(def.Owner), eff: policy.QueueArgs(args, pol.Definition)}
	q, err := t.Declare(context.Background(), queue.Declaration{
		VHost:      v.name,
		Name:       def.Name,
		Durable:    def.Durable,
		Exclusive:  def.Exclusive,
		AutoDelete: def.AutoDelete,
		Args:       e.eff,
		Members:    def.Members,
	}, queue.Hooks{
		DeadLetter:          v.deadLetter,
		DeadLetterConfirmed: v.deadLetterConfirmed,
		Expired:             func() { v.expireQueue(e) },
	})
	if err != nil {
		return nil, err
	}
	e.q = q
	v.mu.Lock()
	v.queues[def.Name] = e
	v.mu.Unlock()
	return e, nil
}

// stopQueue stops routing to the queue def names, if this node runs that
// incarnation, then deletes it (its messages and log) or only closes it,
// with no vhost lock held. A queue that deleted itself first (queue.delete,
// expiry, its owner's connection closing) finds the delete a no-op.
func (v *vhost) stopQueue(def queueDef, deleteData bool) {
	v.mu.Lock()
	e := v.queues[def.Name]
	if e == nil || e.def.Incarnation != def.Incarnation {
		v.mu.Unlock()
		return
	}
	delete(v.queues, def.Name)
	v.mu.Unlock()
	var err error
	if deleteData && !e.remote {
		_, err = e.q.Delete(context.Background(), false, false)
	} else {
		err = e.q.Close()
	}
	if err != nil {
		v.log.Warn("stopping queue failed", zap.String("queue", def.Name), zap.Error(err))
	}
}

// deleteQueue deletes the queue of e. The queue itself decides ifUnused
// and ifEmpty, atomically with its delete, and refuses with RabbitMQ's 406;
// once it has deleted itself nothing routes to it, and its definition and
// the bindings to it are removed, if the name is still that incarnation. On
// a single node a failed commit leaves the definition, which comes back,
// empty, at the next start; a cluster node commits it later
// (cluster_retry.go). No vhost lock is held
// while the queue deletes, since it may call back into the vhost
// (cancelling consumers, dead-lettering, expiry). It returns how many
// ready messages the queue dropped.
func (v *vhost) deleteQueue(e *queueEntry, ifUnused, ifEmpty bool) (uint32, error) {
	return v.deleteQueueCtx(context.Background(), e, ifUnused, ifEmpty)
}

// deleteQueueCtx is deleteQueue with the context of the wait for the
// queue (the channel's that asked). Once the queue has deleted itself its
// definition's delete is committed whatever ctx does.
func (v *vhost) deleteQueueCtx(ctx context.Context, e *queueEntry, ifUnused, ifEmpty bool) (uint32, error) {
	n, err := e.q.Delete(ctx, ifUnused, ifEmpty)
	if err != nil {
		return 0, err
	}
	v.srv.churn.queuesDeleted.Add(1)
	v.forget(e)
	cmd := meta.DeleteQueue{Vhost: v.name, Name: e.def.Name, Incarnation: e.def.Incarnation}
	if _, err = v.apply(cmd); err != nil && v.srv.cluster != nil {
		v.srv.cluster.deleteDefinitionLater(cmd) // cluster_retry.go
	}
	return n, err
}

// expireQueue deletes a queue whose x-expires ran out or whose last
// consumer went (auto-delete). The queue calls it without its lock held.
func (v *vhost) expireQueue(e *queueEntry) {
	if _, err := v.deleteQueue(e, false, false); err != nil {
		v.log.Warn("could not delete expired queue", zap.String("queue", e.def.Name), zap.Error(err))
		return
	}
	v.log.Debug("queue expired", zap.String("queue", e.def.Name))
}

// deleteOwnedQueue deletes an exclusive queue as its owner's connection
// closes.
func (v *vhost) deleteOwnedQueue(name string, by owner) {
	v.mu.RLock()
	e := v.queues[name]
	v.mu.RUnlock()
	if e == nil || e.owner != by {
		return
	}
	if _, err := v.deleteQueue(e, false, false); err != nil {
		v.log.Warn("could not delete exclusive queue", zap.String("queue", name), zap.Error(err))
	}
}
