package queue

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
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
	return "the value '" + erlText(v) + "' of type '" + FieldType(v) + "'"
}

// bareVal is rabbit_misc:val/1 of a bare value.
func bareVal(v any) string {
	return "'" + erlText(v) + "'"
}

// erlValue maps a field value to what RabbitMQ holds for it, so that values
// RabbitMQ considers the same term compare equal: integers of every width
// are one integer, strings and byte strings are binaries, timestamps are
// integer seconds.
func erlValue(v any) any {
	if n, ok := IntValue(v); ok {
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

// erlText formats v as RabbitMQ's error texts do: a binary as its bytes,
// anything else as io_lib's ~p would.
func erlText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	var b strings.Builder
	writeErlTerm(&b, v)
	return b.String()
}

// writeErlTerm writes the Erlang term RabbitMQ decodes v to, as ~p prints it.
func writeErlTerm(b *strings.Builder, v any) {
	if n, ok := IntValue(v); ok {
		b.WriteString(strconv.FormatInt(n, 10))
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("undefined")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float32:
		b.WriteString(erlFloat(float64(x)))
	case float64:
		b.WriteString(erlFloat(x))
	case string:
		b.WriteString(`<<"` + x + `">>`)
	case []byte:
		b.WriteString(`<<"` + string(x) + `">>`)
	case time.Time:
		b.WriteString(strconv.FormatInt(x.Unix(), 10))
	case protocol.Decimal:
		b.WriteString("{" + strconv.Itoa(int(x.Scale)) + "," + strconv.FormatInt(int64(x.Value), 10) + "}")
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("{" + FieldType(e) + ",")
			writeErlTerm(b, e)
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case protocol.Table:
		writeErlTable(b, x)
	case map[string]any:
		writeErlTable(b, x)
	default:
		b.WriteString("undefined")
	}
}

func writeErlTable(b *strings.Builder, t map[string]any) {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.WriteByte('[')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{<<"` + k + `">>,` + FieldType(t[k]) + ",")
		writeErlTerm(b, t[k])
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

// erlFloat formats f as Erlang's shortest round-trip float printing does
// (io_lib_format:fwrite_g/1): 1.5, 100.0, 2.0e3, 1.0e-10.
func erlFloat(f float64) string {
	if f == 0 {
		return "0.0"
	}
	sign := ""
	if f < 0 {
		sign, f = "-", -f
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expStr, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr)
	place := exp + 1 // value = 0.digits × 10^place
	l := len(digits)
	if place >= 0 && place < l && place != 0 {
		return sign + digits[:place] + "." + digits[place:]
	}
	if place == 0 {
		return sign + "0." + digits
	}
	expL := strconv.Itoa(place - 1)
	expDot := 1
	if l == 1 {
		expDot = 2
	}
	expCost := len(expL) + 1 + expDot
	if place < 0 {
		if 2-place <= expCost {
			return sign + "0." + strings.Repeat("0", -place) + digits
		}
	} else if place-l+2 <= expCost {
		return sign + digits + strings.Repeat("0", place-l) + ".0"
	}
	if l == 1 {
		return sign + digits + ".0e" + expL
	}
	return sign + digits[:1] + "." + digits[1:] + "e" + expL
}
