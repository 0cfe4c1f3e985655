package protocol

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// RabbitMQ's error texts often print a field value, or its type, the way
// Erlang prints the term rabbit_binary_parser decodes it to. The functions
// below reproduce that for every value a Table can hold, so that Warren's
// texts read like RabbitMQ's. They run only when an error is built.
//
// Known limits: ~tp breaks a term longer than a line (80 columns) over
// several lines, which ErlangTerm does not; and the wire order of a table's
// fields is lost in a Table, so tables print in sorted key order.

// FieldTypeName returns the name RabbitMQ gives the field-table type of v
// (rabbit_binary_parser), as it appears in error texts: "longstr",
// "signedint", "bool" and so on. nil, and any value a Table cannot carry
// (which encoding writes as V), is "void".
func FieldTypeName(v any) string {
	switch v.(type) {
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
	case Decimal:
		return "decimal"
	case string:
		return "longstr"
	case []byte:
		return "binary"
	case []any:
		return "array"
	case time.Time:
		return "timestamp"
	case Table, map[string]any:
		return "table"
	}
	return "void"
}

// IntValue returns v as an int64 when it is one of the integer types a
// field table carries (RabbitMQ's byte, short, signedint, long and their
// unsigned forms, and a Go int).
func IntValue(v any) (int64, bool) {
	switch n := v.(type) {
	case int8:
		return int64(n), true
	case uint8:
		return int64(n), true
	case int16:
		return int64(n), true
	case uint16:
		return int64(n), true
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

// ErlangTerm formats the field value v as Erlang's ~tp prints the term
// RabbitMQ decodes it to: integers in decimal, floats in shortest
// round-trip form ("1.0e3"), strings and byte strings as binaries
// (<<"abc">>, <<"héllo"/utf8>>, <<1,2,3>>), void as undefined, a decimal as
// {Scale,Value}, a timestamp as its seconds, an array as [{Type,Value},…]
// and a table as [{<<"Key">>,Type,Value},…] in key order.
func ErlangTerm(v any) string {
	var b strings.Builder
	writeTerm(&b, v)
	return b.String()
}

// ErlangText formats the field value v as rabbit_misc:val/1 prints it
// between its quotes: a longstr or binary bare, as ~ts prints a binary,
// and any other value as ErlangTerm does.
func ErlangText(v any) string {
	switch x := v.(type) {
	case string:
		return bareBinary(x)
	case []byte:
		return bareBinary(string(x))
	}
	return ErlangTerm(v)
}

func writeTerm(b *strings.Builder, v any) {
	if n, ok := IntValue(v); ok {
		b.WriteString(strconv.FormatInt(n, 10))
		return
	}
	switch x := v.(type) {
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case float32:
		writeFloat(b, float64(x))
	case float64:
		writeFloat(b, x)
	case Decimal:
		// rabbit_binary_parser reads the value as unsigned.
		b.WriteString("{" + strconv.Itoa(int(x.Scale)) + "," +
			strconv.FormatUint(uint64(uint32(x.Value)), 10) + "}")
	case string:
		writeBinary(b, x)
	case []byte:
		writeBinary(b, string(x))
	case time.Time:
		// Seconds, read as unsigned like the wire's 64 bits.
		b.WriteString(strconv.FormatUint(uint64(x.Unix()), 10))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("{" + FieldTypeName(e) + ",")
			writeTerm(b, e)
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case Table:
		writeTable(b, x)
	case map[string]any:
		writeTable(b, x)
	default: // nil and anything encoded as void
		b.WriteString("undefined")
	}
}

func writeTable(b *strings.Builder, t map[string]any) {
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
		b.WriteByte('{')
		writeBinary(b, k)
		b.WriteString("," + FieldTypeName(t[k]) + ",")
		writeTerm(b, t[k])
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

// writeFloat writes f as Erlang prints a float (io_lib_format:fwrite_g/1
// of OTP 24 and later): the shortest digits that read back as f, in plain
// form (1.5, 100.0, 0.001) unless the exponent form is shorter (1.0e3,
// 1.0e-4) or |f| is at least 2^53. Erlang has no infinities or NaN
// (RabbitMQ cannot decode them); those print as Go spells them.
func writeFloat(b *strings.Builder, f float64) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		b.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
		return
	}
	if math.Signbit(f) {
		b.WriteByte('-')
		f = -f
	}
	if f == 0 {
		b.WriteString("0.0")
		return
	}
	mant, expStr, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expStr) // f = d.ddd × 10^exp
	n := len(digits)
	place := exp - n + 1 // f = digits × 10^place
	expL := strconv.Itoa(exp)
	expCost := len(expL) + 2
	switch {
	case place < 0 && exp >= 0:
		b.WriteString(digits[:n+place] + "." + digits[n+place:])
		return
	case place < 0 && 2-place-n <= expCost:
		b.WriteString("0." + strings.Repeat("0", -place-n) + digits)
		return
	case place >= 0 && f < 1<<53:
		dot := 0
		if n == 1 {
			dot = 1
		}
		if expCost+dot >= place+2 {
			b.WriteString(digits + strings.Repeat("0", place) + ".0")
			return
		}
	}
	if n == 1 {
		b.WriteString(digits + ".0e" + expL)
	} else {
		b.WriteString(digits[:1] + "." + digits[1:] + "e" + expL)
	}
}

// printable reports whether io_lib_pretty counts c as printable in
// RabbitMQ's default printable range (latin1: RabbitMQ does not start
// Erlang with +pc unicode).
func printable(c rune) bool {
	return c >= ' ' && c <= '~' || c >= 0xA0 && c <= 0xFF ||
		strings.ContainsRune("\n\r\t\v\b\f\x1b", c)
}

// writeBinary writes s as ~tp prints a binary (io_lib_pretty): <<"text">>
// when it is printable ASCII, <<"text"/utf8>> when it is UTF-8 whose
// characters are all printable latin1, <<"text">> when it is not UTF-8 but
// every byte is a printable latin1 character, and <<1,2,3>> otherwise.
func writeBinary(b *strings.Builder, s string) {
	if s == "" {
		b.WriteString("<<>>")
		return
	}
	if utf8.ValidString(s) {
		ascii, ok := true, true
		for _, r := range s {
			ascii = ascii && r < utf8.RuneSelf
			ok = ok && printable(r)
		}
		if ok {
			b.WriteString("<<")
			writeString(b, []rune(s))
			if !ascii {
				b.WriteString("/utf8")
			}
			b.WriteString(">>")
			return
		}
	} else if latin1 := latin1Runes(s); !slices.ContainsFunc(latin1, func(r rune) bool { return !printable(r) }) {
		b.WriteString("<<")
		writeString(b, latin1)
		b.WriteString(">>")
		return
	}
	b.WriteString("<<")
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(s[i])))
	}
	b.WriteString(">>")
}

// writeString writes rs quoted as io_lib:write_string/2 does.
func writeString(b *strings.Builder, rs []rune) {
	b.WriteByte('"')
	for _, r := range rs {
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
	b.WriteByte('"')
}

// bareBinary is s as ~ts prints a binary: its characters when s is UTF-8,
// else its bytes read as latin1.
func bareBinary(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(latin1Runes(s))
}

func latin1Runes(s string) []rune {
	rs := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		rs[i] = rune(s[i])
	}
	return rs
}
