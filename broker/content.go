package broker

import (
	"bytes"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// maxIncomplete is how many messages of the largest size, properties
// included, one connection may hold partly received across its channels.
// amqp091-go interleaves the frames of messages published at the same time
// on different channels, so a client publishing from several goroutines
// holds one incomplete message per goroutine.
const maxIncomplete = 8

// incompleteLimit is the most octets one connection may hold in messages
// still being received: room for maxIncomplete messages of
// Config.MaxMessageSize whose properties fill a frame.
func (c *conn) incompleteLimit() int {
	cfg := &c.srv.cfg
	return maxIncomplete * (cfg.MaxMessageSize + int(cfg.FrameMax))
}

// heldBytes is what a message being received holds: its raw properties
// and the capacity of its body buffer.
func heldBytes(msg *queue.Message) int {
	return len(msg.RawProps) + cap(msg.Body)
}

// maxSharedBuffer bounds the buffer a connection's lastProps may keep
// alive: only the properties of a message this small are shared.
const maxSharedBuffer = 4 << 10

// startContent allocates the message a content header announces, with
// room for the whole body only when it may arrive in one frame and the
// connection's limit allows: a larger body grows as its frames arrive, so
// memory follows the octets received, not the size announced.
//
// A message whose properties are the same as the last message's on the
// connection (a publisher's usual case) shares that message's raw
// properties, read-only, and its body gets a buffer of its own, of its
// exact size: a 1 KiB body then takes a 1 KiB allocation rather than the
// next size class up. Otherwise the properties and the body share one
// buffer, and a small one becomes the connection's lastProps. Either way
// a message costs two allocations: the buffer and the Message.
func (ch *channel) startContent(raw []byte, size int) *queue.Message {
	c := ch.c
	reserve := 0
	if size <= int(c.frameMax) && c.incomplete+len(raw)+size <= c.incompleteLimit() {
		reserve = size
	}
	msg := &queue.Message{
		Exchange:   ch.publish.Exchange,
		RoutingKey: ch.publish.RoutingKey,
	}
	switch {
	case len(raw) < 2:
		msg.Body = make([]byte, 0, reserve)
	case bytes.Equal(raw, c.lastProps):
		msg.RawProps = c.lastProps
		msg.Body = make([]byte, 0, reserve)
	default:
		buf := make([]byte, len(raw)+reserve)
		copy(buf, raw)
		msg.RawProps = buf[:len(raw):len(raw)]
		msg.Body = buf[len(raw):len(raw)]
		if len(buf) <= maxSharedBuffer {
			c.lastProps = msg.RawProps
		}
	}
	c.incomplete += heldBytes(msg)
	return msg
}

// growBody makes room for need octets of ch.msg's body: it at least
// doubles the buffer, never past the announced size, so each octet is
// copied a bounded number of times; near the connection's limit it takes
// what room is left, and past it the connection is closed with 506
// RESOURCE_ERROR.
func (ch *channel) growBody(need int) error {
	c, msg := ch.c, ch.msg
	held := heldBytes(msg)
	room := c.incompleteLimit() - (c.incomplete - held) - len(msg.RawProps)
	if need > room {
		return protocol.NewError(protocol.ResourceError,
			"partly received messages would hold %d bytes on this connection, more than its limit of %d",
			c.incomplete-held+len(msg.RawProps)+need, c.incompleteLimit()).For(ch.publish)
	}
	size := len(msg.Body) + ch.bodyLeft
	n := min(size, room, max(need, 2*cap(msg.Body)))
	buf := make([]byte, len(msg.RawProps)+n)
	np := copy(buf, msg.RawProps)
	if msg.RawProps != nil {
		msg.RawProps = buf[:np:np]
	}
	msg.Body = append(buf[np:np], msg.Body...)
	c.incomplete += heldBytes(msg) - held
	return nil
}

// endContent takes ch.msg off the connection's incomplete messages, once
// its body is complete or its channel is released mid-message.
func (ch *channel) endContent() {
	if ch.msg != nil {
		ch.c.incomplete -= heldBytes(ch.msg)
	}
}
