// Package fields writes and reads the binary fields of Warren's own
// formats, the ones that are not AMQP's: the definitions' commands and
// snapshots (broker/meta) and a quorum queue's commands and snapshots
// (queue/quorum/fifo). Numbers are varints, strings are a uvarint length
// and their bytes, booleans are packed into flag octets. A Reader keeps
// its first error and answers zero values after it, so that a decoder
// reads a whole record and checks once, at End.
package fields

import (
	"encoding/binary"
	"fmt"
)

// Writer appends fields to B.
type Writer struct{ B []byte }

// Uvarint appends v as an unsigned varint.
func (w *Writer) Uvarint(v uint64) { w.B = binary.AppendUvarint(w.B, v) }

// Varint appends v as a signed varint.
func (w *Writer) Varint(v int64) { w.B = binary.AppendVarint(w.B, v) }

// Str appends s's length as a uvarint, then s.
func (w *Writer) Str(s string) {
	w.Uvarint(uint64(len(s)))
	w.B = append(w.B, s...)
}

// Byte appends c.
func (w *Writer) Byte(c byte) { w.B = append(w.B, c) }

// Flags appends fs as one octet, the first in the lowest bit; at most 8.
func (w *Writer) Flags(fs ...bool) {
	var f byte
	for i, on := range fs {
		if on {
			f |= 1 << i
		}
	}
	w.Byte(f)
}

// Reader reads fields from B. Its first failure sticks: Err wraps Corrupt
// with what was wrong, and every read after it returns a zero value.
type Reader struct {
	B       []byte
	Err     error
	Corrupt error // the sentinel a failure wraps, such as meta.ErrCorrupt
}

// Fail records what was wrong, unless something was already.
func (r *Reader) Fail(what string) {
	if r.Err == nil {
		r.Err = fmt.Errorf("%w: %s", r.Corrupt, what)
	}
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint() uint64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.B)
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.B = r.B[n:]
	return v
}

// Varint reads a signed varint.
func (r *Reader) Varint() int64 {
	if r.Err != nil {
		return 0
	}
	v, n := binary.Varint(r.B)
	if n <= 0 {
		r.Fail("bad varint")
		return 0
	}
	r.B = r.B[n:]
	return v
}

// U32 reads an unsigned varint that must fit in 32 bits.
func (r *Reader) U32() uint32 {
	v := r.Uvarint()
	if v > 1<<32-1 {
		r.Fail("value past 32 bits")
		return 0
	}
	return uint32(v)
}

// Str reads a string written by Writer.Str.
func (r *Reader) Str() string {
	n := r.Uvarint()
	if r.Err != nil {
		return ""
	}
	if n > uint64(len(r.B)) {
		r.Fail("string past the end")
		return ""
	}
	s := string(r.B[:n])
	r.B = r.B[n:]
	return s
}

// Byte reads one octet.
func (r *Reader) Byte() byte {
	if r.Err != nil {
		return 0
	}
	if len(r.B) == 0 {
		r.Fail("truncated")
		return 0
	}
	c := r.B[0]
	r.B = r.B[1:]
	return c
}

// Flags reads one flag octet into out, the first from the lowest bit;
// bits beyond len(out) are a failure.
func (r *Reader) Flags(out ...*bool) {
	f := r.Byte()
	if f>>len(out) != 0 {
		r.Fail("unknown flag bits")
		return
	}
	for i, p := range out {
		*p = f&(1<<i) != 0
	}
}

// Count reads a length of a list, which cannot exceed the bytes left
// (every element takes at least one), so that a hostile count allocates
// nothing.
func (r *Reader) Count() int {
	n := r.Uvarint()
	if n > uint64(len(r.B)) {
		r.Fail("count past the end")
		return 0
	}
	return int(n)
}

// End fails unless every byte was read, and returns the first failure.
func (r *Reader) End() error {
	if r.Err == nil && len(r.B) != 0 {
		r.Fail("trailing bytes")
	}
	return r.Err
}
