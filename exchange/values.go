package exchange

import (
	"bytes"
	"math"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// typedEqual compares two field values including their types, as RabbitMQ
// compares values nested in tables and arrays, and binding arguments.
func typedEqual(a, b any) bool {
	switch av := a.(type) {
	case nil:
		return b == nil
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case []byte:
		bv, ok := b.([]byte)
		return ok && bytes.Equal(av, bv)
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case float32:
		bv, ok := b.(float32)
		return ok && math.Float32bits(av) == math.Float32bits(bv)
	case float64:
		bv, ok := b.(float64)
		return ok && math.Float64bits(av) == math.Float64bits(bv)
	case time.Time:
		// AMQP timestamps carry whole seconds.
		bv, ok := b.(time.Time)
		return ok && av.Unix() == bv.Unix()
	case protocol.Table:
		bv, ok := b.(protocol.Table)
		return ok && tablesEqual(av, bv)
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !typedEqual(av[i], bv[i]) {
				return false
			}
		}
		return true
	case int8, uint8, int16, uint16, int32, uint32, int64, int, protocol.Decimal:
		// Comparable values: equal interfaces have the same dynamic
		// type and value.
		return a == b
	}
	return false
}

// tablesEqual compares two tables field by field with their types; a nil
// table equals an empty one.
func tablesEqual(a, b protocol.Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok || !typedEqual(av, bv) {
			return false
		}
	}
	return true
}
