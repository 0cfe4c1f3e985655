package exchange

import (
	"bytes"
	"math"
	"sort"
	"strings"

	"github.com/warrenmq/warren/protocol"
)

// A headers exchange matches the arguments of each binding against the
// headers of the message, as RabbitMQ 4.x's rabbit_exchange_type_headers
// does:
//
//   - x-match "all" (the default) needs every binding argument to match,
//     "any" needs one. Arguments whose names start with "x-" take no part,
//     unless x-match is "all-with-x" or "any-with-x"; then only x-match
//     itself is left out.
//   - An argument whose value is void (nil) matches when the header is
//     present, whatever its value.
//   - Otherwise the header must equal the argument exactly (Erlang's =:=
//     on the decoded values): integers of any width are equal when their
//     values are, floats equal floats with the same value, an integer
//     never equals a float, a string equals a byte array with the same
//     bytes, and tables and arrays must agree field by field, type tags
//     included.
//
// One deliberate difference: RabbitMQ 4.x scales timestamp headers to
// milliseconds before comparing them with the binding's seconds, so a
// timestamp argument never matches a timestamp header. Warren matches a
// timestamp with a timestamp of the same second.

// headerEntry is one binding argument that takes part in matching.
type headerEntry struct {
	key   string
	value any // nil: the header only has to be present
}

// headersMatcher is a headers binding's arguments, prepared for routing.
type headersMatcher struct {
	any     bool
	entries []headerEntry
}

// newHeadersMatcher prepares args, which validateXMatch has accepted.
func newHeadersMatcher(args protocol.Table) *headersMatcher {
	m := &headersMatcher{}
	withX := false
	if s, ok := args["x-match"].(string); ok {
		switch s {
		case "any":
			m.any = true
		case "any-with-x":
			m.any, withX = true, true
		case "all-with-x":
			withX = true
		}
	}
	for k, v := range args {
		if k == "x-match" || (!withX && strings.HasPrefix(k, "x-")) {
			continue
		}
		m.entries = append(m.entries, headerEntry{key: k, value: v})
	}
	sort.Slice(m.entries, func(i, j int) bool { return m.entries[i].key < m.entries[j].key })
	return m
}

// matches reports whether a message with headers h follows the binding.
func (m *headersMatcher) matches(h protocol.Table) bool {
	if m.any {
		for i := range m.entries {
			e := &m.entries[i]
			if v, ok := h[e.key]; ok && (e.value == nil || headerEqual(e.value, v)) {
				return true
			}
		}
		return false
	}
	for i := range m.entries {
		e := &m.entries[i]
		v, ok := h[e.key]
		if !ok || (e.value != nil && !headerEqual(e.value, v)) {
			return false
		}
	}
	return true
}

// ValidateBindingArgs checks the arguments of a binding from an exchange
// of kind as Bind does, so that a caller can decide before binding: a
// headers binding with a bad x-match fails with 406 as in RabbitMQ.
func ValidateBindingArgs(kind Kind, args protocol.Table) error {
	if kind == Headers {
		return validateXMatch(args)
	}
	return nil
}

// validateXMatch checks a headers binding's x-match argument the way
// RabbitMQ does when the binding is added: it must be absent or one of the
// four strings, or the bind fails with 406 PRECONDITION_FAILED.
func validateXMatch(args protocol.Table) error {
	v, ok := args["x-match"]
	if !ok {
		return nil
	}
	if s, isString := v.(string); isString {
		switch s {
		case "all", "any", "all-with-x", "any-with-x":
			return nil
		}
		return protocol.NewError(protocol.PreconditionFailed,
			"Invalid x-match field value %s; expected all, any, all-with-x, or any-with-x",
			protocol.ErlangTerm(s))
	}
	return protocol.NewError(protocol.PreconditionFailed,
		"Invalid x-match field type %s (value %s); expected longstr",
		protocol.FieldTypeName(v), protocol.ErlangTerm(v))
}

// headerEqual compares a binding argument with a message header at the top
// level of the table, where RabbitMQ drops the type tags and compares the
// bare values.
func headerEqual(p, d any) bool {
	switch pv := p.(type) {
	case string:
		switch dv := d.(type) {
		case string:
			return pv == dv
		case []byte:
			return pv == string(dv)
		}
		return false
	case []byte:
		switch dv := d.(type) {
		case string:
			return string(pv) == dv
		case []byte:
			return bytes.Equal(pv, dv)
		}
		return false
	case float32:
		return floatEqual(float64(pv), d)
	case float64:
		return floatEqual(pv, d)
	}
	if pi, ok := protocol.IntValue(p); ok {
		di, ok := protocol.IntValue(d)
		return ok && pi == di
	}
	return typedEqual(p, d)
}

func floatEqual(p float64, d any) bool {
	switch dv := d.(type) {
	case float32:
		return math.Float64bits(p) == math.Float64bits(float64(dv))
	case float64:
		return math.Float64bits(p) == math.Float64bits(dv)
	}
	return false
}
