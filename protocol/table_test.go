package protocol

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// everyTag holds one value of every field-table type.
func everyTag() Table {
	return Table{
		"t": true,
		"b": int8(-2),
		"B": uint8(200),
		"s": int16(-300),
		"u": uint16(60000),
		"I": int32(-70000),
		"i": uint32(4000000000),
		"l": int64(-1 << 40),
		"f": float32(1.5),
		"d": math.Pi,
		"D": Decimal{Scale: 2, Value: -12345},
		"S": "long string \x00 with NUL",
		"x": []byte{0, 1, 2, 255},
		"A": []any{int32(1), "two", []any{true}, Table{"k": nil}},
		"T": time.Unix(1700000000, 0).UTC(),
		"F": Table{"nested": Table{"deep": int64(1)}},
		"V": nil,
	}
}

func TestTableRoundTripEveryTag(t *testing.T) {
	in := everyTag()
	enc := AppendTable(nil, in)
	out, n, err := DecodeTable(enc)
	if err != nil {
		t.Fatalf("DecodeTable: %v", err)
	}
	if n != len(enc) {
		t.Fatalf("consumed %d of %d bytes", n, len(enc))
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip:\n got %#v\nwant %#v", out, in)
	}
	if again := AppendTable(nil, out); !bytes.Equal(again, enc) {
		t.Fatalf("re-encoding differs:\n%v\n%v", again, enc)
	}
}

// TestTableEncodingBytes checks every tag against bytes worked out by hand
// from the AMQP 0-9-1 spec and RabbitMQ's rabbit_binary_generator.
func TestTableEncodingBytes(t *testing.T) {
	tests := []struct {
		name  string
		value any
		want  []byte // the value, tag included
	}{
		{"bool true", true, []byte{'t', 1}},
		{"bool false", false, []byte{'t', 0}},
		{"int8", int8(-1), []byte{'b', 0xff}},
		{"uint8", uint8(0xfe), []byte{'B', 0xfe}},
		{"int16", int16(-2), []byte{'s', 0xff, 0xfe}},
		{"uint16", uint16(0x1234), []byte{'u', 0x12, 0x34}},
		{"int32", int32(-3), []byte{'I', 0xff, 0xff, 0xff, 0xfd}},
		{"uint32", uint32(0x01020304), []byte{'i', 1, 2, 3, 4}},
		{"int64", int64(0x0102030405060708), []byte{'l', 1, 2, 3, 4, 5, 6, 7, 8}},
		{"int as int64", int(-1), []byte{'l', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"float32", float32(1), []byte{'f', 0x3f, 0x80, 0, 0}},
		{"float64", float64(1), []byte{'d', 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}},
		{"decimal", Decimal{Scale: 3, Value: 1000}, []byte{'D', 3, 0, 0, 0x03, 0xe8}},
		{"longstr", "ab", []byte{'S', 0, 0, 0, 2, 'a', 'b'}},
		{"bytes", []byte{9}, []byte{'x', 0, 0, 0, 1, 9}},
		{"array", []any{uint8(7), "z"}, []byte{'A', 0, 0, 0, 8, 'B', 7, 'S', 0, 0, 0, 1, 'z'}},
		{"timestamp", time.Unix(0x01020304, 0), []byte{'T', 0, 0, 0, 0, 1, 2, 3, 4}},
		{"table", Table{"a": true}, []byte{'F', 0, 0, 0, 4, 1, 'a', 't', 1}},
		{"void", nil, []byte{'V'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendTable(nil, Table{"k": tt.value})
			want := append([]byte{0, 0, 0, byte(2 + len(tt.want)), 1, 'k'}, tt.want...)
			if !bytes.Equal(got, want) {
				t.Fatalf("got  %v\nwant %v", got, want)
			}
		})
	}
}

func TestTableKeysSorted(t *testing.T) {
	got := AppendTable(nil, Table{"b": nil, "a": nil, "c": nil})
	want := []byte{0, 0, 0, 9, 1, 'a', 'V', 1, 'b', 'V', 1, 'c', 'V'}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestTableDecodeRabbitTags checks tags RabbitMQ accepts that Warren never
// writes: L is a signed 64-bit integer as in rabbit_binary_parser.
func TestTableDecodeRabbitTags(t *testing.T) {
	in := []byte{0, 0, 0, 11, 1, 'k', 'L', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
	got, _, err := DecodeTable(in)
	if err != nil {
		t.Fatal(err)
	}
	if got["k"] != int64(-2) {
		t.Fatalf("got %#v, want int64(-2)", got["k"])
	}
}

func TestTableDecodeErrors(t *testing.T) {
	deep := Table{}
	cur := deep
	for range maxTableDepth + 2 {
		next := Table{}
		cur["n"] = next
		cur = next
	}
	// Hand-build nesting deeper than the encoder will write.
	inner := []byte{}
	for range maxTableDepth + 3 {
		entry := append([]byte{1, 'n', 'F'}, byte(len(inner)>>24), byte(len(inner)>>16), byte(len(inner)>>8), byte(len(inner)))
		inner = append(entry, inner...)
	}
	deepBytes := append([]byte{byte(len(inner) >> 24), byte(len(inner) >> 16), byte(len(inner) >> 8), byte(len(inner))}, inner...)

	tests := []struct {
		name string
		in   []byte
		text string
	}{
		{"short size", []byte{0, 0, 0}, "truncated field table size"},
		{"size beyond input", []byte{0, 0, 0, 9, 1, 'k', 'V'}, "field table size exceeds the input"},
		{"huge size", []byte{0xff, 0xff, 0xff, 0xff, 1, 'k', 'V'}, "field table size exceeds the input"},
		{"unknown tag", []byte{0, 0, 0, 3, 1, 'k', 'Z'}, "unknown field table type 'Z'"},
		{"key beyond table", []byte{0, 0, 0, 2, 5, 'k'}, "truncated field table entry"},
		{"truncated int", []byte{0, 0, 0, 4, 1, 'k', 'I', 0}, "truncated field value"},
		{"longstr beyond table", []byte{0, 0, 0, 8, 1, 'k', 'S', 0xff, 0xff, 0xff, 0xff, 'a'}, "field value size exceeds the input"},
		{"array with bad tag", []byte{0, 0, 0, 8, 1, 'k', 'A', 0, 0, 0, 1, '?'}, "unknown field table type '?'"},
		{"too deep", deepBytes, "field table nested too deeply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeTable(tt.in)
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError {
				t.Fatalf("got %v, want a FRAME_ERROR", err)
			}
			if !strings.HasSuffix(e.Text, tt.text) || !strings.HasPrefix(e.Text, "FRAME_ERROR - ") {
				t.Fatalf("text %q, want FRAME_ERROR - ...%s", e.Text, tt.text)
			}
		})
	}
	// The encoder stops at the same depth instead of recursing forever.
	if _, _, err := DecodeTable(AppendTable(nil, deep)); err != nil {
		t.Fatalf("encoder wrote a table its decoder rejects: %v", err)
	}
}

func TestTableValidate(t *testing.T) {
	if err := everyTag().Validate(); err != nil {
		t.Fatalf("every tag: %v", err)
	}
	err := Table{"ok": 1, "bad": []any{struct{}{}}}.Validate()
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Text, "'bad'") {
		t.Fatalf("got %v, want an error naming key 'bad'", err)
	}
}

// TestDecodeTableAllocatesOnlyWhatInputHolds makes sure a declared size
// larger than the input is refused rather than allocated.
func TestDecodeTableAllocatesOnlyWhatInputHolds(t *testing.T) {
	in := []byte{0, 0, 0, 10, 1, 'k', 'x', 0x7f, 0xff, 0xff, 0xff, 0, 0, 0}
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, err := DecodeTable(in); err == nil {
			t.Fatal("accepted a byte string larger than the input")
		}
	})
	if allocs > 3 {
		t.Fatalf("%v allocations to reject a tiny input", allocs)
	}
}
