package broker

import (
	"sync"
	"sync/atomic"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"go.uber.org/zap"
)

// expect is what frame a channel's content assembly waits for.
type expect uint8

const (
	expectMethod expect = iota
	expectHeader
	expectBody
)

// channel is one AMQP channel of a connection. Its handlers run on the
// connection's read loop; deliveries (Consumer.Deliver) and confirms
// arrive from queue goroutines and touch only the state under mu and the
// confirm tracker's own lock.
type channel struct {
	c   *conn
	id  uint16
	log *zap.Logger

	// Read loop only.
	released  bool
	expect    expect
	publish   *protocol.BasicPublish // &pub while a publish is assembled
	pub       protocol.BasicPublish  // copy: the decoder reuses its struct
	msg       *queue.Message
	bodyLeft  int // body octets still to come
	routeBuf  []string
	queueBuf  []queue.Queue
	settleBuf []unackedEntry
	idBuf     []uint64
	lastQueue string // the most recently declared queue, for "" shortcuts
	tx        *txState
	confirm   bool
	inBatch   bool       // registered in conn.confirmDirty
	replyTo   string     // routable reply_to of the direct reply-to consumer; written under mu
	replyTag  string     // its consumer tag; written under mu
	perms     *permCache // decisions that allowed, made at first check (access_cache.go)

	// The channel's sessions with its queues (session.go), the one used
	// last, and the buffer their operations return actions in (read loop
	// only).
	sessions map[queue.Queue]*session
	lastSess *session
	actBuf   []queue.Action

	// busyState: a method waiting off the read loop and the frames kept
	// meanwhile (channel_busy.go; guarded by conn.hmu, as is all the
	// state above marked read loop only). answer is a wait for a queue's
	// posted answer.
	busyState
	answer     answerWait
	committing bool // tx.commit is handing its publishes to their queues

	// closing is set once channel.close has been sent: only close and
	// close-ok are handled from then on, and the id stays taken until the
	// client's close-ok. Set by the read loop, or by the writer when a
	// consumer times out.
	closing atomic.Bool
	// sessDown is set when a session's queue went down
	// (ActionQueueDown): the read loop forgets such sessions.
	sessDown atomic.Bool

	mu          sync.Mutex // guards the delivery state below
	closed      bool       // no more deliveries
	flow        bool
	nextTag     uint64
	unacked     unackedList
	consumerQoS uint16         // basic.qos global=false: limit for new consumers
	getNoAck    bool           // the basic.get being answered is no-ack
	outPaused   bool           // lim is paused until the writer drains (conn.out.paused)
	orphans     []unackedEntry // delivered after closed, for release to requeue
	consumers   map[string]*consumer
	deliver     protocol.BasicDeliver // reused to encode basic.deliver

	// from names the channel as a publisher, and pubNum counts its
	// publishes (read loop only).
	from   queue.Publisher
	pubNum uint64

	// lim is the channel's limiter, handed to every consume: the
	// channel-wide prefetch (basic.qos global=true) and the pause while
	// the connection's output is backed up.
	lim queue.Limiter

	confirms confirmTracker

	// ctr counts what the channel published and took (counters.go).
	ctr channelCounters
}

func newChannel(c *conn, id uint16) *channel {
	ch := &channel{
		c:         c,
		id:        id,
		log:       c.log.With(zap.Uint16("ch", id)),
		flow:      true,
		consumers: make(map[string]*consumer),
		from:      queue.Publisher{Node: c.srv.cfg.NodeName, Conn: c.id, Channel: id},
	}
	ch.confirms.ch = ch
	return ch
}

// handleFrame handles one frame for the channel on the read loop.
func (ch *channel) handleFrame(f protocol.Frame) error {
	if ch.closing.Load() {
		return ch.handleWhileClosing(f)
	}
	switch ch.expect {
	case expectHeader:
		if f.Type != protocol.FrameHeader {
			return protocol.NewError(protocol.UnexpectedFrame,
				"expected content header for class %d, got non content header frame instead", protocol.ClassBasic).For(ch.publish)
		}
		return ch.contentHeader(f.Payload)
	case expectBody:
		if f.Type != protocol.FrameBody {
			return protocol.NewError(protocol.UnexpectedFrame,
				"expected content body, got non content body frame instead").For(ch.publish)
		}
		return ch.contentBody(f.Payload)
	}
	switch f.Type {
	case protocol.FrameMethod:
	case protocol.FrameHeartbeat:
		return unexpectedFrame(f)
	default:
		return protocol.NewError(protocol.UnexpectedFrame, "expected method frame, got non method frame instead")
	}
	m, err := ch.c.dec.Decode(f.Payload)
	if err != nil {
		return err
	}
	if err := checkMethod(m); err != nil {
		return err
	}
	if err := ch.handleMethod(m); err != nil {
		return ch.c.asProtocolError(err, m)
	}
	return nil
}

// handleWhileClosing handles a frame after channel.close was sent. The
// client's own channel.close, sent before it saw ours, is answered with
// close-ok, but the channel stays closing: its close-ok for our close is
// still to come, and only that frees the id, as in RabbitMQ.
func (ch *channel) handleWhileClosing(f protocol.Frame) error {
	if f.Type != protocol.FrameMethod {
		return nil
	}
	m, err := protocol.DecodeMethod(f.Payload)
	if err != nil {
		return nil
	}
	switch m.(type) {
	case *protocol.ChannelCloseOk:
		ch.release()
		ch.c.forgetChannel(ch.id)
	case *protocol.ChannelClose:
		ch.release()
		ch.c.sendMethod(ch.id, &protocol.ChannelCloseOk{})
	}
	return nil
}

// handleMethod dispatches a method to its class's handler.
func (ch *channel) handleMethod(m protocol.Method) error {
	switch m := m.(type) {
	case *protocol.BasicPublish:
		ch.pub = *m
		ch.publish = &ch.pub
		ch.expect = expectHeader
		ch.c.markPublisher()
		return nil
	case *protocol.BasicAck:
		return ch.ack(m.DeliveryTag, m.Multiple, queue.Ack)
	case *protocol.BasicNack:
		return ch.ack(m.DeliveryTag, m.Multiple, rejectOrRequeue(m.Requeue))
	case *protocol.BasicReject:
		return ch.ack(m.DeliveryTag, false, rejectOrRequeue(m.Requeue))
	case *protocol.BasicQos:
		return ch.basicQos(m)
	case *protocol.BasicConsume:
		return ch.basicConsume(m)
	case *protocol.BasicCancel:
		return ch.basicCancel(m)
	case *protocol.BasicGet:
		return ch.basicGet(m)
	case *protocol.BasicRecover:
		if err := ch.recover(m.Requeue); err != nil {
			return err
		}
		ch.c.sendMethod(ch.id, &protocol.BasicRecoverOk{})
		return nil
	case *protocol.BasicRecoverAsync:
		return ch.recover(m.Requeue)
	case *protocol.ExchangeDeclare:
		return ch.exchangeDeclare(m)
	case *protocol.ExchangeDelete:
		return ch.exchangeDelete(m)
	case *protocol.ExchangeBind:
		return ch.exchangeBind(m)
	case *protocol.ExchangeUnbind:
		return ch.exchangeUnbind(m)
	case *protocol.QueueDeclare:
		return ch.queueDeclare(m)
	case *protocol.QueueBind:
		return ch.queueBind(m)
	case *protocol.QueueUnbind:
		return ch.queueUnbind(m)
	case *protocol.QueuePurge:
		return ch.queuePurge(m)
	case *protocol.QueueDelete:
		return ch.queueDelete(m)
	case *protocol.ConfirmSelect:
		return ch.confirmSelect(m)
	case *protocol.TxSelect:
		return ch.txSelect()
	case *protocol.TxCommit:
		return ch.txCommit()
	case *protocol.TxRollback:
		return ch.txRollback()
	case *protocol.ChannelFlow:
		if !m.Active {
			return protocol.NewError(protocol.NotImplemented, "active=false")
		}
		ch.c.sendMethod(ch.id, &protocol.ChannelFlowOk{Active: true})
		return nil
	case *protocol.ChannelFlowOk:
		return nil
	case *protocol.ChannelOpen:
		return protocol.NewError(protocol.ChannelError, "second 'channel.open' seen")
	case *protocol.ChannelClose:
		ch.release()
		ch.c.sendMethod(ch.id, &protocol.ChannelCloseOk{})
		ch.c.forgetChannel(ch.id)
		return nil
	case *protocol.ChannelCloseOk:
		return nil
	case *protocol.AccessRequest:
		ch.c.sendMethod(ch.id, &protocol.AccessRequestOk{Ticket: 1})
		return nil
	}
	return protocol.NewError(protocol.CommandInvalid, "unimplemented method")
}

func rejectOrRequeue(requeue bool) queue.Settlement {
	if requeue {
		return queue.Requeue
	}
	return queue.Reject
}

// fail closes the channel with a soft exception: its consumers are
// cancelled, its unacked messages requeued, and channel.close is sent.
func (ch *channel) fail(e *protocol.Error) {
	if !ch.closing.CompareAndSwap(false, true) {
		return
	}
	ch.log.Debug("closing channel on error", zap.Uint16("code", e.Code), zap.String("text", e.Text))
	ch.release()
	ch.c.sendMethod(ch.id, &protocol.ChannelClose{ReplyCode: e.Code, ReplyText: e.Text, FailingClassID: e.ClassID, FailingMethodID: e.MethodID})
}

// release frees everything the channel holds: consumers are cancelled,
// unacked messages requeued, a transaction discarded. It runs on the read
// loop and only once.
func (ch *channel) release() {
	if ch.released {
		return
	}
	ch.released = true
	if ch.cancelOp != nil {
		ch.cancelOp()
	}
	ch.confirms.close()
	ch.expect = expectMethod
	ch.endContent()
	ch.publish, ch.msg = nil, nil
	ch.mu.Lock()
	ch.closed = true
	consumers := ch.consumers
	ch.consumers = nil
	entries := ch.unacked.takeAll(nil)
	ch.mu.Unlock()
	// What these operations return is dropped: the channel is closed,
	// and closing a session takes back what its owner never saw.
	for _, k := range consumers {
		k.s.s.Cancel(k, nil)
	}
	// Once cancelled, a queue delivers no more: what reached the channel
	// after it closed goes back too.
	ch.mu.Lock()
	entries = append(entries, ch.orphans...)
	ch.orphans = nil
	ch.mu.Unlock()
	if ch.tx != nil {
		entries = append(entries, ch.tx.settledEntries()...)
		ch.tx = nil
	}
	settleGrouped(entries, queue.Requeue)
	ch.closeSessions()
	if ch.replyTo != "" {
		ch.c.vh.unregisterReplyTo(ch.replyTo)
		ch.replyTo = ""
	}
	ch.c.srv.retireCounters(&ch.ctr)
}

// settleGrouped settles entries with one Session.Settle call per
// session. What the sessions return is carried out, unless the channel
// is closed.
func settleGrouped(entries []unackedEntry, s queue.Settlement) {
	if len(entries) == 0 {
		return
	}
	done := 0
	for done < len(entries) {
		var q *session
		var ids []uint64
		for i := range entries {
			e := &entries[i]
			if e.s == nil {
				continue
			}
			if q == nil {
				q = e.s
			}
			if e.s == q {
				ids = append(ids, e.id)
				e.s = nil
				done++
			}
		}
		if q == nil {
			break
		}
		if acts := q.s.Settle(s, ids, nil); len(acts) > 0 {
			q.ch.handleActions(q, acts)
		}
	}
}
