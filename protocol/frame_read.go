package protocol

import (
	"errors"
	"io"
	"strconv"
)

// ProtocolHeader is the header an AMQP 0-9-1 client sends first, and the
// one a server answers with before closing when it cannot speak the
// client's version.
var ProtocolHeader = []byte("AMQP\x00\x00\x09\x01")

// ErrBadProtocolHeader is returned by ReadProtocolHeader when the client
// sent anything but ProtocolHeader; the server should then write
// ProtocolHeader and close the socket, as RabbitMQ does.
var ErrBadProtocolHeader = errors.New("protocol: bad AMQP protocol header")

// ReadProtocolHeader reads the 8-byte protocol header from r. It returns
// ErrBadProtocolHeader if the bytes are not ProtocolHeader, and the read
// error (io.EOF, io.ErrUnexpectedEOF, ...) if fewer than 8 bytes arrive.
// RabbitMQ also accepts the 0-9 header "AMQP\x01\x01\x00\x09" and treats
// it as 0-9-1, so this function does too.
func ReadProtocolHeader(r io.Reader) error {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return err
	}
	if string(h[:]) == string(ProtocolHeader) || string(h[:]) == "AMQP\x01\x01\x00\x09" {
		return nil
	}
	return ErrBadProtocolHeader
}

// Frame is one AMQP frame: its type (FrameMethod, FrameHeader, FrameBody or
// FrameHeartbeat), channel and payload.
type Frame struct {
	Type    uint8
	Channel uint16
	Payload []byte
}

// InitialFrameMax is the largest frame a server accepts before
// connection.tune-ok: RabbitMQ 4's initial frame_max (FRAME_MIN_SIZE;
// RabbitMQ 3.x used 4096). A server reads the handshake with it, so a
// client that has not authenticated cannot make it buffer a large frame.
const InitialFrameMax = 8192

const (
	// frameHeaderSize is type, channel and payload size.
	frameHeaderSize = 7
	// frameOverhead is the header plus the frame-end octet.
	frameOverhead = frameHeaderSize + 1
	// defaultFrameMax is the frame_max RabbitMQ offers in connection.tune,
	// the limit of a reader nobody tuned.
	defaultFrameMax = 131072
	// initialReadBuffer is the read buffer of a new or idle connection.
	initialReadBuffer = 4096
	// shrinkAfter is how many frames in a row must fit a quarter of a grown
	// buffer before the reader gives the memory back.
	shrinkAfter = 256
)

// FrameReader reads frames from a connection. It reads from the socket in
// batches (one Read may return many frames) into a buffer that starts at
// 4 KiB and grows only as large frames arrive (never beyond what the
// negotiated frame max needs), and shrinks back once large frames stop, so
// an idle connection costs little. A FrameReader is not safe for concurrent
// use.
type FrameReader struct {
	r        io.Reader
	buf      []byte
	start    int // first unreturned byte
	end      int // end of data read so far
	frameMax uint32
	small    int // frames in a row that fit a quarter of buf
	err      error
}

// NewFrameReader returns a reader of frames from r with frame max 131072,
// the frame_max RabbitMQ offers; a server sets InitialFrameMax until the
// client's connection.tune-ok.
func NewFrameReader(r io.Reader) *FrameReader {
	return &FrameReader{r: r, frameMax: defaultFrameMax}
}

// SetFrameMax sets the largest frame accepted, header and frame-end
// included, as negotiated by connection.tune-ok; 0 means no limit.
func (r *FrameReader) SetFrameMax(n uint32) {
	r.frameMax = n
}

// Broken reports whether ReadFrame met an error it cannot read past: a
// read error, an oversized frame or a bad frame-end octet, after which the
// stream is out of sync. After an unknown frame type it is false: that
// frame was consumed and the next one can be read.
func (r *FrameReader) Broken() bool {
	return r.err != nil
}

// Buffered returns the number of bytes already read from the connection but
// not yet returned as frames. When it is zero after ReadFrame, the batch the
// client sent is consumed and the broker can flush its replies.
func (r *FrameReader) Buffered() int {
	return r.end - r.start
}

// ReadFrame returns the next frame. Its Payload aliases the reader's buffer
// and is valid only until the next call.
//
// The payload size is checked against frame max before any of the payload
// is read. Following rabbit_reader, a payload may be up to frame max octets
// (RabbitMQ tolerates clients that forget the 8 octets of overhead), and
// the errors are the hard FRAME_ERRORs RabbitMQ sends:
//
//	FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,200000,131064}
//	FRAME_ERROR - type 1, all octets = <<...>>: {invalid_frame_end_marker,65}
//	FRAME_ERROR - type 9, all octets = <<...>>: unknown_frame
//
// The last one is also returned for a heartbeat with a payload. An
// oversize frame or a bad frame-end leaves the stream out of sync, so the
// error is sticky; an unknown frame type is consumed and the reader can
// continue. At the end of the input ReadFrame returns io.EOF if it stopped
// at a frame boundary and io.ErrUnexpectedEOF otherwise.
func (r *FrameReader) ReadFrame() (Frame, error) {
	if r.err != nil {
		return Frame{}, r.err
	}
	if err := r.fill(frameHeaderSize); err != nil {
		return Frame{}, err
	}
	h := r.buf[r.start : r.start+frameHeaderSize]
	typ, channel, size := h[0], getUint16(h[1:]), getUint32(h[3:])
	if r.frameMax != 0 && size > r.frameMax {
		r.err = frameTooLarge(typ, size, r.frameMax)
		return Frame{}, r.err
	}
	total := frameOverhead + int(size)
	if err := r.fill(total); err != nil {
		return Frame{}, err
	}
	f := r.buf[r.start : r.start+total]
	r.start += total
	payload := f[frameHeaderSize : total-1]
	if end := f[total-1]; end != FrameEnd {
		r.err = invalidFrameEnd(typ, payload, end)
		return Frame{}, r.err
	}
	switch typ {
	case FrameMethod, FrameHeader, FrameBody:
	case FrameHeartbeat:
		if size != 0 {
			return Frame{}, unknownFrame(typ, payload)
		}
	default:
		return Frame{}, unknownFrame(typ, payload)
	}
	if total <= cap(r.buf)/4 {
		r.small++
	} else {
		r.small = 0
	}
	return Frame{Type: typ, Channel: channel, Payload: payload}, nil
}

// fill makes sure at least n unreturned bytes are buffered, reading as much
// as the connection offers at once. The buffer grows only when it is full
// and by at most doubling, so a frame header announcing a huge payload costs
// memory in proportion to the bytes that actually arrive, never to the
// announced size.
func (r *FrameReader) fill(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start == r.end {
		r.start, r.end = 0, 0
		if cap(r.buf) > initialReadBuffer && r.small >= shrinkAfter && n <= initialReadBuffer {
			r.buf = nil // large frames stopped: give the memory back
			r.small = 0
		}
	}
	if r.buf == nil {
		r.buf = make([]byte, initialReadBuffer)
	}
	for r.end-r.start < n {
		if r.end == len(r.buf) {
			r.makeRoom(n)
		}
		m, err := r.r.Read(r.buf[r.end:])
		r.end += m
		if err != nil {
			if r.end-r.start >= n {
				return nil
			}
			if err == io.EOF && r.end != r.start {
				err = io.ErrUnexpectedEOF
			}
			r.err = err
			return err
		}
	}
	return nil
}

// makeRoom frees space after the buffered bytes of a full buffer: by moving
// them to the front when the frame being read then fits, by growing the
// buffer (at most doubling, never beyond the frame) otherwise.
func (r *FrameReader) makeRoom(n int) {
	buffered := r.end - r.start
	if n <= len(r.buf) && r.start > 0 {
		copy(r.buf, r.buf[r.start:r.end])
	} else {
		nb := make([]byte, min(n, 2*len(r.buf)))
		copy(nb, r.buf[r.start:r.end])
		r.buf = nb
	}
	r.start, r.end = 0, buffered
}

// frameErrorText builds rabbit_reader's frame_error text:
// "FRAME_ERROR - type T, all|first 16 octets = <<...>>: Reason".
func frameErrorText(typ uint8, payload []byte, reason []byte) *Error {
	text := make([]byte, 0, 96)
	text = append(text, "FRAME_ERROR - type "...)
	text = strconv.AppendUint(text, uint64(typ), 10)
	if len(payload) <= 16 {
		text = append(text, ", all octets = "...)
	} else {
		text = append(text, ", first 16 octets = "...)
		payload = payload[:16]
	}
	text = appendErlangBinary(text, payload, true)
	text = append(text, ": "...)
	text = append(text, reason...)
	return &Error{Code: FrameError, Text: truncateText(string(text))}
}

func frameTooLarge(typ uint8, size, frameMax uint32) *Error {
	reason := []byte("{frame_too_large,")
	reason = strconv.AppendUint(reason, uint64(size), 10)
	reason = append(reason, ',')
	reason = strconv.AppendInt(reason, int64(frameMax)-frameOverhead, 10)
	reason = append(reason, '}')
	return frameErrorText(typ, nil, reason)
}

func invalidFrameEnd(typ uint8, payload []byte, end byte) *Error {
	reason := []byte("{invalid_frame_end_marker,")
	reason = strconv.AppendUint(reason, uint64(end), 10)
	reason = append(reason, '}')
	return frameErrorText(typ, payload, reason)
}

func unknownFrame(typ uint8, payload []byte) *Error {
	return frameErrorText(typ, payload, []byte("unknown_frame"))
}
