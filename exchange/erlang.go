package exchange

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/warrenmq/warren/protocol"
)

// RabbitMQ's error texts sometimes print a field value or its type the way
// Erlang prints terms (~tp). These helpers reproduce that for the values a
// field table can hold, so Warren's texts read like RabbitMQ's. They run
// only when an error is built, never while routing.

// erlangType returns the name RabbitMQ gives the field type of v
// (rabbit_binary_parser), such as "longstr" or "signedint".
func erlangType(v any) string {
	switch v.(type) {
	case nil:
		return "void"
	case bool:
		return "bool"
	case int8:
		return "byte"
	case uint8:
		return "unsignedbyte"
	case int16:
		return "short"
	case uint16:
		return "unsignedshort"
	case int32:
		return "signedint"
	case uint32:
		return "unsignedint"
	case int64, int:
		return "long"
	case float32:
		return "float"
	case float64:
		return "double"
	case string:
		return "longstr"
	case []byte:
		return "binary"
	case []any:
		return "array"
	case time.Time:
		return "timestamp"
	case protocol.Decimal:
		return "decimal"
	case protocol.Table:
		return "table"
	}
	return "unknown"
}

// erlangTerm formats the decoded value of a field as Erlang's ~tp would.
func erlangTerm(v any) string {
	var b strings.Builder
	writeTerm(&b, v)
	return b.String()
}

func writeTerm(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("undefined")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		writeBinary(b, x)
	case []byte:
		writeBinary(b, string(x))
	case float32:
		writeFloat(b, float64(x))
	case float64:
		writeFloat(b, x)
	case time.Time:
		b.WriteString(strconv.FormatInt(x.Unix(), 10))
	case protocol.Decimal:
		b.WriteString("{")
		b.WriteString(strconv.FormatUint(uint64(x.Scale), 10))
		b.WriteString(",")
		b.WriteString(strconv.FormatInt(int64(x.Value), 10))
		b.WriteString("}")
	case protocol.Table:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("[")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("{")
			writeBinary(b, k)
			b.WriteString(",")
			b.WriteString(erlangType(x[k]))
			b.WriteString(",")
			writeTerm(b, x[k])
			b.WriteString("}")
		}
		b.WriteString("]")
	case []any:
		b.WriteString("[")
		for i, e := range x {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("{")
			b.WriteString(erlangType(e))
			b.WriteString(",")
			writeTerm(b, e)
			b.WriteString("}")
		}
		b.WriteString("]")
	default:
		if i, ok := intValue(v); ok {
			b.WriteString(strconv.FormatInt(i, 10))
			return
		}
		b.WriteString("undefined")
	}
}

// writeFloat prints a float as Erlang's shortest form does: always with a
// fraction, "1.0e10" rather than "1e+10".
func writeFloat(b *strings.Builder, f float64) {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	mant, exp, hasExp := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	b.WriteString(mant)
	if hasExp {
		exp = strings.TrimPrefix(exp, "+")
		neg := strings.HasPrefix(exp, "-")
		exp = strings.TrimLeft(strings.TrimPrefix(exp, "-"), "0")
		b.WriteString("e")
		if neg {
			b.WriteString("-")
		}
		b.WriteString(exp)
	}
}

// writeBinary prints bytes as an Erlang binary: <<"text">> when printable,
// <<"text"/utf8>> when printable only as UTF-8, else <<1,2,3>>.
func writeBinary(b *strings.Builder, s string) {
	if s == "" {
		b.WriteString("<<>>")
		return
	}
	ascii, printable := true, utf8.ValidString(s)
	for _, r := range s {
		if r >= utf8.RuneSelf {
			ascii = false
		}
		if !unicode.IsPrint(r) && !strings.ContainsRune("\n\r\t\v\b\f\x1b", r) {
			printable = false
		}
	}
	if !printable {
		b.WriteString("<<")
		for i := 0; i < len(s); i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.Itoa(int(s[i])))
		}
		b.WriteString(">>")
		return
	}
	b.WriteString(`<<"`)
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\v':
			b.WriteString(`\v`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\x1b':
			b.WriteString(`\e`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"`)
	if !ascii {
		b.WriteString("/utf8")
	}
	b.WriteString(">>")
}
