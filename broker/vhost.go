package broker

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"go.uber.org/zap"
)

// exchangeDef and queueDef are definitions as declared and as the
// definitions state machine (package meta) keeps them.
type (
	exchangeDef = meta.ExchangeDef
	queueDef    = meta.QueueDef
)

// owner identifies a connection across the nodes of a cluster: the node
// it is connected to and its id there. An exclusive queue's owner is the
// connection that declared it; the zero owner is nobody's, that of a
// shared queue.
type owner struct {
	node string
	conn uint64
}

// meta returns the owner as the definitions carry it.
func (o owner) meta() meta.Owner { return meta.Owner{Node: o.node, Conn: o.conn} }

// ownerOf returns the owner the definitions name.
func ownerOf(m meta.Owner) owner { return owner{node: m.Node, conn: m.Conn} }

// queueEntry is a queue of a vhost started on this node: its definition
// (with the incarnation it was started as) and the running queue.
type queueEntry struct {
	def   queueDef
	args  queue.Args
	owner owner // the exclusive owner, zero for shared queues
	q     queue.Queue
	// eff is args with the policy in force (policy.QueueArgs), guarded
	// by vhost.mu: what the queue was given last.
	eff queue.Args
	// remote: q is the proxy of a queue homed on another node
	// (cluster_queues.go), which this node never deletes itself.
	remote bool
	// stats count what this node's channels published into the queue
	// and took from it (counters.go).
	stats queueCounters
}

// lockedFor reports whether the queue is exclusive to a connection other
// than by.
func (e *queueEntry) lockedFor(by owner) bool {
	return e.owner != (owner{}) && e.owner != by
}

// vhost is a virtual host as this node serves it: its exchanges, the queues
// started here, and its router. Definitions change only through apply
// (vhost_meta.go): the committed command's effects update these maps and
// the router under mu for writing, briefly; routing and lookups take the
// read side.
type vhost struct {
	srv    *Server
	name   string
	log    *zap.Logger
	router *exchange.Router

	mu        sync.RWMutex // guards exchanges and queues
	exchanges map[string]*exchangeEntry
	queues    map[string]*queueEntry

	replyMu sync.RWMutex
	replies map[string]*channel // direct reply-to keys

	meta atomic.Pointer[meta.VhostMeta] // metadata and limits; nil for none (access_limits.go)

	// defaultX counts the default exchange's publishes (counters.go).
	defaultX exchangeCounters
}

// exchangeEntry is an exchange as the vhost serves it: its definition
// and its counters on this node.
type exchangeEntry struct {
	exchangeDef
	stats exchangeCounters
}

// newVhost returns an empty vhost; the effects of the AddVhost command that
// created it fill it (the default and amq.* exchanges).
func newVhost(s *Server, name string) *vhost {
	return &vhost{
		srv:       s,
		name:      name,
		log:       s.log.With(zap.String("vhost", name)),
		router:    exchange.NewRouter(name),
		exchanges: make(map[string]*exchangeEntry),
		queues:    make(map[string]*queueEntry),
		replies:   make(map[string]*channel),
	}
}

// close closes every queue as the server stops: each stops its timers,
// waits for its hooks (dead-lettering, expiry) and syncs what is pending,
// so that nothing of the vhost runs once close returns. The queues are
// closed without mu held, since a hook finishing may take it.
func (v *vhost) close() {
	v.mu.Lock()
	qs := make([]queue.Queue, 0, len(v.queues))
	for _, e := range v.queues {
		qs = append(qs, e.q)
	}
	v.mu.Unlock()
	for _, q := range qs {
		if err := q.Close(); err != nil {
			v.log.Warn("closing queue failed", zap.String("queue", q.Name()), zap.Error(err))
		}
	}
}

// exchange returns an exchange, or nil.
func (v *vhost) exchange(name string) *exchangeEntry {
	v.mu.RLock()
	x := v.exchanges[name]
	v.mu.RUnlock()
	return x
}

func (v *vhost) noExchange(name string) error { return meta.NoExchange(v.name, name) }

func (v *vhost) noQueue(name string) error { return meta.NoQueue(v.name, name) }

func (v *vhost) locked(name string) error { return meta.Locked(v.name, name) }

// queueFor returns a queue the connection may use: it exists and is not
// another connection's exclusive queue.
func (v *vhost) queueFor(name string, c *conn) (*queueEntry, error) {
	v.mu.RLock()
	e := v.queues[name]
	v.mu.RUnlock()
	if e == nil {
		return nil, v.noQueue(name)
	}
	if e.lockedFor(c.owner()) {
		return nil, v.locked(name)
	}
	return e, nil
}

// route returns the queues and direct reply-to channels a message
// published to exchange x with the routing keys reaches, appending the
// queues to out.
func (v *vhost) route(x string, keys []string, headers protocol.Table, out []queue.Queue) ([]queue.Queue, []replyTarget) {
	var replies []replyTarget
	if x == "" {
		v.mu.RLock()
		for _, k := range keys {
			if e := v.queues[k]; e != nil {
				if !containsQueue(out, e.q) {
					out = append(out, e.q)
				}
			} else if isReplyKey(k) {
				if r := v.replyChannel(k); r != nil {
					replies = append(replies, r)
				}
			}
		}
		v.mu.RUnlock()
		return out, replies
	}
	var buf [8]string
	names := v.router.Route(x, keys, headers, buf[:0])
	if len(names) == 0 {
		return out, nil
	}
	v.mu.RLock()
	for _, n := range names {
		if e := v.queues[n]; e != nil {
			out = append(out, e.q)
		}
	}
	v.mu.RUnlock()
	return out, nil
}

// queuesNamed appends the queues of names that exist to out.
func (v *vhost) queuesNamed(names []string, out []queue.Queue) []queue.Queue {
	v.mu.RLock()
	for _, n := range names {
		if e := v.queues[n]; e != nil {
			out = append(out, e.q)
		}
	}
	v.mu.RUnlock()
	return out
}

func containsQueue(qs []queue.Queue, q queue.Queue) bool {
	for _, x := range qs {
		if x == q {
			return true
		}
	}
	return false
}

// deadLetter routes and enqueues messages a queue dead-lettered. The
// message routes by its routing key and, when the queue kept them (no
// x-dead-letter-routing-key), its CC keys. A target queue the message
// already died in, with no rejection since, is a cycle and is skipped, as
// rabbit_dead_letter does.
func (v *vhost) deadLetter(ms []*queue.Message) { v.deadLetterConfirmed(ms, nil) }

// deadLetterConfirmed dead-letters ms as deadLetter does and, when done is
// set, calls it once every target queue took them: with true when all
// confirmed, false when one refused. A message that routes nowhere is
// taken (there is nothing to wait for), as RabbitMQ's at-least-once
// dead-lettering settles what its exchange does not route.
func (v *vhost) deadLetterConfirmed(ms []*queue.Message, done func(ok bool)) {
	c := &dlConfirms{done: done}
	c.pending.Add(1) // released below, once every publish is made
	for _, m := range ms {
		if m.Exchange != "" && v.exchange(m.Exchange) == nil {
			v.log.Debug("dead-letter exchange missing, message dropped", zap.String("exchange", m.Exchange))
			continue
		}
		keys := []string{m.RoutingKey}
		if cc, ok := m.Props.Headers["CC"]; ok {
			// Checked at publish: a CC that is not an array adds no keys.
			keys, _ = appendKeyHeader(keys, "CC", cc)
		}
		qs, replies := v.route(m.Exchange, keys, m.Props.Headers, nil)
		for _, r := range replies {
			r.deliverReply(m)
		}
		for _, q := range qs {
			if queue.IsDeathCycle(m, q.Name()) {
				v.log.Debug("dead-letter cycle, message dropped", zap.String("queue", q.Name()))
				continue
			}
			if done == nil {
				q.Publish(m, queue.Confirm{})
				continue
			}
			c.pending.Add(1)
			q.Publish(m, queue.Confirm{To: c})
		}
	}
	c.Confirmed(0, true)
}

// dlConfirms counts the confirms of one batch of dead-lettered messages.
type dlConfirms struct {
	done    func(ok bool)
	pending atomic.Int64
	failed  atomic.Bool
}

// Confirmed implements queue.Confirmer.
func (c *dlConfirms) Confirmed(_ uint64, ok bool) {
	if !ok {
		c.failed.Store(true)
	}
	if c.pending.Add(-1) == 0 && c.done != nil {
		c.done(!c.failed.Load())
	}
}

// registerReplyTo makes the default exchange route key to ch.
func (v *vhost) registerReplyTo(key string, ch *channel) {
	v.replyMu.Lock()
	v.replies[key] = ch
	v.replyMu.Unlock()
}

func (v *vhost) unregisterReplyTo(key string) {
	v.replyMu.Lock()
	delete(v.replies, key)
	v.replyMu.Unlock()
}

// replyTarget is where a direct reply-to reply goes: the requester's
// channel on this node, or its node (cluster_reply.go).
type replyTarget interface {
	deliverReply(msg *queue.Message)
}

// replyChannel returns where a direct reply-to key routes, or nil: for a
// key that is malformed, was never handed out, or whose consumer has
// gone, and for a key of a node this one does not know. A key of another
// node of the cluster routes to that node, which drops the reply if its
// requester has gone. A reply routed nowhere is dropped and a passive
// declare of its key is 404, as in RabbitMQ.
func (v *vhost) replyChannel(key string) replyTarget {
	k, ok := decodeReplyKey(key)
	if !ok {
		return nil
	}
	if k.node != v.srv.cfg.NodeName {
		if v.srv.cluster == nil {
			return nil
		}
		return v.srv.cluster.replyTarget(v.name, key, k.node)
	}
	v.replyMu.RLock()
	ch := v.replies[key]
	v.replyMu.RUnlock()
	if ch == nil {
		return nil // not a nil *channel in an interface
	}
	return ch
}

// reservedName reports whether a name is in the amq. namespace.
func reservedName(name string) bool {
	return strings.HasPrefix(name, "amq.")
}
