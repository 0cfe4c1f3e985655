package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// headerOnlyReader hands out a frame header in its first Read and fails the
// test if the frame reader asks for more.
type headerOnlyReader struct {
	t      *testing.T
	header []byte
	reads  int
}

func (r *headerOnlyReader) Read(p []byte) (int, error) {
	r.reads++
	if r.reads > 1 {
		r.t.Fatalf("frame reader read past the header of an oversize frame")
	}
	return copy(p, r.header), nil
}

func TestReadFrameRejectsOversizeBeforePayload(t *testing.T) {
	tests := []struct {
		name     string
		frameMax uint32
		size     uint32
		text     string
	}{
		{"default frame max", 0xffffffff, 131073, "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,131073,131064}"},
		{"tuned frame max", 4096, 5000, "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,5000,4088}"},
		{"4 GiB", 4096, 0xffffffff, "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,4294967295,4088}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &headerOnlyReader{t: t, header: []byte{FrameMethod, 0, 1, byte(tt.size >> 24), byte(tt.size >> 16), byte(tt.size >> 8), byte(tt.size)}}
			r := NewFrameReader(src)
			if tt.frameMax != 0xffffffff {
				r.SetFrameMax(tt.frameMax)
			}
			_, err := r.ReadFrame()
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError || e.Text != tt.text {
				t.Fatalf("got %v, want %q", err, tt.text)
			}
			if cap(r.buf) > initialReadBuffer {
				t.Fatalf("buffer grew to %d for a rejected frame", cap(r.buf))
			}
			if _, err2 := r.ReadFrame(); err2 != err {
				t.Fatalf("error is not sticky: %v", err2)
			}
		})
	}
}

// TestReadFrameFrameMaxFudge checks RabbitMQ's tolerance: a payload of up to
// frame max octets (8 more than the spec allows) is accepted.
func TestReadFrameFrameMaxFudge(t *testing.T) {
	r := NewFrameReader(bytes.NewReader(frameOf(FrameBody, 1, make([]byte, 4096))))
	r.SetFrameMax(4096)
	if _, err := r.ReadFrame(); err != nil {
		t.Fatalf("payload of frame max octets refused: %v", err)
	}
}

func frameOf(typ uint8, channel uint16, payload []byte) []byte {
	b, start := appendFrameStart(nil, typ, channel)
	b = append(b, payload...)
	return endFrame(b, start)
}

func TestReadFrameErrors(t *testing.T) {
	badEnd := frameOf(FrameMethod, 1, []byte("abc"))
	badEnd[len(badEnd)-1] = 'A'
	long := frameOf(FrameBody, 1, make([]byte, 20))
	long[len(long)-1] = 0
	tests := []struct {
		name   string
		in     []byte
		text   string
		sticky bool
	}{
		{"bad frame end", badEnd, `FRAME_ERROR - type 1, all octets = <<"abc">>: {invalid_frame_end_marker,65}`, true},
		{"bad end, long payload", long, "FRAME_ERROR - type 3, first 16 octets = <<0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0>>: {invalid_frame_end_marker,0}", true},
		{"unknown type", frameOf(9, 0, []byte{1, 2}), "FRAME_ERROR - type 9, all octets = <<1,2>>: unknown_frame", false},
		{"heartbeat with payload", frameOf(FrameHeartbeat, 0, []byte{1}), "FRAME_ERROR - type 8, all octets = <<1>>: unknown_frame", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append(append([]byte{}, tt.in...), AppendHeartbeat(nil)...)
			r := NewFrameReader(bytes.NewReader(in))
			_, err := r.ReadFrame()
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError || e.Text != tt.text || !e.Hard() {
				t.Fatalf("got %v, want %q", err, tt.text)
			}
			f, err := r.ReadFrame()
			if tt.sticky && err != e {
				t.Fatalf("a desynchronised stream must keep failing, got %v", err)
			}
			if !tt.sticky && (err != nil || f.Type != FrameHeartbeat) {
				t.Fatalf("the next frame should be readable, got %v %v", f, err)
			}
		})
	}
}

func TestReadFrameEOF(t *testing.T) {
	hb := AppendHeartbeat(nil)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"clean end", hb, io.EOF},
		{"mid header", append(append([]byte{}, hb...), 1, 0), io.ErrUnexpectedEOF},
		{"mid payload", append(append([]byte{}, hb...), frameOf(FrameBody, 1, []byte("xyz"))[:9]...), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewFrameReader(bytes.NewReader(tt.in))
			if _, err := r.ReadFrame(); err != nil {
				t.Fatalf("first frame: %v", err)
			}
			if _, err := r.ReadFrame(); err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// oneByteReader returns one byte per Read, the worst case for reassembly.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) { return o.r.Read(p[:1]) }

// countingReader counts Read calls.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) { c.reads++; return c.r.Read(p) }

func TestReadFrameStream(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 30000) // 300 KB: grows the buffer
	var stream []byte
	stream = AppendMethodFrame(stream, 3, &BasicPublish{Exchange: "ex", RoutingKey: "rk"})
	stream = AppendHeaderFrame(stream, 3, ClassBasic, uint64(len(body)), &Properties{Flags: FlagDeliveryMode, DeliveryMode: 2})
	stream = AppendBodyFrames(stream, 3, body, 131072)
	stream = AppendHeartbeat(stream)
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"batched", func() io.Reader { return bytes.NewReader(stream) }},
		{"byte by byte", func() io.Reader { return oneByteReader{bytes.NewReader(stream)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewFrameReader(tc.r())
			var types []uint8
			var got []byte
			for {
				f, err := r.ReadFrame()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				types = append(types, f.Type)
				if f.Type == FrameBody {
					if len(f.Payload) > 131072-8 {
						t.Fatalf("body frame of %d bytes exceeds frame max", len(f.Payload))
					}
					got = append(got, f.Payload...)
				}
			}
			want := []uint8{FrameMethod, FrameHeader, FrameBody, FrameBody, FrameBody, FrameHeartbeat}
			if !bytes.Equal(types, want) {
				t.Fatalf("frame types %v, want %v", types, want)
			}
			if !bytes.Equal(got, body) {
				t.Fatal("body reassembled wrongly")
			}
			if cap(r.buf) > 131072+8 {
				t.Fatalf("buffer grew to %d, beyond frame max", cap(r.buf))
			}
		})
	}
}

// TestReadFrameBatchesAndBuffered checks that many small frames arrive in
// one socket read and that Buffered tells when the batch is done.
func TestReadFrameBatchesAndBuffered(t *testing.T) {
	var stream []byte
	for i := range 50 {
		stream = AppendMethodFrame(stream, 1, &BasicAck{DeliveryTag: uint64(i)})
	}
	src := &countingReader{r: bytes.NewReader(stream)}
	r := NewFrameReader(src)
	for i := range 50 {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		m, err := DecodeMethod(f.Payload)
		if err != nil || m.(*BasicAck).DeliveryTag != uint64(i) {
			t.Fatalf("frame %d: %v %v", i, m, err)
		}
		if left := r.Buffered(); (left == 0) != (i == 49) {
			t.Fatalf("after frame %d Buffered() = %d", i, left)
		}
	}
	if src.reads != 1 {
		t.Fatalf("%d socket reads for %d bytes, want 1", src.reads, len(stream))
	}
}

// TestReadFrameShrinks checks that an idle connection gives back the memory
// a large message needed.
func TestReadFrameShrinks(t *testing.T) {
	var stream []byte
	stream = AppendBodyFrames(stream, 1, make([]byte, 100000), 131072)
	for range shrinkAfter + 1 {
		stream = AppendHeartbeat(stream)
	}
	stream = AppendMethodFrame(stream, 1, &BasicAck{DeliveryTag: 1})
	r := NewFrameReader(oneFramePerRead(stream))
	if _, err := r.ReadFrame(); err != nil {
		t.Fatal(err)
	}
	if cap(r.buf) < 100000 {
		t.Fatalf("buffer did not grow: %d", cap(r.buf))
	}
	for {
		if _, err := r.ReadFrame(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if cap(r.buf) > initialReadBuffer {
		t.Fatalf("buffer still %d bytes after small frames only", cap(r.buf))
	}
}

// oneFramePerRead yields the stream in reads of at most 8 bytes after the
// first large frame, as a client sending heartbeats would.
func oneFramePerRead(b []byte) io.Reader { return &chunkReader{b: b} }

type chunkReader struct{ b []byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.b[:min(len(c.b), 8, len(p))])
	if len(c.b) > 1000 && c.b[0] == FrameBody {
		n = copy(p, c.b)
	}
	c.b = c.b[n:]
	return n, nil
}

func TestAppendBodyFrames(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		frameMax uint32
		want     []int
	}{
		{"empty body has no frames", 0, 4096, nil},
		{"fits", 10, 4096, []int{10}},
		{"exact", 4088, 4096, []int{4088}},
		{"split", 10000, 4096, []int{4088, 4088, 1824}},
		{"no limit", 300000, 0, []int{300000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := make([]byte, tt.size)
			for i := range body {
				body[i] = byte(i)
			}
			r := NewFrameReader(bytes.NewReader(AppendBodyFrames(nil, 5, body, tt.frameMax)))
			r.SetFrameMax(0)
			var sizes []int
			var got []byte
			for {
				f, err := r.ReadFrame()
				if err == io.EOF {
					break
				}
				if err != nil || f.Type != FrameBody || f.Channel != 5 {
					t.Fatalf("frame %+v err %v", f, err)
				}
				sizes = append(sizes, len(f.Payload))
				got = append(got, f.Payload...)
			}
			if !equalInts(sizes, tt.want) || !bytes.Equal(got, body) {
				t.Fatalf("sizes %v, want %v", sizes, tt.want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadProtocolHeader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"0-9-1", "AMQP\x00\x00\x09\x01", nil},
		{"0-9 accepted as 0-9-1 like RabbitMQ", "AMQP\x01\x01\x00\x09", nil},
		{"AMQP 1.0", "AMQP\x00\x01\x00\x00", ErrBadProtocolHeader},
		{"HTTP", "GET / HTTP/1.1\r\n", ErrBadProtocolHeader},
		{"short", "AMQP", io.ErrUnexpectedEOF},
		{"nothing", "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := ReadProtocolHeader(bytes.NewReader([]byte(tt.in))); err != tt.want {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestContentHeader(t *testing.T) {
	p := &Properties{Flags: FlagContentType | FlagPriority, ContentType: "text/plain", Priority: 9}
	frame := AppendHeaderFrame(nil, 2, ClassBasic, 1<<40, p)
	f, err := NewFrameReader(bytes.NewReader(frame)).ReadFrame()
	if err != nil || f.Type != FrameHeader {
		t.Fatalf("%+v %v", f, err)
	}
	class, size, raw, err := DecodeContentHeader(f.Payload)
	if err != nil || class != ClassBasic || size != 1<<40 {
		t.Fatalf("class %d size %d err %v", class, size, err)
	}
	var got Properties
	if err := got.Decode(raw); err != nil || !reflect.DeepEqual(got, *p) {
		t.Fatalf("properties %+v err %v", got, err)
	}
	if again := AppendHeaderFrameRaw(nil, 2, ClassBasic, 1<<40, raw); !bytes.Equal(again, frame) {
		t.Fatalf("raw forwarding changed the frame:\n%v\n%v", again, frame)
	}
	if empty := AppendHeaderFrame(nil, 1, ClassBasic, 0, nil); !bytes.Equal(empty, AppendHeaderFrameRaw(nil, 1, ClassBasic, 0, nil)) ||
		!bytes.Equal(empty[7:len(empty)-1], []byte{0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("empty header %v", empty)
	}
	_, _, _, err = DecodeContentHeader([]byte{0, 60, 0})
	var e *Error
	if !errors.As(err, &e) || e.Text != "FRAME_ERROR - type 2, all octets = <<0,60,0>>: unknown_frame" {
		t.Fatalf("short header: %v", err)
	}
}

// TestReadFrameNoLimitAllocatesWhatArrives checks that with frame max 0 a
// header announcing 4 GiB costs memory in proportion to the bytes sent.
func TestReadFrameNoLimitAllocatesWhatArrives(t *testing.T) {
	in := append([]byte{FrameBody, 0, 1, 0xff, 0xff, 0xff, 0xff}, make([]byte, 10000)...)
	r := NewFrameReader(bytes.NewReader(in))
	r.SetFrameMax(0)
	if _, err := r.ReadFrame(); err != io.ErrUnexpectedEOF {
		t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
	}
	if cap(r.buf) > 4*len(in) {
		t.Fatalf("buffer of %d bytes for %d bytes of input", cap(r.buf), len(in))
	}
}

// TestReadFrameBroken checks which errors leave the reader out of sync: a
// server lingering after a frame error may read on past an unknown frame
// type, but not past an oversized frame or a bad frame end. It also checks
// the handshake limit, InitialFrameMax.
func TestReadFrameBroken(t *testing.T) {
	good := frameOf(FrameHeartbeat, 0, nil)
	badEnd := frameOf(FrameMethod, 1, []byte("abc"))
	badEnd[len(badEnd)-1] = 'A'
	tests := []struct {
		name   string
		first  []byte
		text   string
		broken bool
	}{
		{"unknown frame type", frameOf(9, 1, nil), "FRAME_ERROR - type 9, all octets = <<>>: unknown_frame", false},
		{"bad frame end", badEnd, "FRAME_ERROR - type 1, all octets = <<\"abc\">>: {invalid_frame_end_marker,65}", true},
		{"over the initial frame max", frameOf(FrameMethod, 0, make([]byte, InitialFrameMax+1)),
			"FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,8193,8184}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewFrameReader(bytes.NewReader(append(append([]byte{}, tt.first...), good...)))
			r.SetFrameMax(InitialFrameMax)
			_, err := r.ReadFrame()
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError || e.Text != tt.text {
				t.Fatalf("got %v, want %q", err, tt.text)
			}
			if r.Broken() != tt.broken {
				t.Fatalf("Broken() = %v, want %v", r.Broken(), tt.broken)
			}
			f, err := r.ReadFrame()
			if tt.broken {
				if err == nil {
					t.Fatalf("read frame type %d past an out-of-sync error", f.Type)
				}
				return
			}
			if err != nil || f.Type != FrameHeartbeat {
				t.Fatalf("next frame: type %d, %v; want the heartbeat", f.Type, err)
			}
		})
	}
	r := NewFrameReader(bytes.NewReader(frameOf(FrameMethod, 0, make([]byte, InitialFrameMax))))
	r.SetFrameMax(InitialFrameMax)
	if f, err := r.ReadFrame(); err != nil || len(f.Payload) != InitialFrameMax {
		t.Fatalf("a payload of InitialFrameMax octets: %d octets, %v", len(f.Payload), err)
	}
}
