package remote

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// raw builds a frame of type t with payload p, its length as given by n
// (-1: the true length).
func raw(t byte, p []byte, n int) []byte {
	if n < 0 {
		n = len(p) + 1
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(n))
	return append(append(b, t), p...)
}

// built returns the frames fill appends.
func built(fill func(e *encoder)) []byte {
	var e encoder
	fill(&e)
	return e.buf
}

func helloFrame() []byte { return built(func(e *encoder) { e.hello() }) }

// TestMalformedFrames: whatever a peer sends, the home node ends that
// link with an error saying why, closes the conn, and goes on serving
// other links; nothing panics.
func TestMalformedFrames(t *testing.T) {
	openQ := built(func(e *encoder) {
		at := e.begin(fOpen)
		e.u32(1)
		e.str("/")
		e.str("q")
		e.str("n")
		e.u64(1)
		e.u16(1)
		e.end(at)
	})
	for _, tc := range []struct {
		name    string
		noHello bool
		send    []byte
		want    error
	}{
		{"not a link", true, raw(fHello, []byte("HTTP1"), -1), errMalformed},
		{"another version", true, raw(fHello, []byte(helloMagic+"\x02"), -1), errVersion},
		{"no hello first", true, raw(fStats, nil, -1), errMalformed},
		{"length past the limit", false, raw(fStats, nil, 0xffffffff), errMalformed},
		{"empty frame", false, raw(0, nil, 0), errMalformed},
		{"unknown type", false, raw(99, nil, -1), errMalformed},
		{"string past the end", false, raw(fTouch, []byte{0x7f, 'a'}, -1), errMalformed},
		{"trailing octets", false, raw(fClose, []byte{0, 0, 0, 1, 9}, -1), errMalformed},
		{"session never opened", false, raw(fGet, []byte{0, 0, 0, 7, 0}, -1), errMalformed},
		{"session opened twice", false, append(append([]byte(nil), openQ...), openQ...), errMalformed},
		{"reference to no message", false, raw(fQPub, append(built(func(e *encoder) {
			e.u64(1)
			e.str("/")
			e.str("q")
			e.u8(0)
		}), msgSame), -1), errMalformed},
		{"a message that is not one", false, raw(fQPub, append(built(func(e *encoder) {
			e.u64(1)
			e.str("/")
			e.str("q")
			e.u8(0)
			e.u8(msgInline)
			e.u32(3)
		}), 9, 9, 9), -1), errMalformed},
		{"more ids than octets", false, append(append([]byte(nil), openQ...), raw(fSettle, []byte{0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, -1)...), errMalformed},
		{"an answer sent to the home node", false, raw(fReply, make([]byte, 21), -1), errMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			h := newHome(t)
			h.declare("/", "q")
			c, err := net.Dial("tcp", h.ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := tc.send
			if !tc.noHello {
				msg = append(helloFrame(), msg...)
			}
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(waitFor))
			if _, err := io.Copy(io.Discard, c); err != nil {
				t.Fatalf("the home node did not close the link: %v", err)
			}
			eventually(t, "the link to end", func() bool { return len(h.served()) == 1 })
			if err := h.served()[0]; !errors.Is(err, tc.want) {
				t.Fatalf("the link ended with %v, want %v", err, tc.want)
			}
			// The node still serves other links.
			l := h.link(t)
			if _, err := l.Queue("/", "q").Purge(context.Background()); err != nil {
				t.Fatalf("another link after the malformed one: %v", err)
			}
		})
	}
}

// TestMalformedFromHome: a home node that sends garbage ends the link:
// the sessions on it hear the queue is down, and nothing panics.
func TestMalformedFromHome(t *testing.T) {
	checkGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(append(helloFrame(), raw(fAction, []byte{0, 0, 0, 1, 200}, -1)...))
		io.Copy(io.Discard, c)
	}()
	l := NewLink(LinkConfig{Peer: peerName, Log: testLog(t), Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ln.Addr().String())
	}})
	o := newOwner()
	s := l.Queue("/", "q").NewSession(o)
	o.wait(t, queue.ActionQueueDown, 1)
	s.Close()
	l.Close()
	<-done
}

// FuzzDecodeFrame feeds the decoder arbitrary frames (type octet, then
// payload): it never panics, and an action or reply it accepts encodes
// back to a frame that decodes the same.
func FuzzDecodeFrame(f *testing.F) {
	m := message("body")
	m.RawProps = m.Props.Append(nil)
	seeds := [][]byte{
		helloFrame(),
		built(func(e *encoder) {
			at := e.begin(fOpen)
			e.u32(1)
			e.str("/")
			e.str("q")
			e.str("warren@a")
			e.u64(3)
			e.u16(1)
			e.end(at)
		}),
		built(func(e *encoder) {
			at := e.begin(fPublish)
			e.u32(1)
			e.u8(flagConfirm)
			e.u64(1)
			e.u64(1)
			e.message(m)
			e.end(at)
			at = e.begin(fPublish)
			e.u32(2)
			e.u8(0)
			e.u64(0)
			e.u64(2)
			e.message(m)
			e.end(at)
		}),
		built(func(e *encoder) {
			at := e.begin(fConsume)
			e.u32(1)
			e.u32(1)
			appendConsumeOptions(e, queue.ConsumeOptions{Tag: "k", Prefetch: 10, Args: protocol.Table{"x-priority": int32(3)}})
			e.end(at)
		}),
		built(func(e *encoder) {
			at := e.begin(fSettle)
			e.u32(1)
			e.u8(byte(queue.Requeue))
			appendIDs(e, []uint64{1, 2, 3})
			e.end(at)
		}),
		built(func(e *encoder) {
			e.action(1, wireAction{kind: queue.ActionDeliver, cid: 1, delivery: queue.Delivery{ID: 1, Message: m, Redelivered: true, DeliveryCount: 2}})
			e.action(1, wireAction{kind: queue.ActionGetOK, delivery: queue.Delivery{ID: 2, Message: m}, count: 5})
			e.action(1, wireAction{kind: queue.ActionRefused, cid: 2, err: protocol.NewError(protocol.AccessRefused, "no")})
			e.action(1, wireAction{kind: queue.ActionSettled, seq: 9})
		}),
		built(func(e *encoder) { e.reply(4, 2, queue.Stats{Ready: 1, Unacked: 2, Consumers: 3}, nil) }),
		built(func(e *encoder) { e.reply(5, 0, queue.Stats{}, errors.New("plain")) }),
	}
	for _, s := range seeds {
		// One corpus entry per frame, without the length.
		for len(s) >= frameHeader {
			n := int(binary.BigEndian.Uint32(s))
			f.Add(s[4 : 4+n])
			s = s[4+n:]
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		d := decoder{last: m}
		fr, err := d.decode(data[0], data[1:])
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decode error %v does not wrap errMalformed", err)
			}
			return
		}
		var e encoder
		switch fr.typ {
		case fAction:
			e.action(fr.sid, fr.act)
		case fReply:
			e.reply(fr.req, fr.count, fr.stats, fr.err)
		default:
			return
		}
		var d2 decoder
		n := int(binary.BigEndian.Uint32(e.buf))
		again, err := d2.decode(e.buf[4], e.buf[5:4+n])
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !sameFrame(fr, again) {
			t.Fatalf("re-encoded frame decodes as %+v, want %+v", again, fr)
		}
	})
}

// sameFrame compares what an action or reply frame carries.
func sameFrame(a, b frame) bool {
	x, y := a.act, b.act
	if a.sid != b.sid || a.req != b.req || a.count != b.count || a.stats != b.stats ||
		x.kind != y.kind || x.cid != y.cid || x.seq != y.seq || x.count != y.count ||
		x.delivery.ID != y.delivery.ID || x.delivery.Redelivered != y.delivery.Redelivered ||
		x.delivery.DeliveryCount != y.delivery.DeliveryCount {
		return false
	}
	if (x.delivery.Message == nil) != (y.delivery.Message == nil) {
		return false
	}
	if x.delivery.Message != nil && !bytes.Equal(x.delivery.Message.Body, y.delivery.Message.Body) {
		return false
	}
	return errText(a.err) == errText(b.err) && errText(x.err) == errText(y.err)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
