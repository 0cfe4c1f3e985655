package broker

import (
	"context"
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"go.uber.org/zap"
)

// metaOp is one change to a vhost's definitions. Every change to
// exchanges, queues and bindings is a metaOp passed to vhost.apply: that
// one function is the seam where durable definitions will be written to
// disk and, in a cluster, replicated through Raft before they take effect.
type metaOp interface {
	opName() string
}

type (
	// opDeclareExchange creates an exchange if it does not exist.
	opDeclareExchange struct{ def exchangeDef }
	// opDeleteExchange deletes an exchange and the bindings to and from it.
	opDeleteExchange struct {
		name     string
		ifUnused bool
	}
	// opBind adds a binding.
	opBind struct{ b exchange.Binding }
	// opUnbind removes a binding if it is there. by is the connection
	// asking: a binding to another connection's exclusive queue stays.
	opUnbind struct {
		b  exchange.Binding
		by owner
	}
	// opDeclareQueue creates a queue if it does not exist.
	opDeclareQueue struct {
		def   queueDef
		args  queue.Args
		owner owner // zero unless exclusive
	}
	// opDeleteQueue removes the definition of a queue that has deleted
	// itself (vhost.deleteQueue), and the bindings to it, if the name is
	// still that instance.
	opDeleteQueue struct {
		name string
		only *queueEntry
	}
)

func (opDeclareExchange) opName() string { return "declare-exchange" }
func (opDeleteExchange) opName() string  { return "delete-exchange" }
func (opBind) opName() string            { return "bind" }
func (opUnbind) opName() string          { return "unbind" }
func (opDeclareQueue) opName() string    { return "declare-queue" }
func (opDeleteQueue) opName() string     { return "delete-queue" }

// metaResult is what an applied op reports.
type metaResult struct {
	created bool        // declare: the entity is new
	queue   *queueEntry // declare-queue: the queue
	changed bool        // bind, unbind: the binding set changed
}

// apply performs one definition change under the vhost's write lock.
func (v *vhost) apply(op metaOp) (metaResult, error) {
	r, doomed, err := v.applyLocked(op)
	if doomed != nil {
		// Outside the lock: deleting cancels consumers and may call back.
		if _, derr := doomed.Delete(context.Background(), false, false); derr != nil {
			v.log.Warn("deleting queue failed", zap.String("queue", doomed.Name()), zap.Error(derr))
		}
	}
	return r, err
}

// applyLocked performs an op under the vhost's write lock and returns a
// queue that must be deleted once the lock is released. The durable
// changes the op made (defChange) are committed to the node's definitions
// before the lock is released, so they are on disk before the reply goes
// out and in the same order as the changes in memory. A declare or bind
// whose commit fails is undone and refused with 541; a delete whose commit
// fails has happened in memory and comes back after a restart.
func (v *vhost) applyLocked(op metaOp) (metaResult, queue.Queue, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var r metaResult
	var doomed queue.Queue
	var err error
	v.pending = v.pending[:0]
	switch op := op.(type) {
	case opDeclareExchange:
		r, err = v.declareExchangeLocked(op)
	case opDeleteExchange:
		err = v.deleteExchangeLocked(op.name, op.ifUnused)
	case opBind:
		r, err = v.bindLocked(op.b)
	case opUnbind:
		r, err = v.unbindLocked(op)
	case opDeclareQueue:
		r, err = v.declareQueueLocked(op)
	case opDeleteQueue:
		r, err = v.deleteQueueLocked(op)
	default:
		err = fmt.Errorf("broker: unknown metadata op %T", op)
	}
	if err == nil && len(v.pending) > 0 {
		if cerr := v.commitLocked(); cerr != nil {
			v.log.Error("saving definitions failed", zap.String("op", op.opName()), zap.Error(cerr))
			if q := v.undoLocked(op, r); q != nil {
				doomed = q
			}
			return metaResult{}, doomed, protocol.NewError(protocol.InternalError,
				"cannot save definitions in vhost '%s': %v", v.name, cerr)
		}
	}
	if err == nil {
		v.log.Debug("definition changed", zap.String("op", op.opName()))
	}
	return r, doomed, err
}

// commitLocked writes the durable changes of the op being applied. While
// the vhost is being loaded at start-up (or has no data dir) nothing is
// written.
func (v *vhost) commitLocked() error {
	defer func() {
		clear(v.pending)
		v.pending = v.pending[:0]
	}()
	if v.loading || v.srv.defs == nil {
		return nil
	}
	return v.srv.defs.Commit(v.pending)
}

// undoLocked reverts a declare or bind whose commit failed, returning a
// queue to delete once the lock is released.
func (v *vhost) undoLocked(op metaOp, r metaResult) queue.Queue {
	switch op := op.(type) {
	case opDeclareExchange:
		if r.created {
			delete(v.exchanges, op.def.Name)
			v.router.RemoveExchange(op.def.Name)
		}
	case opBind:
		if r.changed {
			v.router.Unbind(op.b)
			delete(v.savedBindings, string(bindingKey(nil, op.b)))
		}
	case opDeclareQueue:
		if r.created && r.queue != nil {
			delete(v.queues, op.def.Name)
			return r.queue.q
		}
	}
	return nil
}

// saveLocked records a durable change of the op being applied.
func (v *vhost) saveLocked(c defChange) {
	c.vhost = v.name
	v.pending = append(v.pending, c)
}

// forgetBindingsLocked deletes the saved ones among removed bindings.
func (v *vhost) forgetBindingsLocked(removed []exchange.Binding) {
	for _, b := range removed {
		k := string(bindingKey(nil, b))
		if _, ok := v.savedBindings[k]; ok {
			delete(v.savedBindings, k)
			v.saveLocked(defChange{del: true, kind: defBinding, b: b})
		}
	}
}

// durableLocked reports whether a binding's destination is durable.
func (v *vhost) durableLocked(d exchange.Destination) bool {
	if d.Exchange {
		x := v.exchanges[d.Name]
		return x != nil && x.Durable
	}
	e := v.queues[d.Name]
	return e != nil && e.def.Durable
}

func (v *vhost) declareExchangeLocked(op opDeclareExchange) (metaResult, error) {
	if _, ok := v.exchanges[op.def.Name]; ok {
		return metaResult{}, nil
	}
	d := op.def
	v.exchanges[d.Name] = &d
	v.router.AddExchange(d.Name, d.Kind, d.Alternate)
	if d.Durable && !reservedName(d.Name) {
		v.saveLocked(defChange{kind: defExchange, x: &d})
	}
	return metaResult{created: true}, nil
}

func (v *vhost) deleteExchangeLocked(name string, ifUnused bool) error {
	if _, ok := v.exchanges[name]; !ok {
		return nil
	}
	if ifUnused && v.router.HasBindingsFrom(name) {
		return protocol.NewError(protocol.PreconditionFailed, "exchange '%s' in vhost '%s' in use", name, v.name)
	}
	x := v.exchanges[name]
	delete(v.exchanges, name)
	removed := v.router.RemoveExchange(name)
	if x.Durable {
		v.saveLocked(defChange{del: true, kind: defExchange, name: name})
	}
	v.forgetBindingsLocked(removed)
	v.autoDeleteLocked(removed)
	return nil
}

// autoDeleteLocked deletes the auto-delete source exchanges of removed
// bindings that are left with no bindings from them.
func (v *vhost) autoDeleteLocked(removed []exchange.Binding) {
	for _, b := range removed {
		x, ok := v.exchanges[b.Source]
		if !ok || !x.AutoDelete || v.router.HasBindingsFrom(b.Source) {
			continue
		}
		v.deleteExchangeLocked(b.Source, false)
	}
}

func (v *vhost) bindLocked(b exchange.Binding) (metaResult, error) {
	if _, ok := v.exchanges[b.Source]; !ok {
		return metaResult{}, v.noExchange(b.Source)
	}
	if b.Destination.Exchange {
		if _, ok := v.exchanges[b.Destination.Name]; !ok {
			return metaResult{}, v.noExchange(b.Destination.Name)
		}
	} else if _, ok := v.queues[b.Destination.Name]; !ok {
		return metaResult{}, v.noQueue(b.Destination.Name)
	}
	added, err := v.router.Bind(b)
	if err == nil && added && v.exchanges[b.Source].Durable && v.durableLocked(b.Destination) {
		v.savedBindings[string(bindingKey(nil, b))] = struct{}{}
		v.saveLocked(defChange{kind: defBinding, b: b})
	}
	return metaResult{changed: added}, err
}

// unbindLocked removes a binding. As rabbit_binding:remove, a missing
// source, destination or binding is no error; an existing binding to
// another connection's exclusive queue is refused with 405.
func (v *vhost) unbindLocked(op opUnbind) (metaResult, error) {
	b := op.b
	if !b.Destination.Exchange {
		e := v.queues[b.Destination.Name]
		if e != nil && e.lockedFor(op.by) && v.boundLocked(b) {
			return metaResult{}, v.locked(b.Destination.Name)
		}
	}
	if !v.router.Unbind(b) {
		return metaResult{}, nil
	}
	v.forgetBindingsLocked([]exchange.Binding{b})
	v.autoDeleteLocked([]exchange.Binding{b})
	return metaResult{changed: true}, nil
}

// boundLocked reports whether the binding b exists.
func (v *vhost) boundLocked(b exchange.Binding) bool {
	for _, o := range v.router.BindingsTo(b.Destination) {
		if o.Equal(b) {
			return true
		}
	}
	return false
}

func (v *vhost) declareQueueLocked(op opDeclareQueue) (metaResult, error) {
	if e, ok := v.queues[op.def.Name]; ok {
		return metaResult{queue: e}, nil
	}
	t := v.srv.types.Lookup(op.args.Type)
	if t == nil {
		return metaResult{}, protocol.NewError(protocol.InternalError,
			"queue type '%s' of queue '%s' in vhost '%s' does not run on this node", op.args.Type, op.def.Name, v.name)
	}
	e := &queueEntry{def: op.def, args: op.args, owner: op.owner}
	name := op.def.Name
	q, err := t.Declare(context.Background(), queue.Declaration{
		VHost:      v.name,
		Name:       name,
		Durable:    op.def.Durable,
		Exclusive:  op.def.Exclusive,
		AutoDelete: op.def.AutoDelete,
		Args:       op.args,
	}, queue.Hooks{
		DeadLetter: v.deadLetter,
		Expired:    func() { v.expireQueue(e) },
	})
	if err != nil {
		return metaResult{}, err
	}
	e.q = q
	v.queues[name] = e
	if op.def.Durable {
		d := op.def
		v.saveLocked(defChange{kind: defQueue, q: &d})
	}
	return metaResult{created: true, queue: e}, nil
}

// deleteQueue deletes the queue of e. The queue itself decides ifUnused
// and ifEmpty, atomically with its delete, and refuses with RabbitMQ's 406;
// once it has deleted itself its definition and the bindings to it are
// removed, if the name is still that instance. No vhost lock is held
// while the queue deletes, since it may call back into the vhost
// (cancelling consumers, dead-lettering, expiry). It returns how many
// ready messages the queue dropped.
func (v *vhost) deleteQueue(e *queueEntry, ifUnused, ifEmpty bool) (uint32, error) {
	n, err := e.q.Delete(context.Background(), ifUnused, ifEmpty)
	if err != nil {
		return 0, err
	}
	_, err = v.apply(opDeleteQueue{name: e.def.Name, only: e})
	return n, err
}

// deleteQueueLocked removes a deleted queue's definition and the bindings
// to it, unless the name now belongs to another instance.
func (v *vhost) deleteQueueLocked(op opDeleteQueue) (metaResult, error) {
	e, ok := v.queues[op.name]
	if !ok || e != op.only {
		return metaResult{}, nil
	}
	delete(v.queues, op.name)
	removed := v.router.RemoveDestination(exchange.Destination{Name: op.name})
	if e.def.Durable {
		v.saveLocked(defChange{del: true, kind: defQueue, name: op.name})
	}
	v.forgetBindingsLocked(removed)
	v.autoDeleteLocked(removed)
	return metaResult{}, nil
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
