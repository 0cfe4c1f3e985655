package protocol

import (
	"math"
	"slices"
	"strconv"
	"time"
)

// Table is an AMQP field table. Values use RabbitMQ's type tags:
//
//	t bool           b int8      B uint8     s int16    u uint16
//	I int32          i uint32    l int64     f float32  d float64
//	D Decimal        S string    x []byte    A []any    T time.Time
//	F Table          V nil
//
// A Go int is encoded as l (int64) for convenience, and a map[string]any as
// F; on decoding, L (which RabbitMQ also reads as a signed 64-bit integer)
// becomes int64. A value of any other Go type is encoded as V (void); use
// Validate to reject such tables first. Decoding returns exactly the values
// encoding was given, except that int becomes int64, map[string]any becomes
// Table, and an empty nested table or array decodes as a nil Table or nil
// []any.
type Table map[string]any

// Decimal is an AMQP decimal value: Value × 10^-Scale.
type Decimal struct {
	Scale uint8
	Value int32
}

// maxTableDepth bounds nesting of tables and arrays, so that hostile input
// cannot recurse deeply; RabbitMQ sets no bound, but no real client nests
// anywhere near this deep.
const maxTableDepth = 64

// Validate reports an error naming the first key (in sorted order) whose
// value has a type a field table cannot carry, looking inside nested tables
// and arrays.
func (t Table) Validate() error {
	return validateTable(t, 0)
}

func validateTable(t Table, depth int) error {
	if depth > maxTableDepth {
		return NewError(InternalError, "field table nested deeper than %d", maxTableDepth)
	}
	for _, k := range sortedKeys(t) {
		if len(k) > 255 {
			return NewError(InternalError, "field table key longer than 255 bytes")
		}
		if err := validateValue(k, t[k], depth); err != nil {
			return err
		}
	}
	return nil
}

func validateValue(key string, v any, depth int) error {
	switch v := v.(type) {
	case nil, bool, int8, uint8, int16, uint16, int32, uint32, int64, int,
		float32, float64, Decimal, string, []byte, time.Time:
		return nil
	case Table:
		return validateTable(v, depth+1)
	case map[string]any:
		return validateTable(Table(v), depth+1)
	case []any:
		if depth+1 > maxTableDepth {
			return NewError(InternalError, "field table nested deeper than %d", maxTableDepth)
		}
		for _, e := range v {
			if err := validateValue(key, e, depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return NewError(InternalError, "field table value for key '%s' has unsupported type %T", key, v)
	}
}

func sortedKeys(t Table) []string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AppendTable appends t as a field table (32-bit size, then entries) to b,
// with keys in sorted order so that equal tables encode to equal bytes.
func AppendTable(b []byte, t Table) []byte {
	return appendTable(b, t, 0)
}

func appendTable(b []byte, t Table, depth int) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	if len(t) > 0 {
		var small [16]string
		keys := small[:0]
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendShortstr(b, k)
			b = appendFieldValue(b, t[k], depth)
		}
	}
	n := uint32(len(b) - start - 4)
	b[start], b[start+1], b[start+2], b[start+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return b
}

func appendFieldValue(b []byte, v any, depth int) []byte {
	switch v := v.(type) {
	case bool:
		if v {
			return append(b, 't', 1)
		}
		return append(b, 't', 0)
	case int8:
		return append(b, 'b', byte(v))
	case uint8:
		return append(b, 'B', v)
	case int16:
		return appendUint16(append(b, 's'), uint16(v))
	case uint16:
		return appendUint16(append(b, 'u'), v)
	case int32:
		return appendUint32(append(b, 'I'), uint32(v))
	case uint32:
		return appendUint32(append(b, 'i'), v)
	case int64:
		return appendUint64(append(b, 'l'), uint64(v))
	case int:
		return appendUint64(append(b, 'l'), uint64(int64(v)))
	case float32:
		return appendUint32(append(b, 'f'), math.Float32bits(v))
	case float64:
		return appendUint64(append(b, 'd'), math.Float64bits(v))
	case Decimal:
		return appendUint32(append(b, 'D', v.Scale), uint32(v.Value))
	case string:
		return appendLongstr(append(b, 'S'), v)
	case []byte:
		b = appendUint32(append(b, 'x'), uint32(len(v)))
		return append(b, v...)
	case time.Time:
		return appendUint64(append(b, 'T'), uint64(v.Unix()))
	case Table:
		if depth >= maxTableDepth {
			return append(b, 'V')
		}
		return appendTable(append(b, 'F'), v, depth+1)
	case map[string]any:
		if depth >= maxTableDepth {
			return append(b, 'V')
		}
		return appendTable(append(b, 'F'), Table(v), depth+1)
	case []any:
		if depth >= maxTableDepth {
			return append(b, 'V')
		}
		b = append(b, 'A')
		start := len(b)
		b = append(b, 0, 0, 0, 0)
		for _, e := range v {
			b = appendFieldValue(b, e, depth+1)
		}
		n := uint32(len(b) - start - 4)
		b[start], b[start+1], b[start+2], b[start+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return b
	default:
		return append(b, 'V')
	}
}

// DecodeTable decodes a field table (32-bit size, then entries) from the
// start of b and returns it with the number of bytes consumed. An empty
// table decodes as nil. Errors are *Error with code FrameError.
func DecodeTable(b []byte) (Table, int, error) {
	if len(b) < 4 {
		return nil, 0, tableError("truncated field table size")
	}
	n := int64(getUint32(b))
	if int64(len(b)-4) < n {
		return nil, 0, tableError("field table size exceeds the input")
	}
	t, err := decodeTableBody(b[4:4+int(n)], 0)
	if err != nil {
		return nil, 0, err
	}
	return t, 4 + int(n), nil
}

func tableError(msg string) *Error {
	return &Error{Code: FrameError, Text: "FRAME_ERROR - " + msg}
}

// decodeTableBody decodes the entries of a table whose size is len(b).
func decodeTableBody(b []byte, depth int) (Table, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if depth > maxTableDepth {
		return nil, tableError("field table nested too deeply")
	}
	t := make(Table)
	for len(b) > 0 {
		kn := int(b[0])
		if len(b) < 1+kn+1 {
			return nil, tableError("truncated field table entry")
		}
		key := string(b[1 : 1+kn])
		v, n, err := decodeFieldValue(b[1+kn:], depth)
		if err != nil {
			return nil, err
		}
		t[key] = v
		b = b[1+kn+n:]
	}
	return t, nil
}

func decodeArray(b []byte, depth int) ([]any, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if depth > maxTableDepth {
		return nil, tableError("field array nested too deeply")
	}
	var a []any
	for len(b) > 0 {
		v, n, err := decodeFieldValue(b, depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		b = b[n:]
	}
	return a, nil
}

// fixedSizes holds the size of the value that follows each fixed-width tag.
var fixedSizes = [256]int8{
	't': 1, 'b': 1, 'B': 1, 's': 2, 'u': 2, 'I': 4, 'i': 4,
	'l': 8, 'L': 8, 'f': 4, 'd': 8, 'D': 5, 'T': 8, 'V': 0,
}

// decodeFieldValue decodes one tagged value from the start of b and returns
// it with the number of bytes consumed (tag included).
func decodeFieldValue(b []byte, depth int) (any, int, error) {
	if len(b) == 0 {
		return nil, 0, tableError("truncated field value")
	}
	tag := b[0]
	switch tag {
	case 'S', 'x', 'F', 'A':
		if len(b) < 5 {
			return nil, 0, tableError("truncated field value")
		}
		n := int64(getUint32(b[1:]))
		if int64(len(b)-5) < n {
			return nil, 0, tableError("field value size exceeds the input")
		}
		v := b[5 : 5+int(n)]
		switch tag {
		case 'S':
			return string(v), 5 + int(n), nil
		case 'x':
			return slices.Clone(v), 5 + int(n), nil
		case 'F':
			t, err := decodeTableBody(v, depth+1)
			return t, 5 + int(n), err
		default:
			a, err := decodeArray(v, depth+1)
			return a, 5 + int(n), err
		}
	}
	size := int(fixedSizes[tag])
	if size == 0 && tag != 'V' {
		return nil, 0, unknownTag(tag)
	}
	if len(b) < 1+size {
		return nil, 0, tableError("truncated field value")
	}
	v := b[1:]
	switch tag {
	case 't':
		return v[0] != 0, 2, nil
	case 'b':
		return int8(v[0]), 2, nil
	case 'B':
		return v[0], 2, nil
	case 's':
		return int16(getUint16(v)), 3, nil
	case 'u':
		return getUint16(v), 3, nil
	case 'I':
		return int32(getUint32(v)), 5, nil
	case 'i':
		return getUint32(v), 5, nil
	case 'l', 'L':
		return int64(getUint64(v)), 9, nil
	case 'f':
		return math.Float32frombits(getUint32(v)), 5, nil
	case 'd':
		return math.Float64frombits(getUint64(v)), 9, nil
	case 'D':
		return Decimal{Scale: v[0], Value: int32(getUint32(v[1:]))}, 6, nil
	case 'T':
		return time.Unix(int64(getUint64(v)), 0).UTC(), 9, nil
	default: // 'V'
		return nil, 1, nil
	}
}

// unknownTag reports a type tag neither AMQP nor RabbitMQ defines, quoting
// it when printable and giving its number otherwise.
func unknownTag(tag byte) *Error {
	if tag >= 0x21 && tag <= 0x7e {
		return tableError("unknown field table type '" + string(rune(tag)) + "'")
	}
	return tableError("unknown field table type " + strconv.Itoa(int(tag)))
}
