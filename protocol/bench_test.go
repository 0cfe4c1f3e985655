package protocol

import (
	"bytes"
	"testing"
)

// publishFrames is what a client sends per message: basic.publish, a
// content header with typical properties and a body.
func publishFrames(body []byte) []byte {
	b := AppendMethodFrame(nil, 1, &BasicPublish{Exchange: "amq.direct", RoutingKey: "orders.created"})
	p := Properties{Flags: FlagContentType | FlagDeliveryMode | FlagMessageID, ContentType: "application/json", DeliveryMode: 2, MessageID: "m-1"}
	b = AppendHeaderFrame(b, 1, ClassBasic, uint64(len(body)), &p)
	return AppendBodyFrames(b, 1, body, 131072)
}

func splitFrames(t testing.TB, b []byte) []Frame {
	var out []Frame
	r := NewFrameReader(bytes.NewReader(b))
	for r.Buffered() > 0 || len(out) == 0 {
		f, err := r.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, Frame{Type: f.Type, Channel: f.Channel, Payload: bytes.Clone(f.Payload)})
	}
	return out
}

// TestPublishDecodeNoAlloc checks the hot-path promise: a reused
// *BasicPublish decodes a repeated exchange and routing key, and the
// content header's hot properties are read, without allocating.
func TestPublishDecodeNoAlloc(t *testing.T) {
	frames := splitFrames(t, publishFrames([]byte("hello")))
	var m BasicPublish
	allocs := testing.AllocsPerRun(1000, func() {
		if err := m.DecodeArgs(frames[0].Payload[4:]); err != nil {
			t.Fatal(err)
		}
		_, _, raw, err := DecodeContentHeader(frames[1].Payload)
		if err != nil {
			t.Fatal(err)
		}
		rp := RawProperties(raw)
		rp.DeliveryMode()
		rp.Expiration()
	})
	if allocs != 0 || m.Exchange != "amq.direct" || m.RoutingKey != "orders.created" {
		t.Fatalf("%v allocations, decoded %+v", allocs, m)
	}
	// A different routing key still decodes correctly (and allocates it).
	other := AppendMethodFrame(nil, 1, &BasicPublish{Exchange: "amq.direct", RoutingKey: "other"})
	if err := m.DecodeArgs(other[11 : len(other)-1]); err != nil || m.RoutingKey != "other" {
		t.Fatalf("%+v %v", m, err)
	}
}

// TestEncodeNoAlloc checks that encoding frames into a buffer with room
// does not allocate, including properties with a headers table.
func TestEncodeNoAlloc(t *testing.T) {
	deliver := &BasicDeliver{ConsumerTag: "ctag-1", DeliveryTag: 42, Exchange: "amq.direct", RoutingKey: "rk"}
	p := &Properties{Flags: FlagContentType | FlagHeaders | FlagDeliveryMode, ContentType: "text/plain", DeliveryMode: 2,
		Headers: Table{"x-death": int64(1), "x-first": "a", "flag": true}}
	raw := p.Append(nil)
	body := make([]byte, 1024)
	buf := make([]byte, 0, 8192)
	allocs := testing.AllocsPerRun(1000, func() {
		b := AppendMethodFrame(buf[:0], 1, deliver)
		b = AppendHeaderFrame(b, 1, ClassBasic, uint64(len(body)), p)
		b = AppendHeaderFrameRaw(b, 1, ClassBasic, uint64(len(body)), raw)
		b = AppendBodyFrames(b, 1, body, 512)
		_ = AppendHeartbeat(b)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func BenchmarkDecodePublish(b *testing.B) {
	frames := splitFrames(b, publishFrames([]byte("hello")))
	var m BasicPublish
	var p Properties
	b.ReportAllocs()
	b.SetBytes(int64(len(frames[0].Payload) + len(frames[1].Payload)))
	for b.Loop() {
		if err := m.DecodeArgs(frames[0].Payload[4:]); err != nil {
			b.Fatal(err)
		}
		_, _, raw, err := DecodeContentHeader(frames[1].Payload)
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMethodPublish(b *testing.B) {
	frames := splitFrames(b, publishFrames([]byte("hello")))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeMethod(frames[0].Payload); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadFramesPublish(b *testing.B) {
	one := publishFrames(make([]byte, 64))
	stream := bytes.Repeat(one, 100)
	rd := bytes.NewReader(stream)
	r := NewFrameReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		rd.Reset(stream)
		for range 300 {
			if _, err := r.ReadFrame(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func benchmarkEncodeDeliver(b *testing.B, size int) {
	deliver := &BasicDeliver{ConsumerTag: "amq.ctag-1", Exchange: "amq.direct", RoutingKey: "orders.created"}
	p := Properties{Flags: FlagContentType | FlagDeliveryMode, ContentType: "application/json", DeliveryMode: 2}
	raw := p.Append(nil)
	body := make([]byte, size)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		deliver.DeliveryTag++
		out := AppendMethodFrame(buf[:0], 1, deliver)
		out = AppendHeaderFrameRaw(out, 1, ClassBasic, uint64(size), raw)
		buf = AppendBodyFrames(out, 1, body, 131072)
	}
}

func BenchmarkEncodeDeliver16B(b *testing.B)  { benchmarkEncodeDeliver(b, 16) }
func BenchmarkEncodeDeliver1KiB(b *testing.B) { benchmarkEncodeDeliver(b, 1024) }

func BenchmarkDecodeTable(b *testing.B) {
	enc := AppendTable(nil, Table{
		"x-queue-type": "quorum", "x-max-length": int64(10000), "x-dead-letter-exchange": "dlx",
		"x-message-ttl": int32(60000), "x-single-active-consumer": true,
	})
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, _, err := DecodeTable(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendTable(b *testing.B) {
	t := Table{"x-queue-type": "quorum", "x-max-length": int64(10000), "x-dead-letter-exchange": "dlx"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendTable(buf[:0], t)
	}
}
