package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/warrenmq/warren/protocol"
)

// Definition is a policy's keys and their values as JSON gives them:
// each value a string, an int64 (a JSON number without a fraction or
// exponent), a float64 (any other number), a bool, nil (null), a []any or
// a map[string]any.
type Definition map[string]any

// maxDefinition bounds the JSON of one definition.
const maxDefinition = 64 << 10

// ParseDefinition reads a definition: a JSON object, or, as RabbitMQ 3.x
// exports operator policies, a list of [key, value] pairs. Anything else
// is a ValidationError worded as RabbitMQ's ("definition must be a
// dictionary: …"). A key given twice is refused as RabbitMQ refuses it.
func ParseDefinition(raw []byte) (Definition, error) {
	if len(raw) > maxDefinition {
		return nil, invalid(fmt.Sprintf("definition must not exceed %d bytes", maxDefinition))
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, invalid("Could not parse JSON document: " + err.Error())
	}
	switch x := v.(type) {
	case map[string]any:
		return Definition(x), nil
	case []any:
		return pairs(x)
	}
	return nil, invalid("definition must be a dictionary: " + ErlangTerm(v))
}

// pairs reads a list of [key, value] pairs.
func pairs(list []any) (Definition, error) {
	d := make(Definition, len(list))
	var dup []string
	for _, e := range list {
		kv, ok := e.([]any)
		if !ok || len(kv) != 2 {
			return nil, invalid("definition must be a dictionary: " + ErlangTerm(list))
		}
		k, ok := kv[0].(string)
		if !ok {
			return nil, invalid("definition must be a dictionary: " + ErlangTerm(list))
		}
		if _, seen := d[k]; seen {
			dup = append(dup, k)
		}
		d[k] = kv[1]
	}
	if len(dup) > 0 {
		return nil, invalid(ErlangTerm(toAnys(dup)) + " duplicate keys not allowed")
	}
	return d, nil
}

func toAnys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// decodeJSON decodes one JSON value, numbers as int64 or float64.
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return numbers(v), nil
}

// numbers replaces json.Numbers in v by int64 or float64.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if !strings.ContainsAny(string(x), ".eE") {
			if n, err := x.Int64(); err == nil {
				return n
			}
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = numbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbers(x[k])
		}
	}
	return v
}

// JSON returns the definition as a compact JSON object, keys sorted, so
// that equal definitions encode to equal bytes.
func (d Definition) JSON() []byte {
	if d == nil {
		return []byte("{}")
	}
	b, err := json.Marshal(map[string]any(d))
	if err != nil {
		// Values come from JSON; only a float that is not finite fails.
		return []byte("{}")
	}
	return b
}

// Keys returns the definition's keys, sorted.
func (d Definition) Keys() []string { return slices.Sorted(maps.Keys(d)) }

// Int returns the value of key as an integer, if it is one.
func (d Definition) Int(key string) (int64, bool) {
	n, ok := d[key].(int64)
	return n, ok
}

// String returns the value of key as a string, if it is one.
func (d Definition) String(key string) (string, bool) {
	s, ok := d[key].(string)
	return s, ok
}

// ErlangTerm renders a JSON value as Erlang's ~tp prints the term
// RabbitMQ decodes it to, as its validation errors quote values: a
// string as a binary (<<"abc">>), numbers as Erlang prints them (1,
// 1.5), true, false, null, a list as [a,b], an object as a map
// (#{<<"k">> => v}, keys sorted).
func ErlangTerm(v any) string {
	var b strings.Builder
	writeTerm(&b, v)
	return b.String()
}

func writeTerm(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeTerm(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteString("#{")
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(protocol.ErlangTerm(k) + " => ")
			writeTerm(b, x[k])
		}
		b.WriteByte('}')
	case Definition:
		writeTerm(b, map[string]any(x))
	default:
		b.WriteString(protocol.ErlangTerm(x))
	}
}

// proplist renders the keys of d as Erlang's list of {Key,Value} tuples,
// as RabbitMQ names unrecognised settings.
func proplist(d Definition, keys []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("{" + protocol.ErlangTerm(k) + ",")
		writeTerm(&b, d[k])
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.String()
}
