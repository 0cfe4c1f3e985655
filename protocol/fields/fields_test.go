package fields

import (
	"errors"
	"testing"
)

var errTest = errors.New("test: corrupt")

// TestRoundTrip: every field reads back as written, and End finds nothing
// left over.
func TestRoundTrip(t *testing.T) {
	var w Writer
	w.Uvarint(1 << 40)
	w.Varint(-5)
	w.Str("héllo")
	w.Byte(7)
	w.Flags(true, false, true)
	w.Uvarint(1) // a count of one element, which follows
	w.Byte(9)
	r := Reader{B: w.B, Corrupt: errTest}
	var a, b, c bool
	u, v, s, by := r.Uvarint(), r.Varint(), r.Str(), r.Byte()
	r.Flags(&a, &b, &c)
	n, elem := r.Count(), r.Byte()
	if err := r.End(); err != nil || u != 1<<40 || v != -5 || s != "héllo" || by != 7 || !a || b || !c || n != 1 || elem != 9 {
		t.Fatalf("read %d %d %q %d %v %v %v %d, %v", u, v, s, by, a, b, c, n, err)
	}
}

// TestFailureSticks: the first failure is kept, wraps Corrupt, and every
// read after it is zero; leftover bytes, unknown flag bits, a string or a
// count past the end and a 33-bit U32 are failures.
func TestFailureSticks(t *testing.T) {
	for name, tc := range map[string]struct {
		b    []byte
		read func(r *Reader)
	}{
		"trailing bytes":  {[]byte{1, 2}, func(r *Reader) { r.Byte() }},
		"unknown flag":    {[]byte{0b100}, func(r *Reader) { var a, b bool; r.Flags(&a, &b) }},
		"string too long": {[]byte{5, 'a'}, func(r *Reader) { r.Str() }},
		"count too large": {[]byte{9, 1}, func(r *Reader) { r.Count() }},
		"u32 overflow":    {[]byte{0x80, 0x80, 0x80, 0x80, 0x10}, func(r *Reader) { r.U32() }},
		"truncated":       {nil, func(r *Reader) { r.Byte() }},
	} {
		r := Reader{B: tc.b, Corrupt: errTest}
		tc.read(&r)
		err := r.End()
		if !errors.Is(err, errTest) {
			t.Errorf("%s: %v, want a failure wrapping the sentinel", name, err)
		}
		if r.Uvarint() != 0 || r.Str() != "" || r.End() != err {
			t.Errorf("%s: reads after the failure are not zero, or the failure changed", name)
		}
	}
}
