package protocol

import (
	"math"
	"testing"
	"time"
)

type unsupported struct{}

func TestFieldTypeName(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "void"},
		{true, "bool"},
		{int8(-1), "byte"},
		{uint8(1), "unsignedbyte"},
		{int16(1), "short"},
		{uint16(1), "unsignedshort"},
		{int32(1), "signedint"},
		{uint32(1), "unsignedint"},
		{int64(1), "long"},
		{1, "long"},
		{float32(1), "float"},
		{1.0, "double"},
		{Decimal{Scale: 2, Value: 1}, "decimal"},
		{"s", "longstr"},
		{[]byte("x"), "binary"},
		{[]any{1}, "array"},
		{time.Unix(0, 0), "timestamp"},
		{Table{}, "table"},
		{map[string]any{}, "table"},
		{unsupported{}, "void"}, // encoded as V
	}
	for _, tt := range tests {
		if got := FieldTypeName(tt.v); got != tt.want {
			t.Errorf("FieldTypeName(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestIntValue(t *testing.T) {
	tests := []struct {
		v    any
		want int64
		ok   bool
	}{
		{int8(-128), -128, true},
		{uint8(255), 255, true},
		{int16(-32768), -32768, true},
		{uint16(65535), 65535, true},
		{int32(math.MinInt32), math.MinInt32, true},
		{uint32(math.MaxUint32), math.MaxUint32, true},
		{int64(math.MaxInt64), math.MaxInt64, true},
		{7, 7, true},
		{nil, 0, false},
		{true, 0, false},
		{1.0, 0, false},
		{float32(1), 0, false},
		{"1", 0, false},
		{[]byte("1"), 0, false},
		{Decimal{Value: 1}, 0, false},
		{time.Unix(1, 0), 0, false},
		{[]any{1}, 0, false},
		{Table{"a": 1}, 0, false},
	}
	for _, tt := range tests {
		got, ok := IntValue(tt.v)
		if got != tt.want || ok != tt.ok {
			t.Errorf("IntValue(%#v) = %d, %v, want %d, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}

func TestErlangTerm(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		// void, and what is encoded as void
		{nil, "undefined"},
		{unsupported{}, "undefined"},
		{true, "true"},
		{false, "false"},
		// integers
		{int8(-7), "-7"},
		{uint8(200), "200"},
		{int16(-300), "-300"},
		{uint16(60000), "60000"},
		{int32(-70000), "-70000"},
		{uint32(4000000000), "4000000000"},
		{int64(-7), "-7"},
		{42, "42"},
		// floats, io_lib_format:fwrite_g/1 (OTP 24+)
		{1.5, "1.5"},
		{100.0, "100.0"},
		{1000.0, "1.0e3"},
		{2500.0, "2.5e3"},
		{0.5, "0.5"},
		{0.001, "0.001"},
		{0.0001, "1.0e-4"},
		{1e-10, "1.0e-10"},
		{1.5e-7, "1.5e-7"},
		{-3.0, "-3.0"},
		{0.0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1.0, "1.0"},
		{1e21, "1.0e21"},
		{123456.0, "123456.0"},
		{1234567.0, "1234567.0"},
		{12345678.0, "12345678.0"},
		{123456789.0, "123456789.0"},
		{1e15, "1.0e15"},
		{1234567890123456.0, "1234567890123456.0"},
		{9007199254740991.0, "9007199254740991.0"},   // 2^53-1
		{9007199254740992.0, "9.007199254740992e15"}, // 2^53 and up: exponent form
		{-1e300, "-1.0e300"},
		{5e-324, "5.0e-324"},
		{0.00012, "1.2e-4"},
		{0.0012, "0.0012"},
		{12.5, "12.5"},
		{math.Inf(1), "+Inf"}, // not an Erlang float
		{1e9, "1.0e9"},
		{0.1, "0.1"},
		{float32(1.5), "1.5"},
		{float32(0.1), "0.10000000149011612"}, // read as a double
		// decimals: {Scale, Value}, the value unsigned as RabbitMQ reads it
		{Decimal{Scale: 2, Value: 314}, "{2,314}"},
		{Decimal{Scale: 0, Value: -1}, "{0,4294967295}"},
		// timestamps: seconds
		{time.Unix(42, 0), "42"},
		{time.Unix(42, 999), "42"},
		// binaries, io_lib_pretty
		{"", "<<>>"},
		{[]byte{}, "<<>>"},
		{"abc", `<<"abc">>`},
		{[]byte("abc"), `<<"abc">>`},
		{"héllo", `<<"héllo"/utf8>>`},
		{"a\nb", `<<"a\nb">>`},
		{"q\"\\\r\t\v\b\f\x1b", `<<"q\"\\\r\t\v\b\f\e">>`},
		{[]byte{1, 2, 255}, `<<1,2,255>>`},
		{"\x7f", `<<127>>`},
		{"日本", `<<230,151,165,230,156,172>>`},       // beyond latin1
		{"\u0080", `<<194,128>>`},                   // a C1 control
		{[]byte{'c', 'a', 'f', 0xe9}, `<<"café">>`}, // not UTF-8: latin1
		{[]byte{'a', 0xe9, 0x81}, `<<97,233,129>>`},
		// arrays and tables
		{[]any{}, "[]"},
		{[]any{int32(1), "a"}, `[{signedint,1},{longstr,<<"a">>}]`},
		{[]any{nil, []any{true}}, `[{void,undefined},{array,[{bool,true}]}]`},
		{Table{}, "[]"},
		{Table{"b": false, "a": uint8(1)}, `[{<<"a">>,unsignedbyte,1},{<<"b">>,bool,false}]`},
		{map[string]any{"k": Table{"n": 1.0}}, `[{<<"k">>,table,[{<<"n">>,double,1.0}]}]`},
		{Table{"é": []byte{0}}, `[{<<"é"/utf8>>,binary,<<0>>}]`},
	}
	for _, tt := range tests {
		if got := ErlangTerm(tt.v); got != tt.want {
			t.Errorf("ErlangTerm(%#v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestErlangText(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"reject-publish", "reject-publish"},
		{[]byte("b"), "b"},
		{"héllo", "héllo"},
		{"a\nb", "a\nb"},
		{[]byte{'c', 'a', 'f', 0xe9}, "café"}, // not UTF-8: latin1
		{"", ""},
		{int32(2000), "2000"},
		{1000.0, "1.0e3"},
		{false, "false"},
		{nil, "undefined"},
		{[]any{"a"}, `[{longstr,<<"a">>}]`},
		{Table{"a": "b"}, `[{<<"a">>,longstr,<<"b">>}]`},
	}
	for _, tt := range tests {
		if got := ErlangText(tt.v); got != tt.want {
			t.Errorf("ErlangText(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}
