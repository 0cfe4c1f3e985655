package classic

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

var _ queue.Queue = (*Queue)(nil)

// Options are a classic queue's declare-time properties.
type Options struct {
	// VHost is the queue's virtual host, as error texts name it.
	VHost string
	// Durable, Exclusive and AutoDelete are the queue.declare flags.
	Durable, Exclusive, AutoDelete bool
	// Args are the parsed declare arguments.
	Args queue.Args
}

// Timer is a pending call set up by Env.AfterFunc; *time.Timer is one.
type Timer interface {
	// Stop prevents the call if it has not run yet.
	Stop() bool
	// Reset makes the call happen d from now instead.
	Reset(d time.Duration) bool
}

// Env holds what a queue needs from the rest of the broker.
type Env struct {
	// DeadLetter receives dead-lettered copies of messages, each with
	// Exchange set to the dead-letter exchange and RoutingKey to the key to
	// route it by (see queue.DeadLettered). It is always called without the
	// queue's lock held, so it may publish back into the same queue. Nil
	// drops them.
	DeadLetter func(ms []*queue.Message)
	// Expired asks the broker to delete the queue: x-expires ran out, or the
	// last consumer of an auto-delete queue went. It is called at most once,
	// without the queue's lock held, from Cancel or from the timer's
	// goroutine.
	Expired func()
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AfterFunc schedules f after d; nil means time.AfterFunc. A queue holds
	// at most one timer, re-armed for the earliest message expiry or its
	// x-expires deadline.
	AfterFunc func(d time.Duration, f func()) Timer
	// Logger is the queue's logger; nil means none.
	Logger *zap.Logger
	// Store is the node's store for durable classic queues. A durable queue
	// given one keeps its persistent messages in its own log there (named
	// store.LogID(vhost, name)): New recovers them, every one redelivered,
	// publishes of persistent messages are confirmed once on disk, and
	// Delete removes the log. Nil keeps even a durable queue in memory.
	Store *store.Store
	// Spill is the node's volatile store (store.Options.Volatile), where a
	// queue without priorities pages out the transient messages past its
	// window, and every message of a non-durable queue (spill.go). Nil
	// keeps them in memory.
	Spill *store.Store
	// WindowMessages and WindowBytes bound the ready messages a paging
	// queue (one without priorities, durable with a Store or given a
	// Spill) keeps in memory with their bodies (zero: 4096 messages and 32
	// MiB). Past them, persistent messages live in the log only, transient
	// ones in the spill log, and both are read back as the queue drains.
	WindowMessages int
	WindowBytes    int64
}

// Queue is an in-memory classic queue. Deliveries happen inline, under the
// queue's mutex, from Publish, Consume, Resume, Get and Settle.
//
// Lock order: Queue.mu is taken before any lock of a Consumer or Confirmer
// (queue → channel → connection). Consumer methods are called with mu held;
// Env hooks, Confirmer and Consumer.Cancelled are called without it.
type Queue struct {
	name string
	opts Options
	args *queue.Args
	env  Env
	log  *zap.Logger

	mu      sync.Mutex
	ready   readyQueue
	unacked map[uint64]held // always holds the sentinel noID; see newUnacked
	cons    consumerSet
	nextID  uint64
	deleted bool
	// sessions are the open sessions (session.go), told when the queue
	// is deleted.
	sessions map[*session]struct{}
	// flowBlocked are the sessions blocked by flow control (flow.go).
	flowBlocked []*session

	// expiry state
	ttl          int64 // x-message-ttl in nanoseconds; -1 when unset
	ttlSeen      bool  // some message may expire: consult the timer
	timer        Timer
	timerAt      int64 // Unix ns the timer is armed for; 0 when idle
	lastUsed     int64 // Unix ns of the last use, for x-expires
	hadConsumers bool
	expireSent   bool

	// side effects gathered under mu and run by unlock
	dead          []dying
	pendingExpire bool
	freed         bool // a settle gave a stalled consumer credit back
	scratch       []entry
	hooks         sync.WaitGroup // Env hooks running; Close waits for them

	// durability (durable.go) and paging (paging.go)
	dlog     *store.Log // nil: nothing goes to disk
	conf     diskConfirms
	lastSeq  uint64   // the last record appended
	enc      []byte   // encoding buffer for appends
	settles  []uint64 // records to settle, written by unlock
	pubSeq   uint64   // the record the current Publish appended
	pubNack  bool     // the log refused the current Publish's message
	closed   bool     // Close was called (deleted is set too)
	pg       paged
	pageable bool // the queue pages: no priorities, a log or a spill store
	winMsgs  int
	winBytes int64

	// spilling (spill.go)
	spill        *store.Log // nil until the first spill
	spillLast    uint64     // the last spill record appended
	spillSettled uint64     // every spill record below it is settled
	spillFailed  bool       // the spill log failed: transient messages stay in memory
}

// held is an unacknowledged delivery.
type held struct {
	msg    *queue.Message
	expiry int64
	seq    uint64      // its log record; 0 when not in the log
	sub    *subscriber // the consumer whose credit it holds; nil for basic.get
	count  uint32      // deliveries that came back before this one
}

// dying is a message to dead-letter once the lock is released.
type dying struct {
	msg    *queue.Message
	reason queue.Reason
	at     int64
}

// New creates the classic queue name. The error is an AMQP exception.
func New(name string, o Options, env Env) (*Queue, error) {
	if o.Args.Type != "" && o.Args.Type != queue.TypeClassic {
		return nil, protocol.NewError(protocol.InternalError,
			"queue '%s' in vhost '%s' has type %s, not classic", name, o.VHost, o.Args.Type)
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.AfterFunc == nil {
		env.AfterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	log := env.Logger
	if log == nil {
		log = zap.NewNop()
	}
	q := &Queue{
		name:    name,
		opts:    o,
		env:     env,
		log:     log.With(zap.String("queue", name), zap.String("vhost", o.VHost)),
		ready:   newReadyQueue(o.Args.MaxPriority),
		unacked: newUnacked(),
		ttl:     -1,
		nextID:  1,
	}
	q.args = &q.opts.Args
	q.cons.sac = o.Args.SingleActiveConsumer
	if o.Args.HasMessageTTL {
		q.ttl = int64(o.Args.MessageTTL)
		q.ttlSeen = true
	}
	q.winMsgs, q.winBytes = env.WindowMessages, env.WindowBytes
	if q.winMsgs <= 0 {
		q.winMsgs = defaultWindowMessages
	}
	if q.winBytes <= 0 {
		q.winBytes = defaultWindowBytes
	}
	q.pageable = o.Args.MaxPriority == 0 && env.Spill != nil
	if o.Durable && env.Store != nil {
		q.pageable = o.Args.MaxPriority == 0
		if err := q.openLog(env.Store); err != nil {
			return nil, err
		}
	}
	q.mu.Lock()
	now := q.env.Now().UnixNano()
	if o.Args.Expires > 0 {
		q.lastUsed = now
	}
	// Recovered messages may expire; their deadlines are known now.
	q.schedule(&now)
	q.mu.Unlock()
	return q, nil
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Options returns the options the queue was created with.
func (q *Queue) Options() Options { return q.opts }

// Stats returns the queue's counters. The context is not used: a classic
// queue answers at once.
func (q *Queue) Stats(context.Context) queue.Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return queue.Stats{
		Ready:     uint32(q.readyN()),
		Unacked:   uint32(len(q.unacked) - 1),
		Consumers: uint32(q.cons.count),
	}
}

// Touch renews the queue's x-expires lease; the broker calls it when the
// queue is redeclared.
func (q *Queue) Touch() {
	q.mu.Lock()
	if q.args.Expires > 0 && !q.deleted {
		var now int64
		q.lastUsed = q.nowNs(&now)
	}
	q.unlock()
}

// nowNs returns the time in Unix nanoseconds, reading the clock at most
// once per operation: *now caches it.
func (q *Queue) nowNs(now *int64) int64 {
	if *now == 0 {
		*now = q.env.Now().UnixNano()
	}
	return *now
}

// unlock releases mu and then runs the side effects gathered under it:
// dead-lettering and the expiry notice.
func (q *Queue) unlock() {
	q.flushSettles()
	q.flowRelease()
	dead := q.dead
	q.dead = nil
	expire := q.pendingExpire
	q.pendingExpire = false
	hooks := len(dead) > 0 || expire
	if hooks {
		if q.closed {
			// Nothing leaves a queue closed for shutdown.
			dead, expire, hooks = nil, false, false
		} else {
			q.hooks.Add(1)
		}
	}
	args := q.args // UpdateArgs replaces it under mu, never changes it
	q.mu.Unlock()
	if !hooks {
		return
	}
	defer q.hooks.Done()
	if len(dead) > 0 && q.env.DeadLetter != nil {
		ms := make([]*queue.Message, len(dead))
		for i, d := range dead {
			ms[i] = queue.DeadLettered(d.msg, d.reason, q.name, args, time.Unix(0, d.at))
		}
		q.env.DeadLetter(ms)
	}
	if expire && q.env.Expired != nil {
		q.env.Expired()
	}
}

// drop discards a message taken from the ready ones (expired or over a
// length limit): its record is settled and it is dead-lettered.
func (q *Queue) drop(e entry, r queue.Reason, now *int64) {
	q.forget(e.seq)
	q.deadLetter(e.msg, r, now)
}

// deadLetter schedules m for dead-lettering when the queue has a
// dead-letter exchange, and otherwise drops it.
func (q *Queue) deadLetter(m *queue.Message, r queue.Reason, now *int64) {
	if !q.args.HasDeadLetterExchange {
		return
	}
	q.dead = append(q.dead, dying{msg: m, reason: r, at: q.nowNs(now)})
}

// expire asks the broker, once, to delete the queue.
func (q *Queue) expire(why string) {
	if q.expireSent {
		return
	}
	q.expireSent = true
	q.pendingExpire = true
	q.log.Debug("queue expired", zap.String("reason", why))
}
