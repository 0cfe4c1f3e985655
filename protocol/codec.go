package protocol

import "strconv"

// This file holds the primitive encoders and the decoder shared by the
// generated method codecs, the field tables and the content properties.

func appendUint16(b []byte, v uint16) []byte {
	return append(b, byte(v>>8), byte(v))
}

func appendUint32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func appendUint64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32),
		byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendShortstr appends a short string. A short string holds at most 255
// bytes on the wire; longer strings are truncated to their first 255 bytes
// rather than corrupting the frame (the broker validates lengths of names
// it accepts, so only texts it writes itself can be that long).
func appendShortstr(b []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func appendLongstr(b []byte, s string) []byte {
	b = appendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func getUint16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func getUint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func getUint64(b []byte) uint64 {
	return uint64(getUint32(b))<<32 | uint64(getUint32(b[4:]))
}

// decoder reads method arguments and property lists. A read past the end of
// the input marks the decoder bad; later reads return zero values, so the
// generated code checks once, in finish.
type decoder struct {
	buf []byte
	pos int
	bad bool
}

func (d *decoder) fail() {
	d.bad = true
	d.pos = len(d.buf)
}

func (d *decoder) octet() uint8 {
	if d.pos >= len(d.buf) {
		d.fail()
		return 0
	}
	v := d.buf[d.pos]
	d.pos++
	return v
}

func (d *decoder) uint16() uint16 {
	if len(d.buf)-d.pos < 2 {
		d.fail()
		return 0
	}
	v := getUint16(d.buf[d.pos:])
	d.pos += 2
	return v
}

func (d *decoder) uint32() uint32 {
	if len(d.buf)-d.pos < 4 {
		d.fail()
		return 0
	}
	v := getUint32(d.buf[d.pos:])
	d.pos += 4
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.buf)-d.pos < 8 {
		d.fail()
		return 0
	}
	v := getUint64(d.buf[d.pos:])
	d.pos += 8
	return v
}

// setString stores a copy of b in *dst unless *dst already holds the same
// bytes: a reused method struct then decodes a repeated exchange name or
// routing key without allocating. The comparison does not allocate.
func setString(dst *string, b []byte) {
	if string(b) != *dst {
		*dst = string(b)
	}
}

func (d *decoder) shortstr(dst *string) {
	if d.pos >= len(d.buf) {
		d.fail()
		return
	}
	n := int(d.buf[d.pos])
	if len(d.buf)-d.pos-1 < n {
		d.fail()
		return
	}
	setString(dst, d.buf[d.pos+1:d.pos+1+n])
	d.pos += 1 + n
}

func (d *decoder) longstr(dst *string) {
	n := int64(d.uint32())
	if d.bad || int64(len(d.buf)-d.pos) < n {
		d.fail()
		return
	}
	setString(dst, d.buf[d.pos:d.pos+int(n)])
	d.pos += int(n)
}

func (d *decoder) table() Table {
	n := int64(d.uint32())
	if d.bad || int64(len(d.buf)-d.pos) < n {
		d.fail()
		return nil
	}
	t, err := decodeTableBody(d.buf[d.pos:d.pos+int(n)], 0)
	if err != nil {
		d.fail()
		return nil
	}
	d.pos += int(n)
	return t
}

// finish reports whether every argument was read and nothing is left over.
// RabbitMQ decodes method arguments with one binary pattern per method, so
// truncated arguments, trailing octets and malformed field tables all fail
// the same way: a connection-level FRAME_ERROR "cannot decode <<...>>"
// naming the method (rabbit_misc:frame_error/2). RabbitMQ itself crashes
// the connection on a field table with an unknown type tag (a
// function_clause in rabbit_binary_parser); Warren answers it with the same
// FRAME_ERROR as any other undecodable argument list.
func (d *decoder) finish(classID, methodID uint16) error {
	if !d.bad && d.pos == len(d.buf) {
		return nil
	}
	return cannotDecode(d.buf, classID, methodID)
}

func cannotDecode(b []byte, classID, methodID uint16) *Error {
	text := make([]byte, 0, 64)
	text = append(text, "FRAME_ERROR - cannot decode "...)
	text = appendErlangBinary(text, b, false)
	return &Error{Code: FrameError, Text: truncateText(string(text)), ClassID: classID, MethodID: methodID}
}

// appendErlangBinary appends b as Erlang's io_lib prints a binary: with ~w
// (printable false) always as a list of octets, "<<1,2,3>>"; with ~tp
// (printable true) as a quoted string "<<"abc">>" when every octet is
// printable ASCII. Output stops growing past maxErrorText bytes, since the
// text is truncated to that length anyway.
func appendErlangBinary(text, b []byte, printable bool) []byte {
	if printable && len(b) > 0 && isPrintableASCII(b) {
		text = append(text, `<<"`...)
		for _, c := range b {
			if len(text) > maxErrorText {
				break
			}
			switch c {
			case '"', '\\':
				text = append(text, '\\', c)
			case '\n':
				text = append(text, `\n`...)
			case '\r':
				text = append(text, `\r`...)
			case '\t':
				text = append(text, `\t`...)
			default:
				text = append(text, c)
			}
		}
		return append(text, `">>`...)
	}
	text = append(text, "<<"...)
	for i, c := range b {
		if len(text) > maxErrorText {
			break
		}
		if i > 0 {
			text = append(text, ',')
		}
		text = strconv.AppendUint(text, uint64(c), 10)
	}
	return append(text, ">>"...)
}

func isPrintableASCII(b []byte) bool {
	for _, c := range b {
		if (c < 32 || c > 126) && c != '\n' && c != '\r' && c != '\t' {
			return false
		}
	}
	return true
}
