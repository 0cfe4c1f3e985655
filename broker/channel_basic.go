package broker

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"go.uber.org/zap"
)

// randomName returns prefix and the base64url of 16 random bytes, as
// RabbitMQ names server-named queues and consumer tags.
func randomName(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func (ch *channel) basicQos(m *protocol.BasicQos) error {
	if m.PrefetchSize != 0 {
		return protocol.NewError(protocol.NotImplemented, "prefetch_size!=0 (%d)", m.PrefetchSize)
	}
	if m.Global {
		ch.lim.SetLimit(m.PrefetchCount)
	} else {
		ch.mu.Lock()
		ch.consumerQoS = m.PrefetchCount
		ch.mu.Unlock()
	}
	ch.c.sendMethod(ch.id, &protocol.BasicQosOk{})
	return nil
}

func (ch *channel) basicConsume(m *protocol.BasicConsume) error {
	vh := ch.c.vh
	name, err := ch.queueName(m.Queue)
	if err != nil {
		return err
	}
	if name == directReplyTo {
		return ch.consumeReplyTo(m)
	}
	if err := ch.checkAccess(resQueue, permRead, name); err != nil {
		return err
	}
	e, err := vh.queueFor(name, ch.c)
	if err != nil {
		return err
	}
	if err := ch.c.srv.checkGlobalQoS(ch.lim.Limit(), e.args.Type, name, vh.name); err != nil {
		return err
	}
	tag, err := ch.consumerTag(m.ConsumerTag)
	if err != nil {
		return err
	}
	opts := queue.ConsumeOptions{Tag: tag, NoAck: m.NoAck, Exclusive: m.Exclusive, Args: m.Arguments}
	prio, err := queue.ParseConsumePriority(m.Arguments, name, vh.name)
	if err != nil {
		return err
	}
	opts.Priority = prio
	s := ch.session(e.q)
	k := &consumer{ch: ch, s: s, qname: name, tag: tag, noAck: m.NoAck, noWait: m.NoWait}
	k.timeout = ch.c.srv.cfg.ConsumerTimeout
	if t, ok := vh.consumerTimeout(e); ok {
		k.timeout = t
	}
	if v, ok := m.Arguments["x-consumer-timeout"]; ok {
		if ms, ok := protocol.IntValue(v); ok && ms > 0 {
			k.timeout = time.Duration(ms) * time.Millisecond
		}
	}
	if m.NoAck {
		k.timeout = 0
	}
	opts.Limiter = &ch.lim
	ch.mu.Lock()
	if !m.NoAck {
		opts.Prefetch = ch.consumerQoS
	}
	ch.consumers[tag] = k
	ch.mu.Unlock()
	ch.askAnswer(s)
	acts, err := s.s.Consume(k, opts, ch.actBuf[:0])
	if err != nil {
		ch.dropAnswer()
		ch.mu.Lock()
		delete(ch.consumers, tag)
		ch.mu.Unlock()
		return err
	}
	ch.handleActions(s, acts)
	ch.awaitAnswer()
	return ch.answerRefusal(methodBasicConsume)
}

// The methods named by a refusal that a queue posts (answerRefusal).
var (
	methodBasicConsume = &protocol.BasicConsume{}
	methodBasicGet     = &protocol.BasicGet{}
)

// tickFor is how often to check a consumer timeout of d.
func tickFor(d time.Duration) time.Duration {
	return min(max(d/4, 100*time.Millisecond), 10*time.Second)
}

// consumerTag returns the tag for a new consumer on the channel: the one
// requested, or a server-generated amq.ctag-… when none was; a tag already
// in use on the channel (direct reply-to's included) is refused.
func (ch *channel) consumerTag(requested string) (string, error) {
	if requested == "" {
		return randomName("amq.ctag-"), nil
	}
	ch.mu.Lock()
	_, dup := ch.consumers[requested]
	dup = dup || requested == ch.replyTag
	ch.mu.Unlock()
	if dup {
		return "", protocol.NewError(protocol.NotAllowed, "attempt to reuse consumer tag '%s'", requested)
	}
	return requested, nil
}

// consumeReplyTo subscribes the channel to direct reply-to.
func (ch *channel) consumeReplyTo(m *protocol.BasicConsume) error {
	if !m.NoAck {
		return protocol.NewError(protocol.PreconditionFailed, "reply consumer cannot acknowledge")
	}
	if ch.replyTo != "" {
		return protocol.NewError(protocol.PreconditionFailed, "reply consumer already set")
	}
	tag, err := ch.consumerTag(m.ConsumerTag)
	if err != nil {
		return err
	}
	key := newReplyKey(ch.c.srv.cfg.NodeName, ch.c.id, ch.id).String()
	ch.mu.Lock()
	ch.replyTo, ch.replyTag = key, tag
	ch.mu.Unlock()
	ch.c.vh.registerReplyTo(key, ch)
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.BasicConsumeOk{ConsumerTag: tag})
	}
	return nil
}

func (ch *channel) basicCancel(m *protocol.BasicCancel) error {
	if ch.replyTag != "" && m.ConsumerTag == ch.replyTag {
		ch.c.vh.unregisterReplyTo(ch.replyTo)
		ch.mu.Lock()
		ch.replyTo, ch.replyTag = "", ""
		ch.mu.Unlock()
	} else {
		ch.mu.Lock()
		k := ch.consumers[m.ConsumerTag]
		delete(ch.consumers, m.ConsumerTag)
		ch.mu.Unlock()
		if k != nil {
			k.s.handle(k.s.s.Cancel(k, ch.actBuf[:0]))
		}
	}
	if !m.NoWait {
		ch.c.sendMethod(ch.id, &protocol.BasicCancelOk{ConsumerTag: m.ConsumerTag})
	}
	return nil
}

func (ch *channel) basicGet(m *protocol.BasicGet) error {
	e, err := ch.readableQueue(m.Queue)
	if err != nil {
		return err
	}
	s := ch.session(e.q)
	ch.mu.Lock()
	ch.getNoAck = m.NoAck
	ch.mu.Unlock()
	ch.askAnswer(s)
	s.handle(s.s.Get(m.NoAck, ch.actBuf[:0]))
	ch.awaitAnswer()
	if !m.NoAck && ch.c.srv.cfg.ConsumerTimeout > 0 {
		ch.c.setTick(tickFor(ch.c.srv.cfg.ConsumerTimeout))
	}
	return ch.answerRefusal(methodBasicGet)
}

// ack handles basic.ack, basic.nack and basic.reject.
func (ch *channel) ack(tag uint64, multiple bool, s queue.Settlement) error {
	ch.mu.Lock()
	taken, ok := ch.unacked.take(tag, multiple, ch.settleBuf[:0])
	if !ok {
		ch.mu.Unlock()
		return protocol.NewError(protocol.PreconditionFailed, "unknown delivery tag %d", tag)
	}
	if ch.tx != nil {
		ch.mu.Unlock()
		ch.tx.acks = append(ch.tx.acks, txAck{entries: append([]unackedEntry(nil), taken...), s: s})
		ch.settleBuf = taken[:0]
		return nil
	}
	ch.mu.Unlock()
	ch.settle(taken, s)
	ch.returnCredit(taken)
	clear(taken)
	ch.settleBuf = taken[:0]
	return nil
}

// returnCredit gives the channel-wide credit of settled deliveries back
// to the limiter; their queues gave the consumers' own credit back as
// they settled them.
func (ch *channel) returnCredit(taken []unackedEntry) {
	n := 0
	for i := range taken {
		if taken[i].credit {
			n++
		}
	}
	ch.lim.Return(n)
}

// settle settles entries with their queues: one Settle call per queue
// (the usual case, one queue, needs no grouping).
func (ch *channel) settle(taken []unackedEntry, s queue.Settlement) {
	if len(taken) == 0 {
		return
	}
	if s == queue.Ack {
		ch.countAcks(taken)
	}
	q := taken[0].s
	same := true
	for i := 1; i < len(taken); i++ {
		if taken[i].s != q {
			same = false
			break
		}
	}
	if !same {
		settleGrouped(taken, s)
		return
	}
	// Settle does not keep ids (classic copies what it needs), so the
	// read loop reuses one slice.
	ids := ch.idBuf[:0]
	for i := range taken {
		ids = append(ids, taken[i].id)
	}
	q.handle(q.s.Settle(s, ids, ch.actBuf[:0]))
	ch.idBuf = ids[:0]
}

// recover handles basic.recover and basic.recover-async: every unacked
// delivery goes back to its queue.
func (ch *channel) recover(requeue bool) error {
	if !requeue {
		return protocol.NewError(protocol.NotImplemented, "requeue=false")
	}
	ch.mu.Lock()
	taken := ch.unacked.takeAll(nil)
	ch.mu.Unlock()
	n := 0
	for i := range taken {
		if taken[i].credit {
			n++
		}
	}
	settleGrouped(taken, queue.Requeue)
	ch.lim.Return(n)
	return nil
}

// checkConsumerTimeouts acts on the deliveries held longer than their
// consumer timeout: a queue that ends the consumer itself
// (queue.TimeoutCanceller) is told to; any other such delivery closes its
// channel. It runs on the connection's writer goroutine.
func (c *conn) checkConsumerTimeouts(now time.Time) {
	ms := now.UnixMilli()
	c.chMu.Lock()
	var expired []*channel
	var timeouts []time.Duration
	var cancels []timedOutConsumer
	for _, ch := range c.channels {
		var t time.Duration
		if t, cancels = ch.timedOut(ms, cancels); t > 0 {
			expired = append(expired, ch)
			timeouts = append(timeouts, t)
		}
	}
	c.chMu.Unlock()
	for _, k := range cancels {
		k.tc.TimedOut(k.k)
	}
	for i, ch := range expired {
		ch.timeoutClose(timeouts[i])
	}
}

// timedOutConsumer is a consumer whose queue ends it for a timeout.
type timedOutConsumer struct {
	tc queue.TimeoutCanceller
	k  *consumer
}

// timedOut returns the timeout of the first delivery held past its
// consumer timeout whose queue leaves it to the channel, or 0, and appends
// to cancels the consumers whose queues end them instead.
func (ch *channel) timedOut(nowMS int64, cancels []timedOutConsumer) (time.Duration, []timedOutConsumer) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.closed {
		return 0, cancels
	}
	def := ch.c.srv.cfg.ConsumerTimeout
	for _, e := range ch.unacked.items[ch.unacked.head:] {
		if e.s == nil || (e.k != nil && e.k.timedOut) {
			continue
		}
		t := def
		if e.k != nil {
			t = e.k.timeout
		}
		if t <= 0 || nowMS-e.at <= t.Milliseconds() {
			continue
		}
		if tc, ok := e.s.s.(queue.TimeoutCanceller); ok && e.k != nil {
			e.k.timedOut = true
			cancels = append(cancels, timedOutConsumer{tc: tc, k: e.k})
			continue
		}
		return t, cancels
	}
	return 0, cancels
}

// timeoutClose closes the channel because a delivery timed out. It runs
// on the writer goroutine, so it only stops deliveries and sends
// channel.close; the read loop releases the channel on close-ok.
func (ch *channel) timeoutClose(t time.Duration) {
	if !ch.closing.CompareAndSwap(false, true) {
		return
	}
	ch.mu.Lock()
	ch.closed = true
	ch.mu.Unlock()
	ch.log.Warn("consumer timed out waiting for a delivery acknowledgement, closing channel",
		zap.Duration("timeout", t))
	e := protocol.NewError(protocol.PreconditionFailed,
		"delivery acknowledgement on channel %d timed out. Timeout value used: %d ms. "+
			"This timeout value can be configured, see consumers doc guide to learn more", ch.id, t.Milliseconds())
	ch.c.sendMethod(ch.id, &protocol.ChannelClose{ReplyCode: e.Code, ReplyText: e.Text})
}
