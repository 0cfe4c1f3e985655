package broker

import (
	"strings"
	"time"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// directReplyTo is the pseudo-queue of direct reply-to.
const directReplyTo = "amq.rabbitmq.reply-to"

// directReplyPrefix starts the routable reply_to a requester's messages
// carry; the default exchange routes it straight to the requester.
const directReplyPrefix = directReplyTo + "."

// contentHeader handles the content header of a basic.publish.
func (ch *channel) contentHeader(payload []byte) error {
	class, size, raw, err := protocol.DecodeContentHeader(payload)
	if err != nil {
		return err
	}
	if class != protocol.ClassBasic {
		return protocol.NewError(protocol.UnexpectedFrame,
			"expected content header for class %d, got one for class %d instead", protocol.ClassBasic, class).For(ch.publish)
	}
	if size > absoluteMaxMessageSize {
		return protocol.NewError(protocol.FrameError, "content body size %d exceeds maximum allowed size %d",
			size, absoluteMaxMessageSize).For(ch.publish)
	}
	if limit := ch.c.srv.cfg.MaxMessageSize; size > uint64(limit) {
		ch.expect = expectMethod
		text := "message size %d is larger than configured max size %d"
		if limit == absoluteMaxMessageSize {
			text = "message size %d is larger than max size %d"
		}
		return protocol.NewError(protocol.PreconditionFailed, text, size, limit).For(ch.publish)
	}
	ch.msg = ch.startContent(raw, int(size))
	ch.bodyLeft = int(size)
	if size == 0 {
		ch.endContent()
		return ch.publishAssembled()
	}
	ch.expect = expectBody
	return nil
}

// contentBody handles one body frame of a basic.publish.
func (ch *channel) contentBody(payload []byte) error {
	if len(payload) > ch.bodyLeft {
		return protocol.NewError(protocol.FrameError, "content body frame exceeds remaining content size").For(ch.publish)
	}
	body := ch.msg.Body
	if len(body)+len(payload) > cap(body) {
		if err := ch.growBody(len(body) + len(payload)); err != nil {
			return err
		}
	}
	ch.msg.Body = append(ch.msg.Body, payload...)
	ch.bodyLeft -= len(payload)
	if ch.bodyLeft > 0 {
		return nil
	}
	ch.endContent()
	return ch.publishAssembled()
}

// publishAssembled validates, routes and enqueues a complete message.
func (ch *channel) publishAssembled() error {
	m, msg := ch.publish, ch.msg
	ch.publish, ch.msg, ch.expect = nil, nil, expectMethod
	if err := ch.doPublish(m, msg); err != nil {
		return ch.c.asProtocolError(err, m)
	}
	return nil
}

func (ch *channel) doPublish(m *protocol.BasicPublish, msg *queue.Message) error {
	if m.Immediate {
		return protocol.NewError(protocol.NotImplemented, "immediate=true")
	}
	vh := ch.c.vh
	ch.ctr.received.Add(1)
	if ch.confirm || ch.tx != nil {
		ch.ctr.receivedConfirm.Add(1)
	}
	if err := ch.checkAccess(resExchange, permWrite, m.Exchange); err != nil {
		return err
	}
	var x *exchangeEntry
	xc := &vh.defaultX
	if m.Exchange != "" {
		if x = vh.exchange(m.Exchange); x == nil {
			return vh.noExchange(m.Exchange)
		}
		xc = &x.stats
		if x.Internal {
			return protocol.NewError(protocol.AccessRefused, "cannot publish to internal exchange '%s' in vhost '%s'",
				m.Exchange, vh.name)
		}
	}
	if msg.RawProps != nil {
		if err := msg.Props.Decode(msg.RawProps); err != nil {
			return err
		}
	}
	p := &msg.Props
	if p.Flags&protocol.FlagReplyTo != 0 && p.ReplyTo == directReplyTo {
		if ch.replyTo == "" {
			return protocol.NewError(protocol.PreconditionFailed, "fast reply consumer does not exist")
		}
		p.ReplyTo = ch.replyTo
		msg.RawProps = nil
	}
	// RabbitMQ's order: user_id, expiration, the CC and BCC headers, then
	// delivery_mode. An impersonator may set any user_id.
	if p.Flags&protocol.FlagUserID != 0 && p.UserID != ch.c.user && !ch.impersonator() {
		return protocol.NewError(protocol.PreconditionFailed,
			"user_id property set to '%s' but authenticated user was '%s'", p.UserID, ch.c.user)
	}
	if p.Flags&protocol.FlagExpiration != 0 {
		if _, err := queue.ParseExpiration(p.Expiration); err != nil {
			return err
		}
	}
	msg.Timestamp = time.Now()

	keys := ch.routeBuf[:0]
	keys = append(keys, m.RoutingKey)
	if p.Headers != nil {
		var err error
		if cc, ok := p.Headers["CC"]; ok {
			if keys, err = appendKeyHeader(keys, "CC", cc); err != nil {
				return err
			}
		}
		if bcc, ok := p.Headers["BCC"]; ok {
			if keys, err = appendKeyHeader(keys, "BCC", bcc); err != nil {
				return err
			}
			delete(p.Headers, "BCC")
			msg.RawProps = nil
		}
	}
	ch.routeBuf = keys[:0]
	if x != nil && x.Kind == exchange.Topic {
		for _, k := range keys {
			if err := ch.checkTopic(x, permWrite, k); err != nil {
				return err
			}
		}
	}
	if p.Flags&protocol.FlagDeliveryMode != 0 && p.DeliveryMode != 1 && p.DeliveryMode != 2 {
		return protocol.NewError(protocol.PreconditionFailed, "invalid message: {delivery_mode_unknown,%d}", p.DeliveryMode)
	}

	if ch.tx != nil {
		qs, replies := vh.route(m.Exchange, keys, p.Headers, ch.queueBuf[:0])
		names := make([]string, len(qs))
		for i, q := range qs {
			names[i] = q.Name()
		}
		clear(qs)
		ch.queueBuf = qs[:0]
		ch.tx.publishes = append(ch.tx.publishes, txPublish{msg: msg, x: xc, mandatory: m.Mandatory, queues: names, replies: replies})
		return nil
	}
	qs, replies := vh.route(m.Exchange, keys, p.Headers, ch.queueBuf[:0])
	ch.enqueue(msg, xc, m.Mandatory, qs, replies)
	clear(qs)
	ch.queueBuf = qs[:0]
	return nil
}

// enqueue hands a message routed through the exchange counted by x to
// its queues and direct reply-to channels, returns it if it went nowhere
// and was mandatory, and tracks its confirm.
func (ch *channel) enqueue(msg *queue.Message, x *exchangeCounters, mandatory bool, qs []queue.Queue, replies []replyTarget) {
	routed := len(qs) > 0 || len(replies) > 0
	ch.countPublished(x, len(qs), routed, mandatory)
	if !routed && mandatory {
		// The return goes out before the confirm of the same publish.
		ch.c.sendContent(ch.id, &protocol.BasicReturn{
			ReplyCode:  protocol.NoRoute,
			ReplyText:  "NO_ROUTE",
			Exchange:   msg.Exchange,
			RoutingKey: msg.RoutingKey,
		}, &msg.Props, msg.RawProps, msg.Body)
	}
	var conf queue.Confirm
	if ch.confirm {
		ch.beginConfirmBatch()
		conf = ch.confirms.expect(len(qs), x)
	} else if ch.committing {
		conf = ch.confirms.expect(len(qs), x)
	}
	ch.pubNum++
	conf.From, conf.Num = &ch.from, ch.pubNum
	for _, r := range replies {
		r.deliverReply(msg)
	}
	for _, q := range qs {
		s := ch.session(q)
		s.qc.published.Add(1)
		s.handle(s.s.Publish(msg, conf, ch.actBuf[:0]))
	}
}

// appendKeyHeader appends the routing keys of the CC or BCC header named
// header, whose value is v, to keys. As in RabbitMQ (rabbit_basic), the
// header must be an array, or the message is refused with 406, and only
// its string (longstr) elements are keys; others are skipped.
func appendKeyHeader(keys []string, header string, v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return keys, protocol.NewError(protocol.PreconditionFailed,
			"invalid message: {unacceptable_type_in_header,\"%s\",%s}", header, protocol.FieldTypeName(v))
	}
	for _, k := range arr {
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys, nil
}

// deliverReply delivers a direct reply-to message to this channel's reply
// consumer, in no-ack mode and without flow control, as RabbitMQ does.
func (ch *channel) deliverReply(msg *queue.Message) {
	ch.mu.Lock()
	if ch.closed || ch.replyTo == "" {
		ch.mu.Unlock()
		return
	}
	ch.nextTag++
	dm := &ch.deliver
	dm.ConsumerTag = ch.replyTag
	dm.DeliveryTag = ch.nextTag
	dm.Redelivered = false
	dm.Exchange = msg.Exchange
	dm.RoutingKey = msg.RoutingKey
	c := ch.c
	o := c.lockOut()
	if !o.closed {
		o.buf = c.appendContent(o.buf, ch.id, dm, &msg.Props, msg.RawProps, msg.Body)
	}
	c.unlockOut()
	ch.mu.Unlock()
}

// isReplyKey reports whether a default-exchange routing key addresses a
// direct reply-to requester.
func isReplyKey(key string) bool {
	return strings.HasPrefix(key, directReplyPrefix)
}
