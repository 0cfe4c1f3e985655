package e2e

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile input: raw frames no client library sends.

// defaultTune is what the raw clients of this file answer connection.tune
// with unless a case says otherwise.
var defaultTune = tuneOK{channelMax: 2047, frameMax: 131072}

// announceBodies opens channels first, first+1, … (n of them) and on each
// sends basic.publish and a content header announcing size octets of body,
// and no body. The caller learns that the broker handled them from the
// reply to a later method.
func announceBodies(r *rawConn, first uint16, n int, size int) {
	r.t.Helper()
	var b []byte
	for i := range n {
		var a args
		a.shortstr("")
		b = append(b, methodBytes(first+uint16(i), 20, 10, &a)...)
	}
	r.write(b)
	// RabbitMQ's channels answer concurrently: the open-oks come in any order.
	opened := make(map[uint16]bool, n)
	for len(opened) < n {
		f, err := r.readFrame(waitFor)
		if err != nil {
			r.t.Fatalf("%d of %d channels opened: %v", len(opened), n, err)
		}
		if f.typ == frameHeartbeat {
			continue
		}
		c, m := f.classMethod()
		if c != 20 || m != 11 || f.channel < first || f.channel >= first+uint16(n) || opened[f.channel] {
			r.t.Fatalf("got method %d.%d on channel %d, want channel.open-ok on %d to %d", c, m, f.channel, first, first+uint16(n)-1)
		}
		opened[f.channel] = true
	}
	b = b[:0]
	for i := range n {
		b = append(b, publishBytes(first+uint16(i), "", "e2e.hostile.nowhere")...)
		b = append(b, headerBytes(first+uint16(i), size)...)
	}
	r.write(b)
}

// TestAnnouncedBodiesHoldNoMemory: 2,000 channels each announcing a 16 MiB
// body that never comes cost the broker little memory (in-process Warren:
// the Go heap grows by far less than what was announced), the connection
// stays usable, and another client's publish is confirmed meanwhile.
func TestAnnouncedBodiesHoldNoMemory(t *testing.T) {
	const channels, size = 2000, 16 << 20
	r := dialRaw(t)
	r.handshake(defaultTune)
	before := heapInUse()
	announceBodies(r, 1, channels, size)
	r.openChannel(channels + 1) // all the headers were handled
	if !external {
		grown := int64(heapInUse()) - int64(before)
		t.Logf("heap grew by %d KiB for %d announced bodies of %d MiB", grown>>10, channels, size>>20)
		if grown > 256<<20 {
			t.Fatalf("heap grew by %d MiB for bodies that were announced, not sent", grown>>20)
		}
	}
	_, ch := open(t)
	mustOK(t, ch.Confirm(false), "confirm.select")
	q := name(t, "")
	if _, err := ch.QueueDeclare(q, false, true, true, false, nil); err != nil {
		t.Fatalf("declare: %v", err)
	}
	dc, err := ch.PublishWithDeferredConfirm("", q, false, false, text("confirmed"))
	mustOK(t, err, "publish")
	select {
	case <-dc.Done():
		if !dc.Acked() {
			t.Fatal("publish nacked")
		}
	case <-time.After(waitFor):
		t.Fatal("publish not confirmed")
	}
}

// heapInUse is the Go heap in use after a collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestSlowSenderIsAlive: a client that negotiated a 1 s heartbeat and is
// sending one frame slowly, a few octets at a time over about 3.5 s, is not
// dropped for missed heartbeats (any octet received counts, as in
// RabbitMQ), and its message arrives.
func TestSlowSenderIsAlive(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072, heartbeat: 1})
	r.openChannel(1)
	q := name(t, "")
	var decl args
	decl.u16(0).shortstr(q).u8(4).table(nil) // exclusive
	r.method(1, 50, 10, decl.b.Bytes())
	r.expectMethod(1, 50, 11)
	body := []byte(strings.Repeat("slow-body", 400))
	r.write(append(publishBytes(1, "", q), headerBytes(1, len(body))...))
	frame := frameBytes(frameBody, 1, body)
	const chunk, every = 10, 10 * time.Millisecond // about 3.6 s in all
	for len(frame) > 0 {
		n := min(chunk, len(frame))
		r.write(frame[:n])
		frame = frame[n:]
		time.Sleep(every) // the pace of the sender under test
	}
	r.write(getBytes(1, q))
	if got := r.readGetOK(1); got != string(body) {
		t.Fatalf("got %d octets, want the %d sent", len(got), len(body))
	}
}

// TestHeartbeatTimeoutStillDrops: byte counting does not keep a silent
// client alive: with a 1 s heartbeat, a client that stops after a partial
// frame is dropped.
func TestHeartbeatTimeoutStillDrops(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072, heartbeat: 1})
	r.openChannel(1)
	r.write(frameBytes(frameBody, 1, make([]byte, 100))[:50]) // half a frame, then silence
	start := time.Now()
	r.expectEOF(10 * time.Second)
	if took := time.Since(start); took < time.Second {
		t.Fatalf("dropped after %s, before one heartbeat interval", took)
	}
}

// TestFrameErrorIsDelivered: after a frame error followed by more input
// the server sends connection.close 501 and keeps the socket open for the
// client to read it and answer, rather than closing at once with the input
// unread, which makes the kernel reset the connection; then it closes.
func TestFrameErrorIsDelivered(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(defaultTune)
	r.openChannel(1)
	b := frameBytes(frameBody, 1, []byte("abc"))
	b[len(b)-1] = 0
	b = append(b, make([]byte, 64<<10)...) // garbage the server never parses
	_ = r.c.SetWriteDeadline(time.Now().Add(waitFor))
	_, _ = r.c.Write(b) // the server may stop reading: the close is the verdict
	f := r.expectMethod(0, 10, 50)
	if code, text := parseClose(f.payload); code != codeFrameError ||
		text != `FRAME_ERROR - type 3, all octets = <<"abc">>: {invalid_frame_end_marker,0}` {
		t.Fatalf("connection.close %d %q", code, text)
	}
	// A reset sent on close arrives at once; give it time to, then answer.
	time.Sleep(quietFor)
	_ = r.c.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := r.c.Write([]byte{frameMethod, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, frameEnd}); err != nil {
		t.Fatalf("connection.close-ok: %v: the server reset the connection", err)
	}
	r.expectEOF(waitFor)
}
