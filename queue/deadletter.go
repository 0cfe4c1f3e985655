package queue

import (
	"strconv"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// Reason is why a queue dead-lettered a message.
type Reason uint8

// The dead-letter reasons, as x-death and x-first-death-reason spell them.
const (
	// Rejected: a consumer rejected or nacked the message without requeue.
	Rejected Reason = iota
	// Expired: the message's TTL ran out.
	Expired
	// MaxLen: the queue's length limit pushed the message out or refused it.
	MaxLen
	// DeliveryLimit: the message was returned more often than the queue allows.
	DeliveryLimit
)

// String returns the reason as RabbitMQ writes it in x-death.
func (r Reason) String() string {
	switch r {
	case Expired:
		return "expired"
	case MaxLen:
		return "maxlen"
	case DeliveryLimit:
		return "delivery_limit"
	default:
		return "rejected"
	}
}

// DeadLettered returns the copy of m that queue queueName, whose arguments
// are a, publishes to its dead-letter exchange for reason at now, written as
// RabbitMQ 3.13 and 4.x write it:
//
//   - Exchange is a.DeadLetterExchange; RoutingKey is a.DeadLetterRoutingKey
//     when set, else m's routing key. With a dead-letter routing key the CC
//     header is removed, so that the copy is routed by that key alone; without
//     one CC stays and the copy is routed by the original key and CC keys.
//   - x-death gets, at the front, a table for {queueName, reason} with count,
//     reason, queue, time (of the first such death, in seconds), exchange,
//     routing-keys (m's key and its CC keys) and, when m had a per-message
//     TTL, original-expiration. An existing table for the same queue and
//     reason has its count incremented and moves to the front instead.
//   - x-first-death-queue, -reason and -exchange are set on the first death;
//     x-last-death-queue, -reason and -exchange on every death.
//   - The expiration property is removed, so the copy does not expire again
//     for the same reason wherever it is routed.
//
// m is not modified; the copy shares m's body.
//
// RabbitMQ 3.13+ ignores an x-death header set by a publisher; a Message
// cannot tell a publisher's x-death from a broker's, so an existing x-death
// array is taken as the death history (as RabbitMQ 3.12 and earlier did).
func DeadLettered(m *Message, reason Reason, queueName string, a *Args, now time.Time) *Message {
	old := m.Props.Headers
	h := make(protocol.Table, len(old)+8)
	for k, v := range old {
		h[k] = v
	}
	why := reason.String()

	prior, _ := old["x-death"].([]any)
	deaths := make([]any, 1, len(prior)+1)
	match := -1
	for i, d := range prior {
		if t := asTable(d); t != nil && t["queue"] == queueName && t["reason"] == why {
			match = i
			break
		}
	}
	if match >= 0 {
		t := asTable(prior[match])
		u := make(protocol.Table, len(t))
		for k, v := range t {
			u[k] = v
		}
		n, _ := protocol.IntValue(t["count"])
		u["count"] = n + 1
		deaths[0] = u
		deaths = append(deaths, prior[:match]...)
		deaths = append(deaths, prior[match+1:]...)
	} else {
		deaths[0] = newDeath(m, why, queueName, now)
		deaths = append(deaths, prior...)
	}
	h["x-death"] = deaths

	if len(prior) == 0 {
		h["x-first-death-reason"] = why
		h["x-first-death-queue"] = queueName
		h["x-first-death-exchange"] = m.Exchange
	}
	h["x-last-death-reason"] = why
	h["x-last-death-queue"] = queueName
	h["x-last-death-exchange"] = m.Exchange

	key := m.RoutingKey
	if a.HasDeadLetterRoutingKey {
		key = a.DeadLetterRoutingKey
		delete(h, "CC")
	}
	delete(h, "BCC")

	p := m.Props
	p.Headers = h
	p.Flags |= protocol.FlagHeaders
	p.Expiration = ""
	p.Flags &^= protocol.FlagExpiration
	return &Message{
		Exchange:   a.DeadLetterExchange,
		RoutingKey: key,
		Props:      p,
		Body:       m.Body,
		Timestamp:  now,
	}
}

// newDeath is the x-death table of m's first death in queueName for why.
func newDeath(m *Message, why, queueName string, now time.Time) protocol.Table {
	keys := []any{m.RoutingKey}
	if cc, ok := m.Props.Headers["CC"].([]any); ok {
		for _, k := range cc {
			if s, ok := k.(string); ok {
				keys = append(keys, s)
			}
		}
	}
	t := protocol.Table{
		"count":        int64(1),
		"reason":       why,
		"queue":        queueName,
		"time":         time.Unix(now.Unix(), 0),
		"exchange":     m.Exchange,
		"routing-keys": keys,
	}
	if ttl := expirationTTL(m.Props.Expiration); ttl >= 0 {
		t["original-expiration"] = strconv.FormatInt(ttl, 10)
	}
	return t
}

// IsDeathCycle reports whether routing the dead-lettered message m to queue
// target would close a dead-letter cycle that RabbitMQ drops: m already
// died in target, and none of its deaths since then (including that one)
// was a rejection. The broker calls it for each queue a dead-lettered
// message is routed to and skips those for which it is true.
func IsDeathCycle(m *Message, target string) bool {
	deaths, _ := m.Props.Headers["x-death"].([]any)
	for i, d := range deaths {
		t := asTable(d)
		if t == nil || t["queue"] != target {
			continue
		}
		for _, e := range deaths[:i+1] {
			if et := asTable(e); et != nil && et["reason"] == Rejected.String() {
				return false
			}
		}
		return true
	}
	return false
}

// asTable returns v as a table, or nil when it is not one.
func asTable(v any) protocol.Table {
	switch t := v.(type) {
	case protocol.Table:
		return t
	case map[string]any:
		return t
	}
	return nil
}
