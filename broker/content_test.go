package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// assembly is a connection and one channel with no socket and no vhost,
// for driving content assembly directly.
func assembly(t *testing.T, cfg Config) (*conn, func(id uint16) *channel) {
	t.Helper()
	cfg = cfg.withDefaults()
	c := &conn{srv: &Server{cfg: cfg}, log: zap.NewNop(), frameMax: cfg.FrameMax}
	return c, func(id uint16) *channel {
		ch := newChannel(c, id)
		ch.pub = protocol.BasicPublish{RoutingKey: "q"}
		ch.publish = &ch.pub
		return ch
	}
}

// headerPayload is the payload of a basic content header announcing size
// octets of body, with a content type so that there are properties.
func headerPayload(size uint64) []byte {
	f := protocol.AppendHeaderFrame(nil, 1, protocol.ClassBasic, size, &protocol.Properties{
		Flags: protocol.FlagContentType, ContentType: "application/octet-stream"})
	return f[7 : len(f)-1]
}

// TestContentMemoryFollowsArrivals: a content header commits memory for its
// body only when the body may come in one frame; a larger body grows as
// its frames arrive, never past the announced size; what the connection
// counts as held is exactly the properties and the buffers, and a channel
// released mid-message gives it back.
func TestContentMemoryFollowsArrivals(t *testing.T) {
	const frame = 131072
	tests := []struct {
		name     string
		size     int
		frames   int // body frames of up to frame octets sent before release
		reserved int // body capacity right after the header
	}{
		{"fits one frame: reserved whole", 1000, 0, 1000},
		{"exactly frame_max: reserved whole", frame, 0, frame},
		{"16 MiB announced, nothing sent: nothing reserved", 16 << 20, 0, 0},
		{"1 MiB, partly sent: grows with the frames", 1 << 20, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, newCh := assembly(t, Config{})
			ch := newCh(1)
			if err := ch.contentHeader(headerPayload(uint64(tt.size))); err != nil {
				t.Fatal(err)
			}
			props := len(ch.msg.RawProps)
			if got := cap(ch.msg.Body); got != tt.reserved {
				t.Fatalf("body capacity after the header %d, want %d", got, tt.reserved)
			}
			if c.incomplete != props+tt.reserved {
				t.Fatalf("connection holds %d, want %d", c.incomplete, props+tt.reserved)
			}
			received := 0
			for range tt.frames {
				n := min(frame, tt.size-received-1)
				if err := ch.contentBody(make([]byte, n)); err != nil {
					t.Fatal(err)
				}
				received += n
				body := ch.msg.Body
				if len(body) != received || cap(body) > tt.size || cap(body) > 2*received {
					t.Fatalf("after %d octets: body len %d cap %d (announced %d)", received, len(body), cap(body), tt.size)
				}
				if c.incomplete != props+cap(body) {
					t.Fatalf("connection holds %d, want %d", c.incomplete, props+cap(body))
				}
			}
			ch.release()
			if c.incomplete != 0 {
				t.Fatalf("connection holds %d after the channel was released", c.incomplete)
			}
		})
	}
}

// TestIncompleteLimit: the octets one connection holds in partly received
// messages, across its channels, stay within incompleteLimit; a message of
// the largest size always fits; the frame that would exceed the limit is
// refused with the hard 506, and released channels give their share back.
func TestIncompleteLimit(t *testing.T) {
	const size = 64 << 10
	c, newCh := assembly(t, Config{MaxMessageSize: size, FrameMax: 4096})
	limit := c.incompleteLimit()
	var chans []*channel
	var err error
	for id := uint16(1); err == nil && id < 100; id++ {
		ch := newCh(id)
		chans = append(chans, ch)
		if err = ch.contentHeader(headerPayload(size)); err != nil {
			t.Fatal(err)
		}
		// All of the body but its last octet, in frames of frame_max.
		for left := size - 1; err == nil && left > 0; left -= min(left, 4096) {
			err = ch.contentBody(make([]byte, min(left, 4096)))
			if c.incomplete > limit {
				t.Fatalf("connection holds %d, over its limit %d", c.incomplete, limit)
			}
		}
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.ResourceError || !pe.Hard() ||
		!strings.HasPrefix(pe.Text, "RESOURCE_ERROR - partly received messages would hold ") {
		t.Fatalf("over the limit: %v, want a hard 506 RESOURCE_ERROR", err)
	}
	if pe.ClassID != protocol.ClassBasic || pe.MethodID != (&protocol.BasicPublish{}).MethodID() {
		t.Fatalf("failing method %d.%d, want basic.publish", pe.ClassID, pe.MethodID)
	}
	if held := len(chans) - 1; held < maxIncomplete {
		t.Fatalf("refused with %d messages of the largest size held, want room for %d", held, maxIncomplete)
	}
	for _, ch := range chans {
		ch.release()
	}
	if c.incomplete != 0 {
		t.Fatalf("connection holds %d after every channel was released", c.incomplete)
	}
}

// TestIncompleteLimitClosesConnection: over a socket, a client holding more
// partly received messages than the limit allows hears connection.close
// 506, while a message of the largest size on its own is accepted whole.
func TestIncompleteLimitClosesConnection(t *testing.T) {
	const size = 256 << 10
	s := startServer(t, func(c *Config) { c.MaxMessageSize = size })
	nc := rawOpen(t, s.Addr().String())
	defer nc.Close()
	fr := protocol.NewFrameReader(nc)
	send := func(b []byte) {
		t.Helper()
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	send(protocol.AppendMethodFrame(nil, 1, &protocol.QueueDeclare{Queue: "whole"}))
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i)
	}
	msg := protocol.AppendMethodFrame(nil, 1, &protocol.BasicPublish{RoutingKey: "whole"})
	msg = protocol.AppendHeaderFrame(msg, 1, protocol.ClassBasic, size, &protocol.Properties{})
	msg = protocol.AppendBodyFrames(msg, 1, body, 131072)
	send(msg)
	send(protocol.AppendMethodFrame(nil, 1, &protocol.BasicGet{Queue: "whole", NoAck: true}))
	if got := readGetBody(t, nc, fr); len(got) != size || string(got) != string(body) {
		t.Fatalf("got a body of %d octets, want the %d published", len(got), size)
	}

	// Messages of the largest size but their last octet, on channel after
	// channel: the connection is closed before it holds more than the
	// limit, and not before it holds maxIncomplete of them.
	partial := protocol.AppendHeaderFrame(nil, 0, protocol.ClassBasic, size, &protocol.Properties{})
	partial = protocol.AppendBodyFrames(partial, 0, body[:size-1], 131072)
	for id := uint16(2); id < 2+3*maxIncomplete; id++ {
		send(protocol.AppendMethodFrame(nil, id, &protocol.ChannelOpen{}))
		if m := readMethod(t, nc, fr); m.Name() != "channel.open-ok" {
			t.Fatalf("got %s, want channel.open-ok", m.Name())
		}
		send(protocol.AppendMethodFrame(nil, id, &protocol.BasicPublish{RoutingKey: "whole"}))
		send(onChannel(partial, id))
		// channel.open on a spare id answers once the frames before it
		// were handled.
		send(protocol.AppendMethodFrame(nil, 1000+id, &protocol.ChannelOpen{}))
		m := readMethod(t, nc, fr)
		if cl, ok := m.(*protocol.ConnectionClose); ok {
			if cl.ReplyCode != protocol.ResourceError || !strings.HasPrefix(cl.ReplyText, "RESOURCE_ERROR - partly received messages") {
				t.Fatalf("connection.close %d %q, want 506", cl.ReplyCode, cl.ReplyText)
			}
			if held := int(id) - 2; held < maxIncomplete {
				t.Fatalf("closed holding %d incomplete messages, want room for %d", held, maxIncomplete)
			}
			return
		}
		if m.Name() != "channel.open-ok" {
			t.Fatalf("got %s, want the spare channel's open-ok", m.Name())
		}
	}
	t.Fatalf("%d incomplete messages of %d octets held without a close", 3*maxIncomplete, size)
}

// onChannel rewrites the channel of every frame in b.
func onChannel(b []byte, id uint16) []byte {
	out := append([]byte(nil), b...)
	for p := out; len(p) >= 8; {
		p[1], p[2] = byte(id>>8), byte(id)
		p = p[8+int(binary.BigEndian.Uint32(p[3:])):]
	}
	return out
}

// readMethod reads frames until a method frame and decodes it.
func readMethod(t *testing.T, nc net.Conn, fr *protocol.FrameReader) protocol.Method {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading a method: %v", err)
		}
		if f.Type != protocol.FrameMethod {
			continue
		}
		m, err := protocol.DecodeMethod(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
}

// readGetBody reads the reply to basic.get and returns the message body.
func readGetBody(t *testing.T, nc net.Conn, fr *protocol.FrameReader) []byte {
	t.Helper()
	for {
		m := readMethod(t, nc, fr)
		if _, ok := m.(*protocol.BasicGetOk); ok {
			break
		}
		if _, ok := m.(*protocol.QueueDeclareOk); !ok {
			t.Fatalf("got %s, want basic.get-ok", m.Name())
		}
	}
	f, err := fr.ReadFrame()
	if err != nil || f.Type != protocol.FrameHeader {
		t.Fatalf("want a content header: %v", err)
	}
	_, size, _, err := protocol.DecodeContentHeader(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	for uint64(len(body)) < size {
		f, err := fr.ReadFrame()
		if err != nil || f.Type != protocol.FrameBody {
			t.Fatalf("want a body frame: %v", err)
		}
		body = append(body, f.Payload...)
	}
	return body
}

// TestRepeatedPropertiesShared: a message whose raw properties are the
// same as the last small message's on the connection shares them,
// read-only, and its body buffer is exactly its size; different
// properties, or those of a large message, are not shared.
func TestRepeatedPropertiesShared(t *testing.T) {
	a := (&protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 1}).Append(nil)
	b := (&protocol.Properties{Flags: protocol.FlagContentType, ContentType: "text/plain"}).Append(nil)
	c, newCh := assembly(t, Config{})
	ch := newCh(1)
	var first []byte // the raw properties the next message shares, if any
	for i, tt := range []struct {
		raw    []byte
		size   int
		shared bool
	}{
		{a, 1024, false},
		{a, 1024, true},
		{a, 16, true},
		{b, 1024, false},
		{a, 1024, false},
		{b, 8 << 10, false}, // too large to become the one shared
		{b, 1024, false},
		{b, 1024, true},
	} {
		msg := ch.startContent(tt.raw, tt.size)
		if !bytes.Equal(msg.RawProps, tt.raw) || len(msg.Body) != 0 || cap(msg.Body) < tt.size {
			t.Fatalf("message %d: props %x (want %x), body len %d cap %d", i, msg.RawProps, tt.raw, len(msg.Body), cap(msg.Body))
		}
		shared := len(first) > 0 && &msg.RawProps[0] == &first[0]
		if shared != tt.shared {
			t.Fatalf("message %d: shared %v, want %v", i, shared, tt.shared)
		}
		if shared && cap(msg.Body) != tt.size {
			t.Fatalf("message %d: body capacity %d with shared properties, want %d", i, cap(msg.Body), tt.size)
		}
		if cap(msg.RawProps) != len(msg.RawProps) {
			t.Fatalf("message %d: properties capacity %d past their length %d", i, cap(msg.RawProps), len(msg.RawProps))
		}
		ch.msg = msg
		ch.endContent()
		ch.msg = nil
		first = c.lastProps
	}
	if c.incomplete != 0 {
		t.Fatalf("connection still holds %d", c.incomplete)
	}
}
