package e2e

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// Raw-frame builders for the framing tests.

func frameBytes(typ byte, ch uint16, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteByte(typ)
	_ = binary.Write(&b, binary.BigEndian, ch)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(payload)))
	b.Write(payload)
	b.WriteByte(frameEnd)
	return b.Bytes()
}

func methodBytes(ch, class, method uint16, a *args) []byte {
	p := make([]byte, 4)
	binary.BigEndian.PutUint16(p, class)
	binary.BigEndian.PutUint16(p[2:], method)
	if a != nil {
		p = append(p, a.b.Bytes()...)
	}
	return frameBytes(frameMethod, ch, p)
}

func queueDeclareBytes(ch uint16, q string) []byte {
	var a args
	a.u16(0).shortstr(q).u8(0).table(nil)
	return methodBytes(ch, 50, 10, &a)
}

func publishBytes(ch uint16, exchange, key string) []byte {
	var a args
	a.u16(0).shortstr(exchange).shortstr(key).u8(0)
	return methodBytes(ch, 60, 40, &a)
}

// headerBytes is a basic content header with no properties.
func headerBytes(ch uint16, size int) []byte {
	p := make([]byte, 14)
	binary.BigEndian.PutUint16(p, 60)
	binary.BigEndian.PutUint64(p[4:], uint64(size))
	return frameBytes(frameHeader, ch, p)
}

func getBytes(ch uint16, q string) []byte {
	var a args
	a.u16(0).shortstr(q).u8(1) // no-ack
	return methodBytes(ch, 60, 70, &a)
}

// readGetOK reads basic.get-ok and its content and returns the body.
func (r *rawConn) readGetOK(ch uint16) string {
	r.t.Helper()
	r.expectMethod(ch, 60, 71)
	return r.readContent()
}

// TestPipelinedMethods: a client may send many methods and a message in
// one write without waiting for replies; they are handled, and answered,
// in order.
func TestPipelinedMethods(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	var open args
	open.shortstr("")
	var all []byte
	all = append(all, methodBytes(1, 20, 10, &open)...)
	all = append(all, queueDeclareBytes(1, q)...)
	all = append(all, publishBytes(1, "", q)...)
	all = append(all, headerBytes(1, 5)...)
	all = append(all, frameBytes(frameBody, 1, []byte("hello"))...)
	all = append(all, getBytes(1, q)...)
	r.write(all)
	r.expectMethod(1, 20, 11) // channel.open-ok
	r.expectMethod(1, 50, 11) // queue.declare-ok
	if got := r.readGetOK(1); got != "hello" {
		t.Fatalf("get-ok body %q", got)
	}
}

// TestDribbledFrames: frames that arrive a byte at a time, a body split
// into many small body frames, and a heartbeat between a message's frames
// are all fine.
func TestDribbledFrames(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	r.write(queueDeclareBytes(1, q))
	r.expectMethod(1, 50, 11)

	var msg []byte
	msg = append(msg, publishBytes(1, "", q)...)
	msg = append(msg, headerBytes(1, 6)...)
	msg = append(msg, frameBytes(frameBody, 1, []byte("ab"))...)
	msg = append(msg, frameBytes(frameHeartbeat, 0, nil)...) // heartbeat mid-message
	msg = append(msg, frameBytes(frameBody, 1, []byte("cd"))...)
	msg = append(msg, frameBytes(frameBody, 1, []byte("ef"))...)
	msg = append(msg, getBytes(1, q)...)
	for _, b := range msg {
		r.write([]byte{b})
		time.Sleep(100 * time.Microsecond) // a slow network, not synchronisation
	}
	if got := r.readGetOK(1); got != "abcdef" {
		t.Fatalf("get-ok body %q, want abcdef", got)
	}
}

// TestInterleavedChannels: content frames of messages on different
// channels may interleave; each channel assembles its own.
func TestInterleavedChannels(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	r.openChannel(2)
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	r.write(queueDeclareBytes(1, q))
	r.expectMethod(1, 50, 11)
	var all []byte
	all = append(all, publishBytes(1, "", q)...)
	all = append(all, publishBytes(2, "", q)...)
	all = append(all, headerBytes(2, 4)...)
	all = append(all, headerBytes(1, 4)...)
	all = append(all, frameBytes(frameBody, 1, []byte("on"))...)
	all = append(all, frameBytes(frameBody, 2, []byte("tw"))...)
	all = append(all, frameBytes(frameBody, 1, []byte("e1"))...)
	all = append(all, frameBytes(frameBody, 2, []byte("o2"))...)
	r.write(all)
	// Ordering across channels is not defined; collect both.
	got := map[string]bool{}
	deadline := time.Now().Add(waitFor)
	for len(got) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("got %v within %s, want both messages", got, waitFor)
		}
		r.write(getBytes(1, q))
		f := r.expectAnyMethod(1)
		switch c, m := f.classMethod(); {
		case c == 60 && m == 72: // get-empty: not there yet
			time.Sleep(10 * time.Millisecond)
		case c == 60 && m == 71:
			got[r.readContent()] = true
		default:
			t.Fatalf("unexpected method %d.%d", c, m)
		}
	}
	if !got["one1"] || !got["two2"] {
		t.Fatalf("bodies %v, want one1 and two2", got)
	}
}

// expectAnyMethod reads the next method frame on ch, skipping heartbeats.
func (r *rawConn) expectAnyMethod(ch uint16) rawFrame {
	r.t.Helper()
	for {
		f, err := r.readFrame(waitFor)
		if err != nil {
			r.t.Fatalf("waiting for a method on channel %d: %v", ch, err)
		}
		if f.typ == frameHeartbeat {
			continue
		}
		if f.typ != frameMethod || f.channel != ch {
			r.t.Fatalf("got frame type %d on channel %d", f.typ, f.channel)
		}
		return f
	}
}

// readContent reads a content header and its body frames.
func (r *rawConn) readContent() string {
	r.t.Helper()
	h, err := r.readFrame(waitFor)
	if err != nil || h.typ != frameHeader {
		r.t.Fatalf("want a content header: %v", err)
	}
	size := int(binary.BigEndian.Uint64(h.payload[4:]))
	var body []byte
	for len(body) < size {
		f, err := r.readFrame(waitFor)
		if err != nil || f.typ != frameBody {
			r.t.Fatalf("want a body frame: %v", err)
		}
		body = append(body, f.payload...)
	}
	return string(body)
}

// TestMethodsAfterChannelCloseIgnored: after the server sends
// channel.close it discards what the client sent on that channel before
// seeing it, until close-ok; the connection is unaffected.
func TestMethodsAfterChannelCloseIgnored(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	var passive args
	passive.u16(0).shortstr(q + ".missing").u8(1).table(nil)
	var all []byte
	all = append(all, methodBytes(1, 50, 10, &passive)...) // fails: 404
	all = append(all, queueDeclareBytes(1, q)...)          // in flight, ignored
	all = append(all, publishBytes(1, "", q)...)           // ignored, with its content
	all = append(all, headerBytes(1, 1)...)
	all = append(all, frameBytes(frameBody, 1, []byte("x"))...)
	r.write(all)
	f := r.expectMethod(1, 20, 40)
	if code, text := parseClose(f.payload); code != codeNotFound {
		t.Fatalf("channel.close %d %q, want 404", code, text)
	}
	r.method(1, 20, 41, nil) // close-ok
	r.openChannel(1)
	var passive2 args
	passive2.u16(0).shortstr(q).u8(1).table(nil)
	r.method(1, 50, 10, passive2.b.Bytes())
	f = r.expectMethod(1, 20, 40) // the ignored declare never created q
	if code, text := parseClose(f.payload); code != codeNotFound || text != "NOT_FOUND - no queue '"+q+"' in vhost '/'" {
		t.Fatalf("channel.close %d %q, want 404 for %s", code, text, q)
	}
}
