package broker

import (
	"strings"
	"time"

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
	// One allocation holds the raw properties and the body.
	buf := make([]byte, len(raw)+int(size))
	copy(buf, raw)
	msg := &queue.Message{
		Exchange:   ch.publish.Exchange,
		RoutingKey: ch.publish.RoutingKey,
		RawProps:   buf[:len(raw):len(raw)],
		Body:       buf[len(raw):],
	}
	if len(raw) < 2 {
		msg.RawProps = nil
	}
	ch.msg = msg
	ch.bodyFill = 0
	if size == 0 {
		return ch.publishAssembled()
	}
	ch.expect = expectBody
	return nil
}

// contentBody handles one body frame of a basic.publish.
func (ch *channel) contentBody(payload []byte) error {
	body := ch.msg.Body
	if len(payload) > len(body)-ch.bodyFill {
		return protocol.NewError(protocol.FrameError, "content body frame exceeds remaining content size").For(ch.publish)
	}
	ch.bodyFill += copy(body[ch.bodyFill:], payload)
	if ch.bodyFill < len(body) {
		return nil
	}
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
	if m.Exchange != "" {
		x := vh.exchange(m.Exchange)
		if x == nil {
			return vh.noExchange(m.Exchange)
		}
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
	if p.Flags&protocol.FlagExpiration != 0 {
		if _, err := queue.ParseExpiration(p.Expiration); err != nil {
			return err
		}
	}
	if p.Flags&protocol.FlagUserID != 0 && p.UserID != ch.c.user {
		return protocol.NewError(protocol.PreconditionFailed,
			"user_id property set to '%s' but authenticated user was '%s'", p.UserID, ch.c.user)
	}
	msg.Timestamp = time.Now()

	keys := ch.routeBuf[:0]
	keys = append(keys, m.RoutingKey)
	if p.Headers != nil {
		keys = appendKeyHeader(keys, p.Headers["CC"])
		if bcc, ok := p.Headers["BCC"]; ok {
			keys = appendKeyHeader(keys, bcc)
			delete(p.Headers, "BCC")
			msg.RawProps = nil
		}
	}
	ch.routeBuf = keys[:0]

	if ch.tx != nil {
		qs, replies := vh.route(m.Exchange, keys, p.Headers, nil)
		ch.tx.publishes = append(ch.tx.publishes, txPublish{msg: msg, mandatory: m.Mandatory, queues: qs, replies: replies})
		return nil
	}
	qs, replies := vh.route(m.Exchange, keys, p.Headers, ch.queueBuf[:0])
	ch.enqueue(msg, m.Mandatory, qs, replies)
	clear(qs)
	ch.queueBuf = qs[:0]
	return nil
}

// enqueue hands a routed message to its queues and direct reply-to
// channels, returns it if it went nowhere and was mandatory, and tracks
// its confirm.
func (ch *channel) enqueue(msg *queue.Message, mandatory bool, qs []queue.Queue, replies []*channel) {
	if len(qs) == 0 && len(replies) == 0 && mandatory {
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
		conf = ch.confirms.expect(len(qs))
	}
	for _, r := range replies {
		r.deliverReply(msg)
	}
	for _, q := range qs {
		q.Publish(msg, conf)
	}
}

// appendKeyHeader appends the routing keys of a CC or BCC header (an
// array of strings) to keys.
func appendKeyHeader(keys []string, v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return keys
	}
	for _, k := range arr {
		if s, ok := k.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys
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
