package mgmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/protocol"
)

// fields is a request body's keys, read as rabbit_mgmt_util reads a
// method's properties from it (props_to_method, format_accept_content).
type fields map[string]json.RawMessage

// fields decodes the request's JSON object (an empty body is {}).
func (r *request) fields() (fields, *apiError) {
	f := fields{}
	if err := r.decode(&f); err != nil {
		return nil, err
	}
	return f, nil
}

// has reports whether key is given with a value other than null.
func (f fields) has(key string) bool { return present(f[key]) }

// require answers RabbitMQ's key_missing refusal for the keys not given.
func (f fields) require(keys ...string) *apiError {
	var miss []string
	for _, k := range keys {
		if !f.has(k) {
			miss = append(miss, k)
		}
	}
	if miss != nil {
		return missing(miss...)
	}
	return nil
}

// term is a value as Erlang prints it, for refusals.
func (f fields) term(key string) string {
	var v any
	json.Unmarshal(f[key], &v)
	return policy.ErlangTerm(v)
}

// value is key's JSON value, decoded.
func (f fields) value(key string) any {
	var v any
	json.Unmarshal(f[key], &v)
	return v
}

// tuple is a refusal whose reason is an Erlang tuple, which RabbitMQ
// writes as a JSON list: {not_boolean,<<"yes">>} is ["not_boolean","yes"].
func tuple(elems ...any) *apiError { return badRequest(elems) }

// boolean reads key as parse_bool does: true, false, "true" or "false";
// absent is false.
func (f fields) boolean(key string) (bool, *apiError) {
	if !f.has(key) {
		return false, nil
	}
	switch string(f[key]) {
	case "true", `"true"`:
		return true, nil
	case "false", `"false"`:
		return false, nil
	}
	return false, tuple("not_boolean", f.value(key))
}

// str reads key as a string, def when absent.
func (f fields) str(key, def string) (string, *apiError) {
	if !f.has(key) {
		return def, nil
	}
	var s string
	if json.Unmarshal(f[key], &s) != nil {
		return "", badRequest(fmt.Sprintf("%s should be a string, actually was %s", key, f.term(key)))
	}
	return s, nil
}

// integer reads key as parse_int does: a number or a string of one.
func (f fields) integer(key string) (int64, *apiError) {
	raw := bytes.Trim(f[key], `"`)
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, tuple("not_integer", f.value(key))
	}
	return n, nil
}

// table reads key as AMQP arguments: a JSON object (absent is none).
func (f fields) table(key string) (amqp.Table, *apiError) {
	if !f.has(key) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(f[key]))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return nil, badRequest(fmt.Sprintf("%s should be an object, actually was %s", key, f.term(key)))
	}
	return toTable(m), nil
}

// toTable turns decoded JSON into an AMQP table: integers are long
// integers, other numbers doubles, objects nested tables.
func toTable(m map[string]any) amqp.Table {
	t := make(amqp.Table, len(m))
	for k, v := range m {
		t[k] = toAMQP(v)
	}
	return t
}

func toAMQP(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		return toTable(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toAMQP(e)
		}
		return out
	}
	return v
}

// tableOf is an amqp091 table as the broker's protocol.Table, to name
// a binding by its arguments as the broker lists it.
func tableOf(t amqp.Table) protocol.Table {
	if len(t) == 0 {
		return nil
	}
	out := make(protocol.Table, len(t))
	for k, v := range t {
		out[k] = fromAMQPValue(v)
	}
	return out
}

func fromAMQPValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return tableOf(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromAMQPValue(e)
		}
		return out
	case amqp.Decimal:
		return protocol.Decimal{Scale: x.Scale, Value: x.Value}
	}
	return v
}

// amqpTable is a broker table as amqp091 sends it (unsigned integers
// as the signed type that holds them).
func amqpTable(t protocol.Table) amqp.Table {
	if len(t) == 0 {
		return nil
	}
	out := make(amqp.Table, len(t))
	for k, v := range t {
		out[k] = toAMQPValue(v)
	}
	return out
}

func toAMQPValue(v any) any {
	switch x := v.(type) {
	case protocol.Table:
		return amqpTable(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toAMQPValue(e)
		}
		return out
	case protocol.Decimal:
		return amqp.Decimal{Scale: x.Scale, Value: x.Value}
	case uint16:
		return int32(x)
	case uint32:
		return int64(x)
	}
	return v
}
