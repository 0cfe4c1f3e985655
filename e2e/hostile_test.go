package e2e

import (
	"encoding/binary"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile input: raw frames no client library sends. Each case asserts
// the broker's answer and that it still serves a well-behaved client.

// defaultTune is what the raw clients of this file answer connection.tune
// with unless a case says otherwise.
var defaultTune = tuneOK{channelMax: 2047, frameMax: 131072}

// hostileCase is one kind of bad input.
type hostileCase struct {
	name string
	tune *tuneOK // nil: defaultTune
	// preTune runs the case after connection.start instead of after the
	// handshake and channel.open on channel 1.
	preTune bool
	run     func(r *rawConn)
	// code and text are the connection.close expected; code 0 means the
	// connection stays usable (or, with preTune, that connection.tune
	// follows). A text ending in "..." is a prefix.
	code int
	text string
	// rabbitDrops says why RabbitMQ drops the connection without
	// connection.close where Warren sends code: against an external broker
	// the case asserts the drop.
	rabbitDrops string
	// only4x says why RabbitMQ 3.x differs, if it does.
	only4x string
	// warrenOnly says where Warren deliberately differs from RabbitMQ, if it
	// does: the case is skipped against an external broker.
	warrenOnly string
}

// TestHostileInput: malformed or out-of-place frames get RabbitMQ's reply,
// and the broker keeps serving other clients.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	for _, tc := range hostileCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.only4x != "" {
				skipOnRabbit310(t, tc.only4x)
			}
			if external && tc.warrenOnly != "" {
				t.Skip("Warren differs from RabbitMQ here: " + tc.warrenOnly)
			}
			r := dialRaw(t)
			if tc.preTune {
				r.write([]byte("AMQP\x00\x00\x09\x01"))
				r.expectMethod(0, 10, 10) // connection.start
			} else {
				tune := defaultTune
				if tc.tune != nil {
					tune = *tc.tune
				}
				r.handshake(tune)
				r.openChannel(1)
			}
			tc.run(r)
			switch {
			case tc.code == 0 && tc.preTune:
				r.expectMethod(0, 10, 30) // connection.tune
			case tc.code == 0:
				r.openChannel(2047) // still usable: frames before it were handled
			case external && tc.rabbitDrops != "":
				r.expectDropped()
			default:
				r.expectClose(tc.code, tc.text)
			}
			expectServes(t)
		})
	}
}

// hostileCases lists the inputs of TestHostileInput.
func hostileCases(t *testing.T) []hostileCase {
	declare := func(ch uint16, arguments []byte) []byte {
		var a args
		a.u16(0).shortstr(name(t, "nested")).u8(4).table(arguments) // exclusive
		return methodBytes(ch, 50, 10, &a)
	}
	return []hostileCase{
		{name: "announced-bodies-never-sent", run: func(r *rawConn) {
			announceBodies(r, 2, 100, 16<<20)
		}},
		{name: "frame-over-frame-max", run: func(r *rawConn) {
			b := []byte{frameBody, 0, 1}
			b = binary.BigEndian.AppendUint32(b, 200000)
			r.write(append(b, make([]byte, 1000)...))
		}, code: codeFrameError, text: "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,200000,131064}"},
		{name: "bad-frame-end", run: func(r *rawConn) {
			b := frameBytes(frameBody, 1, []byte("abc"))
			b[len(b)-1] = 'x'
			r.write(b)
		}, code: codeFrameError, text: `FRAME_ERROR - type 3, all octets = <<"abc">>: {invalid_frame_end_marker,120}`},
		{name: "unknown-frame-type", run: func(r *rawConn) { r.frame(9, 1, []byte("x")) },
			code: codeFrameError, text: `FRAME_ERROR - type 9, all octets = <<"x">>: unknown_frame`},
		{name: "nested-tables-within-bound", run: func(r *rawConn) {
			r.write(declare(1, nestedTable(64)))
			r.expectMethod(1, 50, 11) // declare-ok
		}},
		{name: "nested-tables-past-bound", run: func(r *rawConn) {
			r.write(declare(1, nestedTable(10000)))
		}, code: codeFrameError, text: "FRAME_ERROR - cannot decode <<...",
			warrenOnly: "RabbitMQ accepts tables nested to any depth; Warren refuses more than 64 levels (protocol/doc.go)"},
		{name: "shortstr-past-payload", run: func(r *rawConn) {
			r.method(1, 50, 10, []byte{0, 0, 200, 'a', 'b'})
		}, code: codeFrameError, text: "FRAME_ERROR - cannot decode <<0,0,200,97,98>>"},
		{name: "table-past-payload", run: func(r *rawConn) {
			r.method(1, 50, 10, []byte{0, 0, 1, 'q', 0, 0, 0, 0, 100, 1, 2})
		}, code: codeFrameError, text: "FRAME_ERROR - cannot decode <<0,0,1,113,0,0,0,0,100,1,2>>"},
		{name: "longstr-past-its-table", run: func(r *rawConn) {
			r.method(1, 50, 10, []byte{0, 0, 1, 'q', 0, 0, 0, 0, 5, 1, 'k', 'S', 0, 0})
		}, code: codeFrameError, text: "FRAME_ERROR - cannot decode <<0,0,1,113,0,0,0,0,5,1,107,83,0,0>>",
			rabbitDrops: "its field-table parser fails on an entry that overruns the table"},
		{name: "body-without-header", run: func(r *rawConn) {
			r.write(publishBytes(1, "", "k"))
			r.frame(frameBody, 1, []byte("abc"))
		}, code: codeUnexpectedFrame, text: "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead"},
		{name: "header-without-publish", run: func(r *rawConn) { r.write(headerBytes(1, 3)) },
			code: codeUnexpectedFrame, text: "UNEXPECTED_FRAME - expected method frame, got non method frame instead"},
		{name: "body-on-unopened-channel", run: func(r *rawConn) { r.frame(frameBody, 7, []byte("abc")) },
			code: codeUnexpectedFrame, text: "UNEXPECTED_FRAME - expected method frame, got non method frame instead"},
		{name: "channel-above-channel-max", tune: &tuneOK{channelMax: 10, frameMax: 131072}, run: func(r *rawConn) {
			// channel_max limits how many channels are open, not their
			// numbers.
			r.openChannel(100)
		}},
		{name: "method-on-unopened-channel", run: func(r *rawConn) { r.write(queueDeclareBytes(5, "")) },
			code: codeChannelError, text: "CHANNEL_ERROR - expected 'channel.open'"},
		{name: "method-on-unopened-channel-above-channel-max", tune: &tuneOK{channelMax: 10, frameMax: 131072},
			run:  func(r *rawConn) { r.write(queueDeclareBytes(4000, "")) },
			code: codeChannelError, text: "CHANNEL_ERROR - expected 'channel.open'"},
		{name: "huge-frame-before-tune", preTune: true, run: func(r *rawConn) {
			r.write(startOKBytes(9000))
		}, code: codeFrameError, text: "FRAME_ERROR - type 1, all octets = <<>>: {frame_too_large,9043,8184}",
			rabbitDrops: "it closes the socket without connection.close after a frame error during the handshake"},
		{name: "frame-under-4x-pre-tune-limit", preTune: true, run: func(r *rawConn) {
			r.write(startOKBytes(8000))
		}, only4x: "3.x's frame_max before tuning is 4096, 4.x's 8192"},
	}
}

// nestedTable is the body of a field table holding a table holding a
// table, depth deep: each level is the entry "n" of type F.
func nestedTable(depth int) []byte {
	b := make([]byte, 0, 7*depth)
	for level := depth; level >= 1; level-- {
		b = append(b, 1, 'n', 'F')
		b = binary.BigEndian.AppendUint32(b, uint32(7*(level-1)))
	}
	return b
}

// startOKBytes is connection.start-ok as guest with a client property of
// pad octets, so that its payload is pad+43 octets.
func startOKBytes(pad int) []byte {
	var props args
	props.tableField("p", 'S', func(a *args) { a.longstr(strings.Repeat("x", pad)) })
	var a args
	a.table(props.b.Bytes()).shortstr("PLAIN").longstr("\x00guest\x00guest").shortstr("en_US")
	return methodBytes(0, 10, 11, &a)
}

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

// expectClose waits for connection.close with code and text (a text
// ending in "..." is a prefix), answers close-ok and checks that the
// server then closes the socket.
func (r *rawConn) expectClose(code int, text string) {
	r.t.Helper()
	if prefix, ok := strings.CutSuffix(text, "..."); ok {
		f := r.expectMethod(0, 10, 50)
		if gotCode, gotText := parseClose(f.payload); gotCode != code || !strings.HasPrefix(gotText, prefix) {
			r.t.Fatalf("connection.close = %d %q, want %d %q…", gotCode, gotText, code, prefix)
		}
		r.write([]byte{frameMethod, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, frameEnd})
		r.expectEOF(waitFor)
		return
	}
	r.expectConnectionClose(code, text)
}

// expectDropped asserts the server closes the socket, sending no
// connection.close and no connection.tune first.
func (r *rawConn) expectDropped() {
	r.t.Helper()
	for {
		f, err := r.readFrame(waitFor)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.t.Fatalf("connection still open after %s", waitFor)
			}
			return
		}
		if c, m := f.classMethod(); c == 10 && (m == 50 || m == 30) {
			r.t.Fatalf("got connection method 10.%d, want the socket closed", m)
		}
	}
}

// expectServes asserts that the broker serves a well-behaved client: a
// queue is declared, a message published to it and fetched back.
func expectServes(t *testing.T) {
	t.Helper()
	_, ch := open(t)
	q := name(t, "served")
	if _, err := ch.QueueDeclare(q, false, true, true, false, nil); err != nil {
		t.Fatalf("declare after hostile input: %v", err)
	}
	publish(t, ch, "", q, text("still here"))
	if got := bodies(getN(t, ch, q, 1, true)); got[0] != "still here" {
		t.Fatalf("got %q, want the message published", got)
	}
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
