package queue

import (
	"reflect"
	"strconv"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// EquivalentArgs checks a redeclare of queue name in vhost, whose type is
// queueType, against its current arguments as RabbitMQ does
// (rabbit_misc:assert_args_equivalence/4): only the arguments the queue type
// knows are compared, integers compare by value whatever their width, and a
// missing x-queue-type equals "classic". The error is a PRECONDITION_FAILED
// exception such as "inequivalent arg 'x-message-ttl' for queue 'q' in vhost
// '/': received the value '2000' of type 'signedint' but current is none".
func EquivalentArgs(name, vhost, queueType string, current, received protocol.Table) error {
	for _, key := range argsByType[queueType] {
		cv, cok := current[key]
		rv, rok := received[key]
		switch {
		case !cok && !rok:
			continue
		case cok && rok:
			// Integers of any width, a longstr and a binary with the same
			// bytes, are the same Erlang term and so equivalent.
			if reflect.DeepEqual(erlValue(cv), erlValue(rv)) {
				continue
			}
			return inequivalent(name, vhost, key, bareVal(rv), bareVal(cv))
		default:
			if key == "x-queue-type" && (cv == TypeClassic || rv == TypeClassic) {
				continue
			}
			return inequivalent(name, vhost, key, typedVal(rv, rok), typedVal(cv, cok))
		}
	}
	return nil
}

// EquivalentField checks a redeclared queue property (field is "durable" or
// "auto_delete") against its current value, with RabbitMQ's error text:
// "inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true'
// but current is 'false'".
func EquivalentField(name, vhost, field string, current, received bool) error {
	if current == received {
		return nil
	}
	return inequivalent(name, vhost, field,
		"'"+strconv.FormatBool(received)+"'", "'"+strconv.FormatBool(current)+"'")
}

func inequivalent(name, vhost, key, received, current string) error {
	return protocol.NewError(protocol.PreconditionFailed,
		"inequivalent arg '%s' for queue '%s' in vhost '%s': received %s but current is %s",
		key, name, vhost, received, current)
}

// typedVal is rabbit_misc:val/1 of a {Type, Value} pair, or "none".
func typedVal(v any, ok bool) string {
	if !ok {
		return "none"
	}
	return "the value '" + protocol.ErlangText(v) + "' of type '" + protocol.FieldTypeName(v) + "'"
}

// bareVal is rabbit_misc:val/1 of a bare value.
func bareVal(v any) string {
	return "'" + protocol.ErlangText(v) + "'"
}

// erlValue maps a field value to what RabbitMQ holds for it, so that values
// RabbitMQ considers the same term compare equal: integers of every width
// are one integer, strings and byte strings are binaries, timestamps are
// integer seconds.
func erlValue(v any) any {
	if n, ok := protocol.IntValue(v); ok {
		return n
	}
	switch x := v.(type) {
	case []byte:
		return string(x)
	case float32:
		return float64(x)
	case time.Time:
		return x.Unix()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = erlValue(e)
		}
		return out
	case protocol.Table:
		return erlTable(x)
	case map[string]any:
		return erlTable(x)
	}
	return v
}

func erlTable(t map[string]any) map[string]any {
	out := make(map[string]any, len(t))
	for k, e := range t {
		out[k] = erlValue(e)
	}
	return out
}
