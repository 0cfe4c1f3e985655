package queue

import (
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// Overflow is the x-overflow behaviour of a queue at its length limit.
type Overflow uint8

// The overflow behaviours RabbitMQ knows.
const (
	// DropHead drops (dead-letters, reason maxlen) the oldest ready messages.
	DropHead Overflow = iota
	// RejectPublish refuses new messages, nacking them for confirms.
	RejectPublish
	// RejectPublishDLX refuses new messages and dead-letters them.
	RejectPublishDLX
)

// String returns the overflow's x-overflow spelling.
func (o Overflow) String() string {
	switch o {
	case RejectPublish:
		return "reject-publish"
	case RejectPublishDLX:
		return "reject-publish-dlx"
	default:
		return "drop-head"
	}
}

// The queue types x-queue-type names.
const (
	// TypeClassic is a local, optionally durable queue.
	TypeClassic = "classic"
	// TypeQuorum is a Raft-replicated queue.
	TypeQuorum = "quorum"
	// TypeStream is an append-only log.
	TypeStream = "stream"
)

// MaxPriority is the highest x-max-priority RabbitMQ accepts.
const MaxPriority = 255

// maxExpiry is RabbitMQ's ceiling for TTLs and expiries in milliseconds:
// ten years (rabbit_misc:check_expiry/1).
const maxExpiry = 315_360_000_000

// Args are a queue's declare arguments, validated and typed. Fields whose
// zero value is meaningful carry a Has flag.
type Args struct {
	// Type is x-queue-type: TypeClassic (the default), TypeQuorum or TypeStream.
	Type string
	// MessageTTL is x-message-ttl; 0 means deliver at once or expire.
	MessageTTL time.Duration
	// HasMessageTTL reports whether x-message-ttl was given.
	HasMessageTTL bool
	// Expires is x-expires, how long the queue may stay unused; 0 means never.
	Expires time.Duration
	// MaxLength is x-max-length, in ready messages.
	MaxLength int64
	// HasMaxLength reports whether x-max-length was given.
	HasMaxLength bool
	// MaxLengthBytes is x-max-length-bytes, in body bytes of ready messages.
	MaxLengthBytes int64
	// HasMaxLengthBytes reports whether x-max-length-bytes was given.
	HasMaxLengthBytes bool
	// Overflow is x-overflow; DropHead by default.
	Overflow Overflow
	// HasOverflow reports whether x-overflow was given.
	HasOverflow bool
	// DeadLetterExchange is x-dead-letter-exchange ("" is the default exchange).
	DeadLetterExchange string
	// HasDeadLetterExchange reports whether x-dead-letter-exchange was given.
	HasDeadLetterExchange bool
	// DeadLetterRoutingKey is x-dead-letter-routing-key.
	DeadLetterRoutingKey string
	// HasDeadLetterRoutingKey reports whether x-dead-letter-routing-key was given.
	HasDeadLetterRoutingKey bool
	// MaxPriority is x-max-priority; 0 means the queue ignores priorities.
	MaxPriority uint8
	// SingleActiveConsumer is x-single-active-consumer.
	SingleActiveConsumer bool
	// ConsumerTimeout is x-consumer-timeout, enforced by the channel.
	ConsumerTimeout time.Duration
	// HasConsumerTimeout reports whether a usable x-consumer-timeout was given.
	HasConsumerTimeout bool
	// DeliveryLimit is x-delivery-limit (quorum queues).
	DeliveryLimit int64
	// HasDeliveryLimit reports whether x-delivery-limit was given.
	HasDeliveryLimit bool
	// DeadLetterStrategy is x-dead-letter-strategy (quorum queues):
	// "at-most-once", "at-least-once", or "" when absent.
	DeadLetterStrategy string
	// InitialGroupSize is x-quorum-initial-group-size, the replicas a
	// quorum queue starts with; 0 when absent.
	InitialGroupSize int64
}

// argsByType lists, per queue type, the arguments RabbitMQ 4 lets that type
// carry (rabbit_*_queue:capabilities/0); these are also the arguments a
// redeclare compares.
var argsByType = map[string][]string{
	TypeClassic: {"x-expires", "x-message-ttl", "x-dead-letter-exchange",
		"x-dead-letter-routing-key", "x-max-length", "x-max-length-bytes",
		"x-max-priority", "x-overflow", "x-queue-mode", "x-queue-version",
		"x-single-active-consumer", "x-queue-type", "x-queue-master-locator",
		"x-queue-leader-locator"},
	TypeQuorum: {"x-dead-letter-exchange", "x-dead-letter-routing-key",
		"x-dead-letter-strategy", "x-expires", "x-max-length",
		"x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes",
		"x-overflow", "x-single-active-consumer", "x-queue-type",
		"x-quorum-initial-group-size", "x-delivery-limit", "x-message-ttl",
		"x-queue-leader-locator"},
	TypeStream: {"x-queue-type", "x-max-length-bytes", "x-max-age",
		"x-stream-max-segment-size-bytes", "x-initial-cluster-size",
		"x-queue-leader-locator", "x-stream-filter-size-bytes"},
}

// typeModule is the Erlang module RabbitMQ names a queue type by in errors.
var typeModule = map[string]string{
	TypeClassic: "rabbit_classic_queue",
	TypeQuorum:  "rabbit_quorum_queue",
	TypeStream:  "rabbit_stream_queue",
}

// argChecks are RabbitMQ's declare argument validators in the order
// rabbit_amqqueue:declare_args/0 runs them, so that the first error
// reported is the one RabbitMQ reports.
var argChecks = []struct {
	key   string
	check func(v any, t protocol.Table) string
}{
	{"x-expires", checkExpires},
	{"x-message-ttl", checkMessageTTL},
	{"x-dead-letter-exchange", checkString},
	{"x-dead-letter-routing-key", checkDLRK},
	{"x-dead-letter-strategy", checkOneOf("invalid_dlx_strategy", "at-most-once", "at-least-once")},
	{"x-max-length", checkNonNegInt},
	{"x-max-length-bytes", checkNonNegInt},
	{"x-max-in-memory-length", checkNonNegInt},
	{"x-max-in-memory-bytes", checkNonNegInt},
	{"x-max-priority", checkMaxPriority},
	{"x-overflow", checkOneOf("invalid_overflow", "drop-head", "reject-publish", "reject-publish-dlx")},
	{"x-queue-mode", checkQueueMode},
	{"x-queue-version", checkQueueVersion},
	{"x-single-active-consumer", checkBool},
	{"x-queue-type", checkQueueType},
	{"x-quorum-initial-group-size", checkPositiveInt},
	// RabbitMQ 4 takes any integer: a negative one lifts the limit.
	{"x-delivery-limit", checkIntArg},
	{"x-max-age", checkMaxAge},
	{"x-stream-max-segment-size-bytes", checkNonNegInt},
	{"x-stream-filter-size-bytes", checkNonNegInt},
	{"x-initial-cluster-size", checkPositiveInt},
	{"x-queue-leader-locator", checkOneOf("invalid_queue_locator_arg", "client-local", "balanced")},
}

// ParseArgs validates the declare arguments t of queue name in vhost as
// RabbitMQ does and returns them typed. Errors are PRECONDITION_FAILED
// exceptions with RabbitMQ's texts, such as "invalid arg 'x-message-ttl'
// for queue 'q' in vhost '/': {value_negative,-1}". Unknown arguments are
// accepted and ignored, as RabbitMQ does; arguments that belong to another
// queue type are refused.
func ParseArgs(t protocol.Table, name, vhost string) (Args, error) {
	return ParseArgsWith(t, name, vhost, nil)
}

// ParseArgsWith is ParseArgs with the arguments a queue type accepts taken
// from argsOf, which the broker answers from the registered type's
// Capabilities.Args. A nil argsOf, or a nil answer (a type the node does
// not run), means RabbitMQ's list for that type.
func ParseArgsWith(t protocol.Table, name, vhost string, argsOf func(typ string) []string) (Args, error) {
	a := Args{Type: TypeClassic}
	// rabbit_channel checks the dead-letter exchange's type before
	// rabbit_amqqueue sees the arguments.
	if v, ok := t["x-dead-letter-exchange"]; ok {
		if _, isStr := v.(string); !isStr {
			return a, protocol.NewError(protocol.PreconditionFailed,
				"invalid type '%s' for arg '%s'", protocol.FieldTypeName(v), "x-dead-letter-exchange")
		}
	}
	if v, ok := t["x-queue-type"]; ok {
		if reason := checkQueueType(v, t); reason != "" {
			return a, invalidArg("x-queue-type", name, vhost, reason)
		}
		a.Type = v.(string)
	}
	allowed := argsByType[a.Type]
	if argsOf != nil {
		if l := argsOf(a.Type); l != nil {
			allowed = l
		}
	}
	for _, c := range argChecks {
		v, ok := t[c.key]
		if !ok || !contains(allowed, c.key) {
			continue
		}
		if reason := c.check(v, t); reason != "" {
			return a, invalidArg(c.key, name, vhost, reason)
		}
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !contains(allowed, k) && knownElsewhere(k) {
			return a, protocol.NewError(protocol.PreconditionFailed,
				"invalid arg '%s' for queue '%s' in vhost '%s' of queue type %s",
				k, name, vhost, typeModule[a.Type])
		}
	}
	if n, ok := intArg(t, "x-message-ttl"); ok {
		a.MessageTTL, a.HasMessageTTL = time.Duration(n)*time.Millisecond, true
	}
	if n, ok := intArg(t, "x-expires"); ok {
		a.Expires = time.Duration(n) * time.Millisecond
	}
	if n, ok := intArg(t, "x-max-length"); ok {
		a.MaxLength, a.HasMaxLength = n, true
	}
	if n, ok := intArg(t, "x-max-length-bytes"); ok {
		a.MaxLengthBytes, a.HasMaxLengthBytes = n, true
	}
	_, a.HasOverflow = t["x-overflow"].(string)
	switch t["x-overflow"] {
	case "reject-publish":
		a.Overflow = RejectPublish
	case "reject-publish-dlx":
		a.Overflow = RejectPublishDLX
	}
	if s, ok := t["x-dead-letter-exchange"].(string); ok {
		a.DeadLetterExchange, a.HasDeadLetterExchange = s, true
	}
	if s, ok := t["x-dead-letter-routing-key"].(string); ok {
		a.DeadLetterRoutingKey, a.HasDeadLetterRoutingKey = s, true
	}
	if n, ok := intArg(t, "x-max-priority"); ok {
		a.MaxPriority = uint8(n)
	}
	if b, ok := t["x-single-active-consumer"].(bool); ok {
		a.SingleActiveConsumer = b
	}
	if n, ok := intArg(t, "x-delivery-limit"); ok {
		a.DeliveryLimit, a.HasDeliveryLimit = n, true
	}
	if s, ok := t["x-dead-letter-strategy"].(string); ok {
		a.DeadLetterStrategy = s
	}
	if n, ok := intArg(t, "x-quorum-initial-group-size"); ok {
		a.InitialGroupSize = n
	}
	// RabbitMQ reads x-consumer-timeout where it applies it and ignores a
	// value it cannot use; so do we.
	if n, ok := intArg(t, "x-consumer-timeout"); ok && n >= 0 && n <= maxExpiry {
		a.ConsumerTimeout, a.HasConsumerTimeout = time.Duration(n)*time.Millisecond, true
	}
	return a, nil
}

// knownElsewhere reports whether k is an argument of some queue type.
func knownElsewhere(k string) bool {
	for _, args := range argsByType {
		if contains(args, k) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func invalidArg(key, name, vhost, reason string) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"invalid arg '%s' for queue '%s' in vhost '%s': %s", key, name, vhost, reason)
}

// intArg returns t[key] when it is an integer of any AMQP integer type.
func intArg(t protocol.Table, key string) (int64, bool) {
	v, ok := t[key]
	if !ok {
		return 0, false
	}
	return protocol.IntValue(v)
}

// The validators return "" for a valid value and otherwise the Erlang term
// RabbitMQ prints as the reason.

func checkInt(v any) string {
	if _, ok := protocol.IntValue(v); ok {
		return ""
	}
	return `"expected integer, got ` + protocol.FieldTypeName(v) + `"`
}

func checkIntArg(v any, _ protocol.Table) string { return checkInt(v) }

func checkNonNegInt(v any, _ protocol.Table) string {
	if r := checkInt(v); r != "" {
		return r
	}
	if n, _ := protocol.IntValue(v); n < 0 {
		return errTerm("value_negative", n)
	}
	return ""
}

func checkPositiveInt(v any, t protocol.Table) string {
	if r := checkNonNegInt(v, t); r != "" {
		return r
	}
	if n, _ := protocol.IntValue(v); n == 0 {
		return errTerm("value_zero", 0)
	}
	return ""
}

func checkExpiry(n int64) string {
	switch {
	case n < 0:
		return errTerm("value_negative", n)
	case n > maxExpiry:
		return errTerm("value_too_large", n)
	}
	return ""
}

func checkExpires(v any, _ protocol.Table) string {
	if r := checkInt(v); r != "" {
		return r
	}
	n, _ := protocol.IntValue(v)
	if n == 0 {
		return errTerm("value_zero", 0)
	}
	return checkExpiry(n)
}

func checkMessageTTL(v any, _ protocol.Table) string {
	if r := checkInt(v); r != "" {
		return r
	}
	n, _ := protocol.IntValue(v)
	return checkExpiry(n)
}

func checkMaxPriority(v any, t protocol.Table) string {
	if r := checkNonNegInt(v, t); r != "" {
		return r
	}
	if n, _ := protocol.IntValue(v); n > MaxPriority {
		return errTerm("max_value_exceeded", n)
	}
	return ""
}

func checkBool(v any, _ protocol.Table) string {
	if _, ok := v.(bool); ok {
		return ""
	}
	return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
}

func checkString(v any, _ protocol.Table) string {
	if _, ok := v.(string); ok {
		return ""
	}
	return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
}

func checkDLRK(v any, t protocol.Table) string {
	if _, ok := v.(string); !ok {
		return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
	}
	if _, ok := t["x-dead-letter-exchange"]; !ok {
		return "routing_key_but_no_dlx_defined"
	}
	return ""
}

func checkOneOf(reason string, values ...string) func(any, protocol.Table) string {
	return func(v any, _ protocol.Table) string {
		s, ok := v.(string)
		if !ok {
			return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
		}
		if !contains(values, s) {
			return reason
		}
		return ""
	}
}

func checkQueueMode(v any, _ protocol.Table) string {
	s, ok := v.(string)
	if !ok {
		return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
	}
	if s != "default" && s != "lazy" {
		return `"unsupported queue mode '` + s + `'"`
	}
	return ""
}

func checkQueueVersion(v any, t protocol.Table) string {
	if r := checkNonNegInt(v, t); r != "" {
		return r
	}
	if n, _ := protocol.IntValue(v); n != 1 && n != 2 {
		return `"unsupported queue version '` + strconv.FormatInt(n, 10) + `'"`
	}
	return ""
}

func checkQueueType(v any, _ protocol.Table) string {
	s, ok := v.(string)
	if !ok {
		return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
	}
	if _, known := argsByType[s]; !known {
		return `"unsupported queue type '` + s + `'"`
	}
	return ""
}

// checkMaxAge accepts what rabbit_amqqueue:check_max_age/1 accepts: a
// positive integer followed by one of the units Y, M, D, h, m, s.
func checkMaxAge(v any, _ protocol.Table) string {
	s, ok := v.(string)
	if !ok {
		return "{unacceptable_type," + protocol.FieldTypeName(v) + "}"
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n <= 0 || !contains([]string{"Y", "M", "D", "h", "m", "s"}, s[i:]) {
		return "invalid_max_age"
	}
	return ""
}

// errTerm formats the Erlang tuple {tag,n}.
func errTerm(tag string, n int64) string {
	return "{" + tag + "," + strconv.FormatInt(n, 10) + "}"
}

// ParseConsumePriority returns the x-priority of basic.consume arguments t
// on queue name in vhost (0 when absent), validated as RabbitMQ does:
// "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost
// '/': \"expected integer, got longstr\"". Values beyond 32 bits are
// clamped.
func ParseConsumePriority(t protocol.Table, name, vhost string) (int32, error) {
	v, ok := t["x-priority"]
	if !ok {
		return 0, nil
	}
	if reason := checkInt(v); reason != "" {
		return 0, invalidArg("x-priority", name, vhost, reason)
	}
	n, _ := protocol.IntValue(v)
	return int32(max(min(n, math.MaxInt32), math.MinInt32)), nil
}

// TypeModule returns the Erlang module RabbitMQ names queue type name by
// in its error texts (rabbit_quorum_queue for quorum).
func TypeModule(name string) string { return typeModule[name] }
