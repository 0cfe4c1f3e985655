package quorum

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// session is one channel's session with a quorum queue, in the manner of
// RabbitMQ's rabbit_fifo_client: it turns the channel's operations into
// commands, and the leader's deliveries into actions for the channel. It
// numbers the deliveries it posts itself (the channel settles by those
// numbers) and drops a delivery whose consumer id it has seen, as a new
// leader re-issues every unsettled delivery. A consumer's ids follow one
// another, so a delivery past a gap tells it that the ones in between
// never came: it asks the leader to resend them (fifo.Resend) and takes
// them when they come. Everything it posts, it posts under mu, so the
// channel sees consume-ok before the consumer's first delivery.
type session struct {
	q     *Queue
	owner queue.SessionOwner
	ch    queue.Publisher

	// A publish through the session is numbered pubBase plus its number
	// in the session, 1, 2, 3 … with no gap, as the state machine enqueues
	// only the next number (fifo.Enqueue.Contiguous): a channel id is
	// reused once its channel closes, so a later session of the same
	// (node, connection, channel) must not number from 1 again, or its
	// publishes would pass for resends of the earlier one's
	// (sessionBase). Used by the owner's goroutine only.
	pubBase, pubN uint64
	// rebase is set once a publish was refused (nacked): it may never be
	// enqueued, so the numbers after it would wait for it for ever; the
	// next publish starts a new base instead.
	rebase atomic.Bool

	mu        sync.Mutex
	closed    bool
	consumers map[string]*consumer // by tag
	nextID    uint64               // the last delivery number handed out
	held      map[uint64]held      // unsettled deliveries by number
}

// consumer is a subscription made through the session.
type consumer struct {
	c     queue.Consumer
	ok    bool           // consume-ok posted
	early []queue.Action // deliveries that came before consume-ok
	seen  bool
	last  uint64 // the highest delivery id seen from the queue
	// missing are the ids below last that never came, oldest first.
	missing []span
}

// span is a range of a consumer's delivery ids, both ends included.
type span struct{ from, to uint64 }

// maxMissing bounds a consumer's missing spans: past it the oldest, long
// asked for, is forgotten.
const maxMissing = 64

// held is an unsettled delivery: its consumer's tag and the queue's id.
type held struct {
	tag string
	id  uint64
}

var (
	_ queue.Session          = (*session)(nil)
	_ queue.TimeoutCanceller = (*session)(nil)
)

// sessionBase hands each session the base of its publish numbers, a
// multiple of fifo.SeqBase above every earlier session's of this process:
// room for 2^32-1 publishes each, from the start time, so that a
// restarted process (whose connections have new ids anyway) starts above
// too.
var sessionBase atomic.Uint64

func init() { sessionBase.Store(uint64(time.Now().UnixNano()) &^ (fifo.SeqBase - 1)) }

// newPubBase returns the base of a new run of publish numbers.
func newPubBase() uint64 { return sessionBase.Add(fifo.SeqBase) }

// consumerID names a consumer of this session; basic.get uses the empty
// tag, which basic.consume never does.
func (s *session) consumerID(tag string) fifo.ConsumerID {
	return fifo.ConsumerID{Chan: s.ch, Tag: tag}
}

// Publish implements queue.Session. The confirm comes once the enqueue is
// committed: on a majority's disk.
func (s *session) Publish(m *queue.Message, c queue.Confirm, out []queue.Action) []queue.Action {
	s.q.prop.submit(s.publishing(m, c))
	return out
}

// publishing returns the request that enqueues m for Publish, numbered
// when c names the publisher, and whose answer confirms or nacks it.
func (s *session) publishing(m *queue.Message, c queue.Confirm) request {
	var from queue.Publisher
	var seq uint64
	if c.From != nil {
		from = s.ch
		seq = s.nextSeq()
	}
	return request{cmd: enqueueOf(m, from, seq), msg: m, owner: s.owner, done: func(a applied) []queue.Action {
		ok := enqueued(a)
		if !ok && c.From != nil {
			s.rebase.Store(true)
		}
		if c.To == nil {
			return nil
		}
		kind := queue.ActionSettled
		if !ok {
			kind = queue.ActionRejected
		}
		return []queue.Action{{Kind: kind, Seq: c.Seq}}
	}}
}

// nextSeq numbers the session's next publish: the next of its base, or
// the first of a new base once a publish was refused or the base is used
// up.
func (s *session) nextSeq() uint64 {
	if s.rebase.Swap(false) || s.pubN == fifo.SeqBase-1 {
		s.pubBase, s.pubN = newPubBase(), 0
	}
	s.pubN++
	return s.pubBase + s.pubN
}

// enqueued reports whether an Enqueue's answer says the message is in the
// queue: enqueued, or enqueued before (a resend). Anything else (refused
// by reject-publish, out of sequence for good, failed) is a nack.
func enqueued(a applied) bool {
	return a.err == nil && (a.res.Outcome == fifo.OK || a.res.Outcome == fifo.Duplicate)
}

// Consume implements queue.Session: consume-ok is posted once the
// checkout is committed.
func (s *session) Consume(c queue.Consumer, o queue.ConsumeOptions, out []queue.Action) ([]queue.Action, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return out, s.q.gone()
	}
	k := &consumer{c: c}
	s.consumers[o.Tag] = k
	s.mu.Unlock()
	prefetch := uint32(o.Prefetch)
	if o.NoAck {
		prefetch = 0
	}
	cmd := fifo.Checkout{Consumer: s.consumerID(o.Tag), Prefetch: prefetch, Priority: o.Priority,
		AutoSettle: o.NoAck, Now: now()}
	s.q.propose(cmd, nil, nil, func(a applied) []queue.Action {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.consumers[o.Tag] != k {
			return nil
		}
		if a.err != nil {
			delete(s.consumers, o.Tag)
			s.owner.Post([]queue.Action{{Kind: queue.ActionRefused, Consumer: c, Err: s.q.unavailable(a.err)}})
			return nil
		}
		k.ok = true
		s.owner.Post(append([]queue.Action{{Kind: queue.ActionConsumeOK, Consumer: c}}, k.early...))
		k.early = nil
		return nil
	})
	return out, nil
}

// Cancel implements queue.Session.
func (s *session) Cancel(c queue.Consumer, out []queue.Action) []queue.Action {
	s.mu.Lock()
	tag, found := s.tagOf(c)
	if found {
		delete(s.consumers, tag)
	}
	s.mu.Unlock()
	if found {
		s.q.propose(fifo.Cancel{Consumer: s.consumerID(tag), Now: now()}, nil, nil, nil)
	}
	return out
}

// tagOf returns the tag c was subscribed with.
func (s *session) tagOf(c queue.Consumer) (string, bool) {
	for tag, k := range s.consumers {
		if k.c == c {
			return tag, true
		}
	}
	return "", false
}

// Get implements queue.Session.
func (s *session) Get(noAck bool, out []queue.Action) []queue.Action {
	cmd := fifo.Get{Consumer: s.consumerID(""), AutoSettle: noAck, Now: now()}
	s.q.propose(cmd, nil, s.owner, func(a applied) []queue.Action {
		switch {
		case a.err != nil:
			return []queue.Action{{Kind: queue.ActionRefused, Err: s.q.unavailable(a.err)}}
		case a.res.Outcome == fifo.GetUnsupported:
			return []queue.Action{{Kind: queue.ActionRefused, Err: protocol.NewError(protocol.ResourceLocked,
				"cannot obtain access to locked queue '%s' in vhost '%s'. basic.get operations are not supported by <<\"quorum\">> queues with single active consumer",
				s.q.decl.Name, s.q.decl.VHost)}}
		case a.res.Outcome != fifo.OK || a.get == nil:
			return []queue.Action{{Kind: queue.ActionGetEmpty}}
		}
		g := a.res.Get
		s.mu.Lock()
		s.nextID++
		id := s.nextID
		if !g.Settled {
			s.held[id] = held{id: g.ID}
		}
		s.mu.Unlock()
		return []queue.Action{{Kind: queue.ActionGetOK, Count: uint32(a.res.Ready), Delivery: queue.Delivery{
			ID: id, Message: counted(a.get, g.DeliveryCount), Redelivered: g.Redelivered, DeliveryCount: g.DeliveryCount}}}
	})
	return out
}

// Settle implements queue.Session: one command per consumer settled.
func (s *session) Settle(st queue.Settlement, ids []uint64, out []queue.Action) []queue.Action {
	byTag := map[string][]uint64{}
	s.mu.Lock()
	for _, id := range ids {
		if h, ok := s.held[id]; ok {
			delete(s.held, id)
			byTag[h.tag] = append(byTag[h.tag], h.id)
		}
	}
	s.mu.Unlock()
	for tag, qids := range byTag {
		// In delivery order: returned messages go back in their order.
		slices.Sort(qids)
		s.q.propose(settlement(st, s.consumerID(tag), qids), nil, nil, nil)
	}
	return out
}

// settlement returns the command that settles ids of consumer id as st.
func settlement(st queue.Settlement, id fifo.ConsumerID, ids []uint64) fifo.Command {
	switch st {
	case queue.Requeue:
		return fifo.Return{Consumer: id, IDs: ids, Now: now()}
	case queue.Reject:
		return fifo.Discard{Consumer: id, IDs: ids, Now: now()}
	default:
		return fifo.Settle{Consumer: id, IDs: ids, Now: now()}
	}
}

// Close implements queue.Session: the channel is gone, so its consumers
// end and what they held returns to the queue.
func (s *session) Close() { s.close(true) }

// close ends the session; with tell it proposes ChannelDown.
func (s *session) close(tell bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.consumers, s.held = map[string]*consumer{}, map[uint64]held{}
	s.mu.Unlock()
	s.q.mu.Lock()
	if s.q.sessions[s.ch] == s {
		delete(s.q.sessions, s.ch)
	}
	s.q.mu.Unlock()
	if tell {
		s.q.propose(fifo.ChannelDown{Chan: s.ch, Now: now()}, nil, nil, nil)
	}
}

// down tells the owner the queue was deleted: its consumers are
// cancelled and the session serves nothing more.
func (s *session) down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	acts := make([]queue.Action, 0, len(s.consumers)+1)
	for _, k := range s.consumers {
		acts = append(acts, queue.Action{Kind: queue.ActionCancelled, Consumer: k.c})
	}
	s.consumers, s.held = map[string]*consumer{}, map[uint64]held{}
	s.owner.Post(append(acts, queue.Action{Kind: queue.ActionQueueDown}))
}

// deliver posts the leader's deliveries to consumer tag, dropping those
// seen before, and asks the leader again for those it finds missing.
// Deliveries to a consumer the session no longer has go back to the
// queue.
func (s *session) deliver(tag string, ds []fifo.Delivery, msgs []*queue.Message) {
	s.mu.Lock()
	k := s.consumers[tag]
	if k == nil || s.closed {
		back := s.notHeldLocked(tag, ds)
		s.mu.Unlock()
		if len(back) > 0 {
			s.q.propose(fifo.Return{Consumer: s.consumerID(tag), IDs: back, Now: now()}, nil, nil, nil)
		}
		return
	}
	acts := make([]queue.Action, 0, len(ds))
	var gaps []span
	for i, d := range ds {
		fresh, gap := k.admit(d.ID)
		if !fresh {
			continue
		}
		if gap != nil && !d.Settled {
			gaps = append(gaps, *gap)
		}
		if msgs[i] == nil {
			s.q.log.Error("quorum queue delivery without a body")
			continue
		}
		s.nextID++
		if !d.Settled {
			s.held[s.nextID] = held{tag: tag, id: d.ID}
		}
		acts = append(acts, queue.Action{Kind: queue.ActionDeliver, Consumer: k.c, Delivery: queue.Delivery{
			ID: s.nextID, Message: counted(msgs[i], d.DeliveryCount), Redelivered: d.Redelivered, DeliveryCount: d.DeliveryCount}})
	}
	if !k.ok {
		k.early = append(k.early, acts...)
	} else if len(acts) > 0 {
		s.owner.Post(acts)
	}
	s.mu.Unlock()
	for _, g := range gaps {
		s.q.log.Debug("quorum queue deliveries missing, asking the leader again",
			zap.String("consumer", tag), zap.Uint64("from", g.from), zap.Uint64("to", g.to))
		s.q.propose(fifo.Resend{Consumer: s.consumerID(tag), From: g.from, To: g.to, Now: now()}, nil, nil, nil)
	}
}

// admit reports whether delivery id is new to the consumer, and notes it
// seen: an id above the highest seen, or one of the missing ones (asked
// for again, or re-issued by a new leader). An id more than one above the
// highest seen leaves a gap, which it returns: those deliveries were lost
// on the way (an old leader that died before sending them, and a new one
// that applied later entries first, or a link that broke).
func (k *consumer) admit(id uint64) (fresh bool, gap *span) {
	switch {
	case !k.seen:
		k.seen, k.last = true, id
		return true, nil
	case id <= k.last:
		return k.takeMissing(id), nil
	}
	if id > k.last+1 {
		gap = &span{k.last + 1, id - 1}
		if len(k.missing) == maxMissing {
			k.missing = slices.Delete(k.missing, 0, 1)
		}
		k.missing = append(k.missing, *gap)
	}
	k.last = id
	return true, gap
}

// takeMissing removes id from the missing ids; it reports whether it was
// one of them.
func (k *consumer) takeMissing(id uint64) bool {
	for i, g := range k.missing {
		if id < g.from || id > g.to {
			continue
		}
		switch {
		case g.from == g.to:
			k.missing = slices.Delete(k.missing, i, i+1)
		case id == g.from:
			k.missing[i].from++
		case id == g.to:
			k.missing[i].to--
		default:
			k.missing = slices.Insert(k.missing, i+1, span{id + 1, g.to})
			k.missing[i].to = id - 1
		}
		return true
	}
	return false
}

// notHeldLocked returns the ids of the unsettled deliveries in ds that
// the channel does not hold: deliveries that reached a consumer after it
// was cancelled, which go back to the queue. Those it holds (a new
// leader re-issuing them) stay with the channel until it settles them.
func (s *session) notHeldLocked(tag string, ds []fifo.Delivery) []uint64 {
	holds := map[uint64]bool{}
	for _, h := range s.held {
		if h.tag == tag {
			holds[h.id] = true
		}
	}
	var ids []uint64
	for _, d := range ds {
		if !d.Settled && !holds[d.ID] && !s.closed {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// TimedOut implements queue.TimeoutCanceller: the queue ends the
// consumer, returning its messages, and the session then posts
// ActionCancelled.
func (s *session) TimedOut(c queue.Consumer) {
	s.mu.Lock()
	tag, found := s.tagOf(c)
	s.mu.Unlock()
	if found {
		s.q.propose(fifo.ConsumerTimeout{Consumer: s.consumerID(tag), Now: now()}, nil, nil, nil)
	}
}

// cancelled tells the owner the queue ended consumer tag's subscription
// (a consumer timeout) and took back what it held: the channel's later
// settles of those deliveries are ignored.
func (s *session) cancelled(tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.consumers[tag]
	if k == nil || s.closed {
		return
	}
	delete(s.consumers, tag)
	for id, h := range s.held {
		if h.tag == tag {
			delete(s.held, id)
		}
	}
	s.owner.Post([]queue.Action{{Kind: queue.ActionCancelled, Consumer: k.c}})
}

// counted returns m as delivered for the count-th time after failed
// deliveries: from the first redelivery on, RabbitMQ 4's quorum queues
// carry the count in the x-delivery-count header. m is shared, so a
// message with the header is a copy (sharing the body).
func counted(m *queue.Message, count uint32) *queue.Message {
	if count == 0 {
		return m
	}
	c := *m
	c.RawProps = nil
	h := make(protocol.Table, len(m.Props.Headers)+1)
	for k, v := range m.Props.Headers {
		h[k] = v
	}
	h["x-delivery-count"] = int64(count)
	c.Props.Headers = h
	c.Props.Flags |= protocol.FlagHeaders
	return &c
}
