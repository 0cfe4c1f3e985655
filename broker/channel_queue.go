package broker

import (
	"context"
	"maps"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// queueName expands the "" shortcut to the channel's most recently
// declared queue.
func (ch *channel) queueName(name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if ch.lastQueue == "" {
		return "", protocol.NewError(protocol.NotFound, "no previously declared queue")
	}
	return ch.lastQueue, nil
}

// readableQueue finds the queue a method that reads it names (purge,
// get; "" for the channel's last declared one) that this connection may
// use; the user's read permission is checked first, as rabbit_channel
// checks it before looking the queue up.
func (ch *channel) readableQueue(name string) (*queueEntry, error) {
	name, err := ch.queueName(name)
	if err != nil {
		return nil, err
	}
	if err := ch.checkAccess(resQueue, permRead, name); err != nil {
		return nil, err
	}
	return ch.c.vh.queueFor(name, ch.c)
}

func (ch *channel) queueDeclare(m *protocol.QueueDeclare) error {
	vh := ch.c.vh
	c := ch.c
	if isReplyKey(m.Queue) || m.Queue == directReplyTo {
		// Declares of direct reply-to names are passive: the name exists
		// while its requester is subscribed, with that one consumer.
		if vh.replyChannel(m.Queue) == nil {
			return vh.noQueue(m.Queue)
		}
		if !m.NoWait {
			c.sendMethod(ch.id, &protocol.QueueDeclareOk{Queue: m.Queue, ConsumerCount: 1})
		}
		return nil
	}
	if m.Passive {
		if err := ch.checkAnyAccess(resQueue, m.Queue); err != nil {
			return err
		}
		e, err := vh.queueFor(m.Queue, c)
		if err != nil {
			return err
		}
		ch.declared(m, e, m.NoWait)
		return nil
	}
	name := m.Queue
	if name == "" {
		name = randomName("amq.gen-")
	} else if reservedName(name) {
		return protocol.NewError(protocol.AccessRefused, "queue name '%s' contains reserved prefix 'amq.*'", name)
	}
	if err := ch.checkAccess(resQueue, permConfigure, name); err != nil {
		return err
	}
	if m.Queue != "" {
		m.Arguments = vh.withDefaultType(name, m.Arguments, m.Durable, m.Exclusive, m.AutoDelete)
	}
	vh.srv.churn.queuesDeclared.Add(1)
	args, err := vh.srv.parseQueueArgs(m.Arguments, name, vh.name)
	if err != nil {
		return vh.typeMismatch(name, m.Arguments, err)
	}
	if m.Queue == "" {
		if err := vh.srv.checkServerNamed(args.Type); err != nil {
			return err
		}
	}
	def := queueDef{Name: name, Durable: m.Durable && !m.Exclusive, Exclusive: m.Exclusive,
		AutoDelete: m.AutoDelete, Args: m.Arguments, Type: args.Type, Home: vh.srv.cfg.NodeName, Life: vh.srv.life}
	if m.Exclusive {
		def.Owner = c.owner().meta()
	}
	if args.Type == queue.TypeQuorum && vh.srv.cluster != nil {
		def.Members = vh.srv.cluster.quorumMembers(vh.name, &def, args.InitialGroupSize)
	}
	vh.mu.RLock()
	existing := vh.queues[name]
	vh.mu.RUnlock()
	if existing != nil {
		// A redeclare is checked here, without a commit.
		if err := meta.QueueEquivalent(vh.name, &existing.def, &def); err != nil {
			return err
		}
		ch.declared(m, existing, m.NoWait)
		return nil
	}
	if err := checkDeclarable(vh.srv.types.Lookup(args.Type), args.Type, def, vh.name); err != nil {
		return err
	}
	if dlx, ok := m.Arguments["x-dead-letter-exchange"].(string); ok {
		// As rabbit_channel for a new queue: read on it, write on its
		// dead-letter exchange.
		if err := ch.checkAccess(resQueue, permRead, name); err != nil {
			return err
		}
		if err := ch.checkAccess(resExchange, permWrite, dlx); err != nil {
			return err
		}
	}
	def.Incarnation = newIncarnation()
	noWait := m.NoWait
	var r applied
	ch.await(m, func(ctx context.Context) error {
		var err error
		if r, err = vh.declareQueue(ctx, def); err != nil {
			return err
		}
		if r.Created {
			vh.srv.churn.queuesCreated.Add(1)
		}
		if r.Created && def.Exclusive {
			c.addExclusive(name)
		}
		return nil
	}, func() { ch.declared(m, r.queue, noWait) })
	return nil
}

// withDefaultType adds the vhost's default queue type to the arguments of
// a declare that names no type, as rabbit_amqqueue:augment_declare_args:
// a new queue gets it when the type takes a queue so declared (a quorum
// queue only a durable one, neither exclusive nor auto-delete); a
// redeclare matches the existing queue whatever its type, so a queue
// declared before the default was set stays equivalent. A vhost without a
// default keeps RabbitMQ's plain rule (no type is classic), and so does
// one whose default is a type this node lacks (stream); a server-named
// queue is never given it.
func (v *vhost) withDefaultType(name string, args protocol.Table, durable, exclusive, autoDelete bool) protocol.Table {
	m := v.meta.Load()
	if m == nil || m.DefaultQueueType == "" || m.DefaultQueueType == queue.TypeClassic || v.srv.types.Lookup(m.DefaultQueueType) == nil {
		return args
	}
	if _, ok := args["x-queue-type"]; ok {
		return args
	}
	typ := m.DefaultQueueType
	v.mu.RLock()
	e := v.queues[name]
	v.mu.RUnlock()
	switch {
	case e != nil:
		typ = e.def.Type
	case typ == queue.TypeQuorum && (!durable || exclusive || autoDelete):
		return args
	}
	out := make(protocol.Table, len(args)+1)
	maps.Copy(out, args)
	out["x-queue-type"] = typ
	return out
}

// typeMismatch returns the error of a declare whose arguments args failed
// to parse with err: when the queue exists with another type, RabbitMQ
// reports the inequivalent x-queue-type rather than arguments that type
// does not take.
func (v *vhost) typeMismatch(name string, args protocol.Table, err error) error {
	v.mu.RLock()
	e := v.queues[name]
	v.mu.RUnlock()
	if e == nil {
		return err
	}
	typ := queue.TypeClassic
	if s, ok := args["x-queue-type"].(string); ok {
		typ = s
	}
	if typ == e.def.Type {
		return err
	}
	got := protocol.Table{"x-queue-type": typ}
	return queue.EquivalentArgs(name, v.name, e.def.Type, protocol.Table{"x-queue-type": e.def.Type}, got)
}

// addExclusive records an exclusive queue the connection declared, for
// its teardown to delete, even if the channel that declared it has gone.
// It takes hmu, off the read loop.
func (c *conn) addExclusive(name string) {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.exclusive == nil {
		c.exclusive = make(map[string]struct{})
	}
	c.exclusive[name] = struct{}{}
}

// declared remembers the queue and sends queue.declare-ok (for m).
// Reading the counts for it renews the queue's x-expires lease, as
// RabbitMQ's stat call does for every declare that is answered, passive or
// not; a nowait declare reads nothing and renews nothing. The counts of a
// queue on another node are waited for on the channel's own goroutine
// (await), so that the connection's other channels go on meanwhile; one
// whose node is down fails the declare with 404, as in RabbitMQ.
func (ch *channel) declared(m protocol.Method, e *queueEntry, noWait bool) {
	ch.lastQueue = e.def.Name
	if noWait {
		return
	}
	e.q.Touch()
	if !e.remote {
		ch.declareOk(e, e.q.Stats(context.Background()))
		return
	}
	var st queue.Stats
	vh := ch.c.vh
	ch.await(m, func(ctx context.Context) (err error) {
		st, err = remoteStats(ctx, e.q)
		if err != nil && !vh.holds(e) {
			// Deleted meanwhile (its proxy closed as the delete was
			// applied): the queue is gone, as RabbitMQ answers then.
			return vh.noQueue(e.def.Name)
		}
		return err
	}, func() { ch.declareOk(e, st) })
}

// holds reports whether e is still the vhost's queue of its name.
func (v *vhost) holds(e *queueEntry) bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.queues[e.def.Name] == e
}

func (ch *channel) declareOk(e *queueEntry, st queue.Stats) {
	ch.c.sendMethod(ch.id, &protocol.QueueDeclareOk{Queue: e.def.Name, MessageCount: st.Ready, ConsumerCount: st.Consumers})
}

func (ch *channel) queueBind(m *protocol.QueueBind) error {
	cmd, err := ch.bindQueue(m.Queue, m.Exchange, m.RoutingKey, m.Arguments, true)
	if err != nil {
		return err
	}
	var reply protocol.Method
	if !m.NoWait {
		reply = &protocol.QueueBindOk{}
	}
	ch.propose(m, cmd, reply)
	return nil
}

func (ch *channel) queueUnbind(m *protocol.QueueUnbind) error {
	cmd, err := ch.bindQueue(m.Queue, m.Exchange, m.RoutingKey, m.Arguments, false)
	if err != nil {
		return err
	}
	ch.propose(m, cmd, &protocol.QueueUnbindOk{})
	return nil
}

// bindQueue checks a binding from an exchange to a queue and returns the
// command that adds or removes it.
func (ch *channel) bindQueue(qname, x, key string, args protocol.Table, bind bool) (meta.Command, error) {
	vh := ch.c.vh
	name, err := ch.queueName(qname)
	if err != nil {
		return nil, err
	}
	if key == "" && qname == "" {
		key = name
	}
	if name == directReplyTo || isReplyKey(name) {
		return nil, protocol.NewError(protocol.AccessRefused, "cannot bind or unbind to a volatile (direct reply-to) queue")
	}
	if err := ch.checkAccess(resQueue, permWrite, name); err != nil {
		return nil, err
	}
	if x == "" {
		return nil, defaultExchangeRefused()
	}
	if err := ch.checkBindSource(x, key); err != nil {
		return nil, err
	}
	b := exchange.Binding{Source: x, Destination: exchange.Destination{Name: name}, Key: key, Args: args}
	if !bind {
		// Unbinding from a missing exchange or queue is fine, as in
		// RabbitMQ.
		return meta.Unbind{Vhost: vh.name, Binding: b, By: ch.c.owner().meta()}, nil
	}
	// RabbitMQ reports a missing source before a missing destination.
	if vh.exchange(x) == nil {
		return nil, vh.noExchange(x)
	}
	if _, err := vh.queueFor(name, ch.c); err != nil {
		return nil, err
	}
	return meta.Bind{Vhost: vh.name, Binding: b, By: ch.c.owner().meta()}, nil
}

func (ch *channel) queuePurge(m *protocol.QueuePurge) error {
	e, err := ch.readableQueue(m.Queue)
	if err != nil {
		return err
	}
	noWait := m.NoWait
	var n uint32
	ch.await(m, func(ctx context.Context) error {
		var err error
		n, err = e.q.Purge(ctx)
		return err
	}, func() {
		if !noWait {
			ch.c.sendMethod(ch.id, &protocol.QueuePurgeOk{MessageCount: n})
		}
	})
	return nil
}

func (ch *channel) queueDelete(m *protocol.QueueDelete) error {
	vh := ch.c.vh
	name, err := ch.queueName(m.Queue)
	if err != nil {
		return err
	}
	if err := ch.checkAccess(resQueue, permConfigure, name); err != nil {
		return err
	}
	vh.mu.RLock()
	e := vh.queues[name]
	vh.mu.RUnlock()
	if e == nil {
		if !m.NoWait {
			ch.c.sendMethod(ch.id, &protocol.QueueDeleteOk{})
		}
		return nil
	}
	if e.lockedFor(ch.c.owner()) {
		return vh.locked(name)
	}
	noWait, ifUnused, ifEmpty := m.NoWait, m.IfUnused, m.IfEmpty
	var n uint32
	ch.await(m, func(ctx context.Context) error {
		var err error
		n, err = vh.deleteQueueCtx(ctx, e, ifUnused, ifEmpty)
		return err
	}, func() {
		if e.owner == ch.c.owner() {
			delete(ch.c.exclusive, name)
		}
		if !noWait {
			ch.c.sendMethod(ch.id, &protocol.QueueDeleteOk{MessageCount: n})
		}
	})
	return nil
}
