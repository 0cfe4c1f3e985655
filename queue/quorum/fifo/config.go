package fifo

import (
	"github.com/warrenmq/warren/queue"
)

// DefaultDeliveryLimit is x-delivery-limit when a quorum queue is declared
// without one, as in RabbitMQ 4.
const DefaultDeliveryLimit = 20

// DeadLetterStrategy is how a queue dead-letters.
type DeadLetterStrategy uint8

// The dead-letter strategies.
const (
	// NoDeadLetter drops what would be dead-lettered: the queue has no
	// dead-letter exchange.
	NoDeadLetter DeadLetterStrategy = iota
	// AtMostOnce removes a dead-lettered message from the queue at once
	// and asks the leader (EffectDeadLetter) to publish it, best effort.
	AtMostOnce
	// AtLeastOnce keeps a dead-lettered message until DeadLetterSettled
	// says its targets took it.
	AtLeastOnce
)

// Config is a queue's configuration, from its declare arguments. It is
// part of the state and its snapshots.
type Config struct {
	// MaxLength and MaxBytes are x-max-length and x-max-length-bytes;
	// they count ready messages and, with AtLeastOnce, those waiting to
	// be dead-lettered.
	MaxLength, MaxBytes       int64
	HasMaxLength, HasMaxBytes bool
	// Overflow is DropHead or RejectPublish.
	Overflow queue.Overflow
	// DeliveryLimit is x-delivery-limit: a message returned more often
	// than this is dead-lettered or dropped. Negative is no limit.
	DeliveryLimit int64
	// MessageTTL is x-message-ttl in milliseconds, when HasMessageTTL.
	MessageTTL    int64
	HasMessageTTL bool
	// Expires is x-expires in milliseconds: the queue is deleted once it
	// has been unused that long. 0 is never.
	Expires int64
	// SingleActive is x-single-active-consumer.
	SingleActive bool
	// DeadLetter is the effective dead-letter strategy.
	DeadLetter DeadLetterStrategy
	// Created is when the queue was declared (Unix ms): its x-expires
	// lease counts from it until first used. Zero means the time of the
	// first command applied.
	Created int64
}

// ConfigFromArgs returns the configuration of a quorum queue declared with
// a at time created (Unix ms). strategy is the x-dead-letter-strategy
// argument ("" when absent). As RabbitMQ decides: without a dead-letter
// exchange nothing is dead-lettered; at-least-once needs reject-publish
// and falls back to at-most-once with drop-head; reject-publish-dlx is
// not a quorum queue overflow and means drop-head.
func ConfigFromArgs(a queue.Args, strategy string, created int64) Config {
	c := Config{
		MaxLength: a.MaxLength, HasMaxLength: a.HasMaxLength,
		MaxBytes: a.MaxLengthBytes, HasMaxBytes: a.HasMaxLengthBytes,
		DeliveryLimit: DefaultDeliveryLimit,
		MessageTTL:    a.MessageTTL.Milliseconds(), HasMessageTTL: a.HasMessageTTL,
		Expires:      a.Expires.Milliseconds(),
		SingleActive: a.SingleActiveConsumer,
		Created:      created,
	}
	if a.Overflow == queue.RejectPublish {
		c.Overflow = queue.RejectPublish
	}
	if a.HasDeliveryLimit {
		c.DeliveryLimit = a.DeliveryLimit
	}
	switch {
	case !a.HasDeadLetterExchange:
		c.DeadLetter = NoDeadLetter
	case strategy == "at-least-once" && c.Overflow == queue.RejectPublish:
		c.DeadLetter = AtLeastOnce
	default:
		c.DeadLetter = AtMostOnce
	}
	return c
}

func (w *writer) config(c *Config) {
	w.Flags(c.HasMaxLength, c.HasMaxBytes, c.HasMessageTTL, c.SingleActive)
	w.Varint(c.MaxLength)
	w.Varint(c.MaxBytes)
	w.Byte(byte(c.Overflow))
	w.Varint(c.DeliveryLimit)
	w.Varint(c.MessageTTL)
	w.Varint(c.Expires)
	w.Byte(byte(c.DeadLetter))
	w.Varint(c.Created)
}

func (r *reader) config() Config {
	var c Config
	r.Flags(&c.HasMaxLength, &c.HasMaxBytes, &c.HasMessageTTL, &c.SingleActive)
	c.MaxLength = r.Varint()
	c.MaxBytes = r.Varint()
	c.Overflow = queue.Overflow(r.Byte())
	c.DeliveryLimit = r.Varint()
	c.MessageTTL = r.Varint()
	c.Expires = r.Varint()
	c.DeadLetter = DeadLetterStrategy(r.Byte())
	c.Created = r.Varint()
	if c.Overflow > queue.RejectPublish || c.DeadLetter > AtLeastOnce {
		r.Fail("unknown overflow or dead-letter strategy")
	}
	return c
}
