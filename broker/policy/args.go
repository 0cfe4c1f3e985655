package policy

import (
	"math"
	"time"

	"github.com/warrenmq/warren/queue"
)

// maxMillis is the most milliseconds a time.Duration holds.
const maxMillis = math.MaxInt64 / int64(time.Millisecond)

func millis(n int64) time.Duration { return time.Duration(min(n, maxMillis)) * time.Millisecond }

// QueueArgs returns a queue's effective arguments: its declared arguments
// a (whose Type says the queue type) with the policy definition d in
// force, each key resolved as RabbitMQ resolves it for that type (the
// table in the package documentation). Values of the wrong type (a
// definition stored before it was validated) are ignored.
func QueueArgs(a queue.Args, d Definition) queue.Args {
	if len(d) == 0 {
		return a
	}
	quorum := a.Type == queue.TypeQuorum
	if n, ok := d.Int("max-length"); ok && n >= 0 {
		a.MaxLength, a.HasMaxLength = lower(a.MaxLength, a.HasMaxLength, n), true
	}
	if n, ok := d.Int("max-length-bytes"); ok && n >= 0 {
		a.MaxLengthBytes, a.HasMaxLengthBytes = lower(a.MaxLengthBytes, a.HasMaxLengthBytes, n), true
	}
	if n, ok := d.Int("message-ttl"); ok && n >= 0 {
		ttl := millis(n)
		if !a.HasMessageTTL || ttl < a.MessageTTL {
			a.MessageTTL = ttl
		}
		a.HasMessageTTL = true
	}
	if n, ok := d.Int("expires"); ok && n > 0 {
		if e := millis(n); a.Expires == 0 || e < a.Expires {
			a.Expires = e
		}
	}
	if s, ok := d.String("overflow"); ok && (quorum || !a.HasOverflow) {
		a.Overflow, a.HasOverflow = parseOverflow(s), true
	}
	if s, ok := d.String("dead-letter-exchange"); ok && !a.HasDeadLetterExchange {
		a.DeadLetterExchange, a.HasDeadLetterExchange = s, true
	}
	if s, ok := d.String("dead-letter-routing-key"); ok && !a.HasDeadLetterRoutingKey {
		a.DeadLetterRoutingKey, a.HasDeadLetterRoutingKey = s, true
	}
	if n, ok := d.Int("consumer-timeout"); ok && n >= 0 {
		// The lower of the argument and the policy, as RabbitMQ 4.
		if t := millis(n); !a.HasConsumerTimeout || t < a.ConsumerTimeout {
			a.ConsumerTimeout = t
		}
		a.HasConsumerTimeout = true
	}
	if !quorum {
		return a
	}
	if s, ok := d.String("dead-letter-strategy"); ok && a.DeadLetterStrategy == "" {
		a.DeadLetterStrategy = s
	}
	if n, ok := d.Int("delivery-limit"); ok {
		a.DeliveryLimit, a.HasDeliveryLimit = deliveryLimit(a.DeliveryLimit, a.HasDeliveryLimit, n), true
	}
	return a
}

// lower returns the lower of the argument (when has) and the policy's n.
func lower(arg int64, has bool, n int64) int64 {
	if has {
		return min(arg, n)
	}
	return n
}

// deliveryLimit resolves a policy's delivery-limit with the argument, as
// rabbit_quorum_queue:resolve_delivery_limit: either negative (no limit)
// takes the higher, otherwise the lower.
func deliveryLimit(arg int64, has bool, n int64) int64 {
	switch {
	case !has:
		return n
	case arg < 0 || n < 0:
		return max(arg, n)
	}
	return min(arg, n)
}

func parseOverflow(s string) queue.Overflow {
	switch s {
	case "reject-publish":
		return queue.RejectPublish
	case "reject-publish-dlx":
		return queue.RejectPublishDLX
	}
	return queue.DropHead
}

// AlternateExchange returns an exchange's effective alternate exchange:
// its alternate-exchange argument arg when it has one (has), else the
// policy's, as rabbit_policy:get_arg; "" for none.
func AlternateExchange(arg string, has bool, d Definition) string {
	if has {
		return arg
	}
	s, _ := d.String("alternate-exchange")
	return s
}
