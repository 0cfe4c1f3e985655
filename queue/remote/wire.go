package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// Version is the link protocol version each side sends in its hello; a
// peer sending another is refused.
const Version = 1

// DefaultMaxFrame is the largest frame payload accepted when the config
// sets none: a 16 MiB message (the broker's default max_message_size)
// with room for its properties, names and ids.
const DefaultMaxFrame = 16<<20 + 1<<20

// helloMagic opens every hello, so that a stream that is not a link is
// refused at once.
const helloMagic = "WRNQ"

// frameHeader is the length (4 octets, big endian, of the type and
// payload) and the type octet that start every frame.
const frameHeader = 5

// The frame types. Client to server: fOpen … fStats. Server to client:
// fAction, fReply. Both: fHello, first. Values are never reused.
const (
	fHello   byte = 1  // magic, version
	fOpen    byte = 2  // sid, vhost, name, publisher
	fClose   byte = 3  // sid
	fPublish byte = 4  // sid, flags, seq, num, message
	fQPub    byte = 5  // req, vhost, name, flags, message (session-less)
	fConsume byte = 6  // sid, cid, consume options
	fCancel  byte = 7  // sid, cid
	fGet     byte = 8  // sid, noAck
	fSettle  byte = 9  // sid, settlement, ids
	fTouch   byte = 10 // vhost, name
	fPurge   byte = 11 // req, vhost, name
	fDelete  byte = 12 // req, vhost, name, flags
	fStats   byte = 13 // req, vhost, name
	fAction  byte = 14 // sid, action
	fReply   byte = 15 // req, count, stats, error
)

// Flags of fPublish, fQPub and fDelete.
const (
	flagConfirm  = 1 << 0 // the publisher asked for a confirm
	flagIfUnused = 1 << 0
	flagIfEmpty  = 1 << 1
)

// Message markers: a message is sent whole, or as a reference to the last
// one sent whole on the same stream (a publish routed to several queues
// on one node crosses the link once).
const (
	msgInline byte = 0
	msgSame   byte = 1
)

// errMalformed is wrapped by every decoding error.
var errMalformed = errors.New("remote: malformed frame")

// errVersion is wrapped by the refusal of a peer's hello of another
// version.
var errVersion = errors.New("remote: peer speaks another link version")

// frame is one decoded frame; which fields are set depends on typ.
type frame struct {
	typ         byte
	version     byte
	sid, cid    uint32
	req, seq    uint64
	num         uint64
	vhost, name string
	flags       byte
	pub         queue.Publisher
	opts        queue.ConsumeOptions
	settle      queue.Settlement
	ids         []uint64
	msg         *queue.Message
	act         wireAction
	count       uint32
	stats       queue.Stats
	err         error
}

// wireAction is a queue.Action as it crosses the link: its consumer is
// named by id.
type wireAction struct {
	kind     queue.ActionKind
	cid      uint32
	delivery queue.Delivery
	seq      uint64
	count    uint32
	err      error
}

// encoder appends frames to a buffer. last is the last message sent
// whole on the stream the buffer feeds.
type encoder struct {
	buf  []byte
	last *queue.Message
}

// begin starts a frame of type t and returns its start, for end.
func (e *encoder) begin(t byte) int {
	at := len(e.buf)
	e.buf = append(e.buf, 0, 0, 0, 0, t)
	return at
}

// end writes the length of the frame started at at.
func (e *encoder) end(at int) {
	binary.BigEndian.PutUint32(e.buf[at:], uint32(len(e.buf)-at-4))
}

func (e *encoder) u8(v byte)    { e.buf = append(e.buf, v) }
func (e *encoder) u16(v uint16) { e.buf = binary.BigEndian.AppendUint16(e.buf, v) }
func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) uv(v uint64)  { e.buf = binary.AppendUvarint(e.buf, v) }

func (e *encoder) str(s string) {
	e.uv(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) boolean(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// message appends m whole, or as a reference when it is the last message
// appended whole.
func (e *encoder) message(m *queue.Message) {
	if m == e.last {
		e.u8(msgSame)
		return
	}
	e.u8(msgInline)
	at := len(e.buf)
	e.u32(0)
	e.buf = queue.AppendMessage(e.buf, m)
	binary.BigEndian.PutUint32(e.buf[at:], uint32(len(e.buf)-at-4))
	e.last = m
}

// error appends err: absent, an AMQP exception, or (code 0) another
// error's text.
func (e *encoder) error(err error) {
	if err == nil {
		e.u8(0)
		return
	}
	e.u8(1)
	var pe *protocol.Error
	if errors.As(err, &pe) {
		e.u16(pe.Code)
		e.str(pe.Text)
		e.u16(pe.ClassID)
		e.u16(pe.MethodID)
		return
	}
	e.u16(0)
	e.str(err.Error())
	e.u16(0)
	e.u16(0)
}

func (e *encoder) delivery(d queue.Delivery) {
	e.u64(d.ID)
	e.boolean(d.Redelivered)
	e.u32(d.DeliveryCount)
	e.message(d.Message)
}

// hello appends this side's hello.
func (e *encoder) hello() {
	at := e.begin(fHello)
	e.buf = append(e.buf, helloMagic...)
	e.u8(Version)
	e.end(at)
}

// action appends an fAction frame for session sid.
func (e *encoder) action(sid uint32, a wireAction) {
	at := e.begin(fAction)
	e.u32(sid)
	e.u8(byte(a.kind))
	switch a.kind {
	case queue.ActionDeliver:
		e.u32(a.cid)
		e.delivery(a.delivery)
	case queue.ActionSettled, queue.ActionRejected:
		e.u64(a.seq)
	case queue.ActionConsumeOK, queue.ActionCancelled:
		e.u32(a.cid)
	case queue.ActionGetOK:
		e.delivery(a.delivery)
		e.u32(a.count)
	case queue.ActionRefused:
		e.u32(a.cid)
		e.error(a.err)
	}
	e.end(at)
}

// reply appends the answer to request req.
func (e *encoder) reply(req uint64, n uint32, st queue.Stats, err error) {
	at := e.begin(fReply)
	e.u64(req)
	e.u32(n)
	e.u32(st.Ready)
	e.u32(st.Unacked)
	e.u32(st.Consumers)
	e.error(err)
	e.end(at)
}

// decoder reads frame payloads; last is the last message received whole
// on its stream, which msgSame refers to.
type decoder struct {
	last *queue.Message
}

// reader takes fields off a payload; a field past the end sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) uv() uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uv()
	if n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	return string(r.take(int(n)))
}

func (r *reader) boolean() bool {
	switch r.u8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.bad = true
	return false
}

// decode decodes the payload p of a frame of type t. The frame does not
// alias p.
func (d *decoder) decode(t byte, p []byte) (frame, error) {
	r := &reader{b: p}
	f := frame{typ: t}
	var err error
	switch t {
	case fHello:
		if string(r.take(len(helloMagic))) != helloMagic {
			return f, fmt.Errorf("%w: not a queue link hello", errMalformed)
		}
		f.version = r.u8()
	case fOpen:
		f.sid, f.vhost, f.name = r.u32(), r.str(), r.str()
		f.pub = queue.Publisher{Node: r.str(), Conn: r.u64(), Channel: r.u16()}
	case fClose:
		f.sid = r.u32()
	case fPublish:
		f.sid, f.flags, f.seq, f.num = r.u32(), r.u8(), r.u64(), r.u64()
		f.msg, err = d.message(r)
	case fQPub:
		f.req, f.vhost, f.name, f.flags = r.u64(), r.str(), r.str(), r.u8()
		f.msg, err = d.message(r)
	case fConsume:
		f.sid, f.cid = r.u32(), r.u32()
		f.opts, err = consumeOptions(r)
	case fCancel:
		f.sid, f.cid = r.u32(), r.u32()
	case fGet:
		f.sid, f.flags = r.u32(), r.u8()
	case fSettle:
		f.sid, f.settle = r.u32(), queue.Settlement(r.u8())
		f.ids = ids(r)
		if f.settle > queue.Reject {
			r.bad = true
		}
	case fTouch:
		f.vhost, f.name = r.str(), r.str()
	case fPurge, fStats:
		f.req, f.vhost, f.name = r.u64(), r.str(), r.str()
	case fDelete:
		f.req, f.vhost, f.name, f.flags = r.u64(), r.str(), r.str(), r.u8()
	case fAction:
		f.sid = r.u32()
		f.act, err = d.action(r)
	case fReply:
		f.req, f.count = r.u64(), r.u32()
		f.stats = queue.Stats{Ready: r.u32(), Unacked: r.u32(), Consumers: r.u32()}
		f.err = decodeError(r)
	default:
		return f, fmt.Errorf("%w: unknown type %d", errMalformed, t)
	}
	if err != nil {
		return f, err
	}
	if r.bad || len(r.b) != 0 {
		return f, fmt.Errorf("%w: type %d: bad length or field", errMalformed, t)
	}
	return f, nil
}

// message decodes a message or a reference to the last one.
func (d *decoder) message(r *reader) (*queue.Message, error) {
	switch r.u8() {
	case msgSame:
		if d.last == nil {
			return nil, fmt.Errorf("%w: reference to no message", errMalformed)
		}
		return d.last, nil
	case msgInline:
		b := r.take(int(r.u32()))
		if r.bad {
			return nil, fmt.Errorf("%w: truncated message", errMalformed)
		}
		m, err := queue.DecodeMessage(b)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errMalformed, err)
		}
		d.last = m
		return m, nil
	}
	return nil, fmt.Errorf("%w: bad message marker", errMalformed)
}

func (d *decoder) delivery(r *reader) (queue.Delivery, error) {
	del := queue.Delivery{ID: r.u64(), Redelivered: r.boolean(), DeliveryCount: r.u32()}
	m, err := d.message(r)
	del.Message = m
	return del, err
}

func (d *decoder) action(r *reader) (wireAction, error) {
	a := wireAction{kind: queue.ActionKind(r.u8())}
	var err error
	switch a.kind {
	case queue.ActionDeliver:
		a.cid = r.u32()
		a.delivery, err = d.delivery(r)
	case queue.ActionSettled, queue.ActionRejected:
		a.seq = r.u64()
	case queue.ActionConsumeOK, queue.ActionCancelled:
		a.cid = r.u32()
	case queue.ActionGetOK:
		a.delivery, err = d.delivery(r)
		a.count = r.u32()
	case queue.ActionRefused:
		a.cid = r.u32()
		a.err = decodeError(r)
		if a.err == nil {
			r.bad = true
		}
	case queue.ActionGetEmpty, queue.ActionBlock, queue.ActionUnblock, queue.ActionQueueDown:
	default:
		return a, fmt.Errorf("%w: unknown action %d", errMalformed, a.kind)
	}
	return a, err
}

func decodeError(r *reader) error {
	switch r.u8() {
	case 0:
		return nil
	case 1:
	default:
		r.bad = true
		return nil
	}
	code, text, cls, mid := r.u16(), r.str(), r.u16(), r.u16()
	if code == 0 {
		return errors.New(text)
	}
	return &protocol.Error{Code: code, Text: text, ClassID: cls, MethodID: mid}
}

func appendConsumeOptions(e *encoder, o queue.ConsumeOptions) {
	e.str(o.Tag)
	e.boolean(o.NoAck)
	e.boolean(o.Exclusive)
	e.u32(uint32(o.Priority))
	e.u16(o.Prefetch)
	e.buf = protocol.AppendTable(e.buf, o.Args)
}

func consumeOptions(r *reader) (queue.ConsumeOptions, error) {
	o := queue.ConsumeOptions{Tag: r.str(), NoAck: r.boolean(), Exclusive: r.boolean(),
		Priority: int32(r.u32()), Prefetch: r.u16()}
	if r.bad {
		return o, fmt.Errorf("%w: consume options", errMalformed)
	}
	t, n, err := protocol.DecodeTable(r.b)
	if err != nil {
		return o, fmt.Errorf("%w: consume arguments: %v", errMalformed, err)
	}
	o.Args = t
	r.b = r.b[n:]
	return o, nil
}

func appendIDs(e *encoder, ids []uint64) {
	e.uv(uint64(len(ids)))
	for _, id := range ids {
		e.u64(id)
	}
}

// ids decodes a list of delivery ids; its count is checked against what
// the payload holds before allocating.
func ids(r *reader) []uint64 {
	n := r.uv()
	if n > uint64(len(r.b)/8) {
		r.bad = true
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = r.u64()
	}
	return out
}

// readFrame reads one frame from r into buf (grown as needed, within
// limit) and returns its type and payload, which alias buf.
func readFrame(r io.Reader, buf []byte, limit int) (byte, []byte, []byte, error) {
	var h [frameHeader]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, buf, err
	}
	n := int64(binary.BigEndian.Uint32(h[:4]))
	if n < 1 || n-1 > int64(limit) {
		return 0, nil, buf, fmt.Errorf("%w: frame of %d octets (limit %d)", errMalformed, n, limit)
	}
	size := int(n - 1)
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	p := buf[:size]
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, buf, err
	}
	return h[4], p, buf, nil
}
