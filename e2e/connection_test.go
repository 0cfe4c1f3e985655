package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestServerProperties checks the connection.start a client sees: protocol
// 0-9-1 and every capability RabbitMQ advertises, which clients use to
// switch features on.
func TestServerProperties(t *testing.T) {
	t.Parallel()
	c := dial(t)
	if c.Major != 0 || c.Minor != 9 {
		t.Fatalf("version %d-%d, want 0-9", c.Major, c.Minor)
	}
	caps, ok := c.Properties["capabilities"].(amqp.Table)
	if !ok {
		t.Fatalf("server properties have no capabilities table: %v", c.Properties)
	}
	for _, k := range []string{
		"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
		"consumer_cancel_notify", "connection.blocked", "consumer_priorities",
		"authentication_failure_close", "per_consumer_qos", "direct_reply_to",
	} {
		if v, ok := caps[k].(bool); !ok || !v {
			t.Errorf("capability %s = %v, want true", k, caps[k])
		}
	}
	for _, k := range []string{"product", "version", "platform"} {
		if s, ok := c.Properties[k].(string); !ok || s == "" {
			t.Errorf("server property %s = %v, want a non-empty string", k, c.Properties[k])
		}
	}
}

// TestConnectionStartAndTune reads connection.start and connection.tune
// by hand: the SASL mechanisms and locale offered, and RabbitMQ's default
// channel_max, frame_max and heartbeat.
func TestConnectionStartAndTune(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.write([]byte("AMQP\x00\x00\x09\x01"))
	f := r.expectMethod(0, 10, 10)
	p := f.payload[4:]
	if p[0] != 0 || p[1] != 9 {
		t.Fatalf("connection.start version %d-%d, want 0-9", p[0], p[1])
	}
	p = p[2:]
	tableLen := binary.BigEndian.Uint32(p)
	p = p[4+tableLen:]
	mechLen := binary.BigEndian.Uint32(p)
	mechs := strings.Fields(string(p[4 : 4+mechLen]))
	p = p[4+mechLen:]
	locales := string(p[4 : 4+binary.BigEndian.Uint32(p)])
	for _, m := range []string{"PLAIN", "AMQPLAIN"} {
		found := false
		for _, got := range mechs {
			found = found || got == m
		}
		if !found {
			t.Errorf("mechanisms %q lack %s", mechs, m)
		}
	}
	if locales != "en_US" {
		t.Errorf("locales %q, want en_US", locales)
	}
	r.sendStartOK("PLAIN", "\x00guest\x00guest")
	f = r.expectMethod(0, 10, 30)
	q := f.payload[4:]
	chMax, frameMax, hb := binary.BigEndian.Uint16(q), binary.BigEndian.Uint32(q[2:]), binary.BigEndian.Uint16(q[6:])
	if chMax != 2047 || frameMax != 131072 || hb != 60 {
		t.Fatalf("tune channel_max=%d frame_max=%d heartbeat=%d, want RabbitMQ's defaults 2047 131072 60", chMax, frameMax, hb)
	}
}

// TestAuthMechanisms logs in with PLAIN and with AMQPLAIN.
func TestAuthMechanisms(t *testing.T) {
	t.Parallel()
	u, err := amqp.ParseURI(brokerURLOrSkip(t))
	mustOK(t, err, "parse url")
	for _, tc := range []struct {
		name string
		auth amqp.Authentication
	}{
		{"PLAIN", &amqp.PlainAuth{Username: u.Username, Password: u.Password}},
		{"AMQPLAIN", &amqp.AMQPlainAuth{Username: u.Username, Password: u.Password}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialConfig(t, amqp.Config{SASL: []amqp.Authentication{tc.auth}})
			if got := c.Config.SASL[0].Mechanism(); got != tc.name {
				t.Fatalf("mechanism used %s, want %s", got, tc.name)
			}
			ch := c.channel(t)
			expectOpen(t, ch)
		})
	}
}

// TestWrongPassword: RabbitMQ refuses the login. A client that does not
// advertise authentication_failure_close (amqp091-go) sees the socket
// closed; one that does gets connection.close 403 with RabbitMQ's text.
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	u, err := amqp.ParseURI(brokerURLOrSkip(t))
	mustOK(t, err, "parse url")
	u.Password = "wrong-password"
	_, err = amqp.Dial(u.String())
	if !errors.Is(err, amqp.ErrCredentials) {
		t.Fatalf("dial with a wrong password: %v, want amqp.ErrCredentials", err)
	}

	var amqplain args
	amqplain.tableField("LOGIN", 'S', func(a *args) { a.longstr("guest") })
	amqplain.tableField("PASSWORD", 'S', func(a *args) { a.longstr("wrong-password") })
	for _, mech := range []struct{ name, response string }{
		{"PLAIN", "\x00guest\x00wrong-password"},
		{"AMQPLAIN", amqplain.b.String()},
	} {
		r := dialRaw(t)
		r.write([]byte("AMQP\x00\x00\x09\x01"))
		r.expectMethod(0, 10, 10)
		r.sendStartOK(mech.name, mech.response)
		r.expectConnectionClose(codeAccessRefused,
			"ACCESS_REFUSED - Login was refused using authentication mechanism "+mech.name+". For details see the broker logfile.")
	}
}

// TestUnknownVhost: connection.open for a vhost that does not exist is
// refused with 530.
func TestUnknownVhost(t *testing.T) {
	t.Parallel()
	_, err := amqp.DialConfig(brokerURLOrSkip(t), amqp.Config{Vhost: "e2e-no-such-vhost"})
	expectError(t, err, codeNotAllowed, "NOT_ALLOWED - vhost e2e-no-such-vhost not found")
}

// TestTuneClientLowers: a client may lower channel_max, frame_max and the
// heartbeat; the broker must then keep to the lower frame_max when it
// sends (amqp091-go rejects larger frames), so a large message arrives
// split into small body frames.
func TestTuneClientLowers(t *testing.T) {
	t.Parallel()
	c := dialConfig(t, amqp.Config{ChannelMax: 3, FrameSize: 4096, Heartbeat: 5 * time.Second})
	if c.Config.ChannelMax != 3 || c.Config.FrameSize != 4096 || c.Config.Heartbeat != 5*time.Second {
		t.Fatalf("negotiated channel_max=%d frame_max=%d heartbeat=%s, want 3 4096 5s",
			c.Config.ChannelMax, c.Config.FrameSize, c.Config.Heartbeat)
	}
	ch := c.channel(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	publish(t, ch, "", q, amqp.Publishing{Body: body})
	d := getN(t, ch, q, 1, true)[0]
	if !bytes.Equal(d.Body, body) {
		t.Fatalf("body of %d bytes came back as %d bytes", len(body), len(d.Body))
	}
	if c.IsClosed() {
		t.Fatal("connection closed")
	}
}

// TestBadProtocolHeader: a header for another protocol version is answered
// with the header RabbitMQ supports, AMQP 0-9-1, and the socket is closed.
func TestBadProtocolHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, header string }{
		{"amqp-0-10", "AMQP\x00\x00\x0a\x00"},
		{"amqp-1-0", "AMQP\x00\x01\x00\x00"},
		{"garbage", "HELLO!!!"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t)
			r.write([]byte(tc.header))
			_ = r.c.SetReadDeadline(time.Now().Add(waitFor))
			// The socket may be reset rather than closed (the server
			// closes it with our unread bytes pending); either ends it.
			got, err := io.ReadAll(r.r)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("socket not closed within %s (got %q)", waitFor, got)
			}
			if string(got) != "AMQP\x00\x00\x09\x01" {
				t.Fatalf("reply %q, want %q then close", got, "AMQP\x00\x00\x09\x01")
			}
		})
	}
}

// TestHeartbeatTimeout: a client that negotiated a 1 s heartbeat and then
// sends nothing is dropped after about two missed intervals, while the
// server keeps sending heartbeats until then.
func TestHeartbeatTimeout(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072, heartbeat: 1})
	start := time.Now()
	heartbeats := r.expectEOF(10 * time.Second)
	took := time.Since(start)
	if took < time.Second {
		t.Fatalf("dropped after %s, before one heartbeat interval", took)
	}
	if heartbeats == 0 {
		t.Fatalf("server sent no heartbeat in the %s before it dropped the connection", took)
	}
}

// TestHeartbeatKeepsAlive: a client that does send heartbeats stays
// connected well past two intervals.
func TestHeartbeatKeepsAlive(t *testing.T) {
	t.Parallel()
	c := dialConfig(t, amqp.Config{Heartbeat: time.Second})
	ch := c.channel(t)
	// Bounded wait: the broker would drop a silent client within ~2 s.
	select {
	case e := <-c.closed:
		t.Fatalf("connection closed: %v", e)
	case <-time.After(3500 * time.Millisecond):
	}
	expectOpen(t, ch)
}

// TestConnectionCloseByClient: connection.close from the client is
// answered with close-ok and the socket is closed; amqp091-go reports a
// graceful close (no error).
func TestConnectionCloseByClient(t *testing.T) {
	t.Parallel()
	c := dial(t)
	mustOK(t, c.Close(), "connection.close")
	select {
	case e, ok := <-c.closed:
		if ok && e != nil {
			t.Fatalf("graceful close reported %v", e)
		}
	case <-time.After(waitFor):
		t.Fatal("close notification not delivered")
	}
	if !c.IsClosed() {
		t.Fatal("IsClosed false after Close")
	}

	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	var a args
	a.u16(200).shortstr("bye").u16(0).u16(0)
	r.method(0, 10, 50, a.b.Bytes())
	r.expectMethod(0, 10, 51)
	// After close-ok it is the client's turn to close the socket, so the
	// server is not required to close it here.
}

// TestConnectionCloseByServer: after a hard error the server sends
// connection.close, waits for close-ok, then closes the socket; a client
// that answers close-ok is not left hanging.
func TestConnectionCloseByServer(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	var a args
	a.shortstr("")
	r.method(1, 20, 10, a.b.Bytes()) // a second channel.open on the same channel is a hard error
	r.expectConnectionClose(codeChannelError, "CHANNEL_ERROR - second 'channel.open' seen")
}

// TestChannelCloseByClient: channel.close is answered with close-ok, the
// channel id can be opened again, and the connection is unaffected.
func TestChannelCloseByClient(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	mustOK(t, ch.Close(), "channel.close")
	if _, err := ch.QueueDeclare("", false, true, true, false, nil); !errors.Is(err, amqp.ErrClosed) {
		t.Fatalf("declare on a closed channel: %v, want ErrClosed", err)
	}
	expectOpen(t, c.channel(t))

	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	var a args
	a.u16(200).shortstr("done").u16(0).u16(0)
	r.method(1, 20, 40, a.b.Bytes())
	r.expectMethod(1, 20, 41)
	r.openChannel(1)
}

// TestChannelCloseByServer: a channel exception closes only that channel;
// other channels of the connection keep working, and the client answers
// close-ok (raw: the server then accepts the id again).
func TestChannelCloseByServer(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	other := c.channel(t)
	q := name(t, "missing")
	_, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
	expectChannelError(t, ch, err, codeNotFound, "NOT_FOUND - no queue '"+q+"' in vhost '/'")
	expectOpen(t, other)

	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	r.openChannel(1)
	var a args
	a.u16(0).shortstr(q).u8(1).table(nil) // queue.declare passive
	r.method(1, 50, 10, a.b.Bytes())
	f := r.expectMethod(1, 20, 40)
	if code, text := parseClose(f.payload); code != codeNotFound || text != "NOT_FOUND - no queue '"+q+"' in vhost '/'" {
		t.Fatalf("channel.close %d %q", code, text)
	}
	r.method(1, 20, 41, nil) // channel.close-ok
	r.openChannel(1)
}

// TestMethodOnUnopenedChannel: any method but channel.open on a channel
// that was never opened is a connection error 504.
func TestMethodOnUnopenedChannel(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
	var a args
	a.u16(0).shortstr(name(t, "")).u8(0).table(nil) // queue.declare
	r.method(5, 50, 10, a.b.Bytes())
	r.expectConnectionClose(codeChannelError, "CHANNEL_ERROR - expected 'channel.open'")
}

// TestChannelMaxExceeded: opening more channels than the negotiated
// channel_max closes the connection with 530.
func TestChannelMaxExceeded(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2, frameMax: 131072})
	r.openChannel(1)
	r.openChannel(2)
	var a args
	a.shortstr("")
	r.method(3, 20, 10, a.b.Bytes())
	r.expectConnectionClose(codeNotAllowed, "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)")
}

// TestChannelFlow: channel.flow(active=true) is acknowledged;
// active=false is refused as RabbitMQ does, with 540, a connection error.
func TestChannelFlow(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	mustOK(t, ch.Flow(true), "channel.flow active=true")
	expectOpen(t, ch)
	err := ch.Flow(false)
	expectError(t, err, codeNotImplemented, "NOT_IMPLEMENTED - active=false")
	expectConnClose(t, c, codeNotImplemented, "NOT_IMPLEMENTED - active=false")
}

// TestFrameTooLarge: a frame larger than the negotiated frame_max closes
// the connection with 501.
func TestFrameTooLarge(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.handshake(tuneOK{channelMax: 2047, frameMax: 4096})
	r.openChannel(1)
	// The whole frame is sent, as a client would; the server may stop
	// reading after the header, so a failed write is not the test's
	// verdict: the connection.close that must arrive is.
	var b bytes.Buffer
	b.Write([]byte{frameBody, 0, 1})
	_ = binary.Write(&b, binary.BigEndian, uint32(5000))
	b.Write(make([]byte, 5000))
	b.WriteByte(frameEnd)
	_, _ = r.c.Write(b.Bytes())
	r.expectConnectionClose(codeFrameError, "FRAME_ERROR - type 3, all octets = <<>>: {frame_too_large,5000,4088}")
}

// TestUnexpectedFrame: frames that cannot come where they come close the
// connection with 505.
func TestUnexpectedFrame(t *testing.T) {
	t.Parallel()
	header := make([]byte, 14)
	binary.BigEndian.PutUint16(header, 60) // basic
	binary.BigEndian.PutUint64(header[4:], 3)
	for _, tc := range []struct {
		name string
		send func(r *rawConn)
		text string
	}{
		{"header-without-publish", func(r *rawConn) { r.frame(frameHeader, 1, header) },
			"UNEXPECTED_FRAME - expected method frame, got non method frame instead"},
		{"body-without-publish", func(r *rawConn) { r.frame(frameBody, 1, []byte("abc")) },
			"UNEXPECTED_FRAME - expected method frame, got non method frame instead"},
		{"method-instead-of-header", func(r *rawConn) {
			var a args
			a.u16(0).shortstr("").shortstr("k").u8(0)
			r.method(1, 60, 40, a.b.Bytes()) // basic.publish
			r.method(1, 60, 40, a.b.Bytes()) // again, instead of its content header
		}, "UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead"},
		{"heartbeat-on-channel", func(r *rawConn) { r.frame(frameHeartbeat, 1, nil) },
			"UNEXPECTED_FRAME - type 8, all octets = <<>>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t)
			r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
			r.openChannel(1)
			tc.send(r)
			r.expectConnectionClose(codeUnexpectedFrame, tc.text)
		})
	}
}

// TestUpdateSecret: connection.update-secret is acknowledged for the
// internal user store, and the connection keeps working.
func TestUpdateSecret(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	mustOK(t, c.UpdateSecret("guest", "rotation"), "connection.update-secret")
	expectOpen(t, ch)
}

// TestHeartbeatDisabledByClient: the heartbeat is what the client answers
// in tune-ok; a client that answers 0 is not dropped for silence even by
// a broker that offers 1 s.
func TestHeartbeatDisabledByClient(t *testing.T) {
	t.Parallel()
	url := ownBroker(t, warrenOptions{Heartbeat: time.Second})
	u, err := amqp.ParseURI(url)
	mustOK(t, err, "parse")
	c, err := net.DialTimeout("tcp", net.JoinHostPort(u.Host, fmt.Sprint(u.Port)), waitFor)
	mustOK(t, err, "dial")
	t.Cleanup(func() { _ = c.Close() })
	r := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	server := r.handshakeURL(u, tuneOK{channelMax: 2047, frameMax: 131072, heartbeat: 0})
	if server.heartbeat != 1 {
		t.Fatalf("broker offered heartbeat %d, want its configured 1", server.heartbeat)
	}
	// Bounded wait: a broker enforcing a 1 s heartbeat would drop a silent
	// client within about 2 s; with heartbeats off it sends none either.
	f, err := r.readFrame(3500 * time.Millisecond)
	var ne net.Error
	switch {
	case err == nil:
		t.Fatalf("broker sent frame type %d though the client negotiated heartbeat 0", f.typ)
	case !errors.As(err, &ne) || !ne.Timeout():
		t.Fatalf("silent client with heartbeat 0 was dropped: %v", err)
	}
	r.openChannel(1)
}

// TestFrameErrors: malformed frames close the connection with 501 and
// RabbitMQ's text.
func TestFrameErrors(t *testing.T) {
	t.Parallel()
	header := func(bodySize uint64) []byte {
		h := make([]byte, 14)
		binary.BigEndian.PutUint16(h, 60)
		binary.BigEndian.PutUint64(h[4:], bodySize)
		return h
	}
	publishMethod := func(r *rawConn) {
		var a args
		a.u16(0).shortstr("").shortstr("k").u8(0)
		r.method(1, 60, 40, a.b.Bytes())
	}
	for _, tc := range []struct {
		name   string
		send   func(r *rawConn)
		text   string
		only4x string // why 3.x differs, if it does
	}{
		{"unknown-frame-type", func(r *rawConn) { r.frame(9, 1, nil) },
			"FRAME_ERROR - type 9, all octets = <<>>: unknown_frame", ""},
		{"bad-frame-end", func(r *rawConn) {
			r.write([]byte{frameHeartbeat, 0, 0, 0, 0, 0, 0, 0x00})
		}, "FRAME_ERROR - type 8, all octets = <<>>: {invalid_frame_end_marker,0}", ""},
		{"undecodable-method", func(r *rawConn) {
			r.method(1, 50, 10, []byte{0, 0, 5, 'a', 'b'}) // queue.declare, name cut short
		}, "FRAME_ERROR - cannot decode <<0,0,5,97,98>>", ""},
		{"body-over-size", func(r *rawConn) {
			publishMethod(r)
			r.frame(frameHeader, 1, header(2))
			r.frame(frameBody, 1, []byte("abc"))
		}, "FRAME_ERROR - content body frame exceeds remaining content size",
			"3.x does not check the body against the declared size and waits for more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.only4x != "" {
				skipOnRabbit310(t, tc.only4x)
			}
			r := dialRaw(t)
			r.handshake(tuneOK{channelMax: 2047, frameMax: 131072})
			r.openChannel(1)
			tc.send(r)
			r.expectConnectionClose(codeFrameError, tc.text)
		})
	}
}

// TestUnknownAuthMechanism: a start-ok naming a mechanism the server did
// not offer gets no tune: the server closes the connection.
func TestUnknownAuthMechanism(t *testing.T) {
	t.Parallel()
	r := dialRaw(t)
	r.write([]byte("AMQP\x00\x00\x09\x01"))
	r.expectMethod(0, 10, 10)
	r.sendStartOK("E2E-NONSENSE", "x")
	for {
		f, err := r.readFrame(waitFor)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection still open after an unknown mechanism")
			}
			return // closed
		}
		if c, m := f.classMethod(); c == 10 && m == 30 {
			t.Fatal("connection.tune after an unknown mechanism")
		}
	}
}

// TestHandshakeTimeout: a client that connects and does not finish the
// handshake within handshake_timeout is disconnected, whether it sends
// nothing at all or stops after the protocol header.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	url := ownBroker(t, warrenOptions{HandshakeTimeout: 500 * time.Millisecond})
	u, err := amqp.ParseURI(url)
	mustOK(t, err, "parse")
	for _, tc := range []struct {
		name string
		send []byte
	}{{"silent", nil}, {"header-only", []byte("AMQP\x00\x00\x09\x01")}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.DialTimeout("tcp", net.JoinHostPort(u.Host, fmt.Sprint(u.Port)), waitFor)
			mustOK(t, err, "dial")
			t.Cleanup(func() { _ = c.Close() })
			r := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
			if tc.send != nil {
				r.write(tc.send)
			}
			start := time.Now()
			r.expectEOF(waitFor)
			if el := time.Since(start); el < 250*time.Millisecond {
				t.Fatalf("closed after %s, before the 500 ms handshake timeout", el)
			}
		})
	}
}

// TestHeartbeatTimeoutConfigured: a broker configured with a 1 s heartbeat
// offers it in connection.tune, and drops a client that accepts it and then
// falls silent after about two intervals.
func TestHeartbeatTimeoutConfigured(t *testing.T) {
	t.Parallel()
	url := ownBroker(t, warrenOptions{Heartbeat: time.Second})
	u, err := amqp.ParseURI(url)
	mustOK(t, err, "parse")
	c, err := net.DialTimeout("tcp", net.JoinHostPort(u.Host, fmt.Sprint(u.Port)), waitFor)
	mustOK(t, err, "dial")
	t.Cleanup(func() { _ = c.Close() })
	r := &rawConn{t: t, c: c, r: bufio.NewReader(c)}
	server := r.handshakeURL(u, tuneOK{channelMax: 2047, frameMax: 131072, heartbeat: 1})
	if server.heartbeat != 1 {
		t.Fatalf("broker offered heartbeat %d, want its configured 1", server.heartbeat)
	}
	start := time.Now()
	heartbeats := r.expectEOF(10 * time.Second)
	if took := time.Since(start); took < time.Second || heartbeats == 0 {
		t.Fatalf("dropped after %s with %d heartbeats sent, want after ≥1 s with heartbeats", took, heartbeats)
	}
}

// TestTuneOkOutOfRange: a tune-ok asking for more than the server offered
// (0 means no limit) or a frame_max under 4096 is refused with 530 and
// RabbitMQ 4's text.
func TestTuneOkOutOfRange(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x drops the socket without a connection.close")
	for _, tc := range []struct {
		name string
		tune tuneOK
		text string
	}{
		{"channel-max-unlimited", tuneOK{channelMax: 0, frameMax: 131072},
			"NOT_ALLOWED - negotiated channel_max = 0 (no limit) is higher than the maximum allowed value (2047)"},
		{"channel-max-higher", tuneOK{channelMax: 4000, frameMax: 131072},
			"NOT_ALLOWED - negotiated channel_max = 4000 is higher than the maximum allowed value (2047)"},
		{"frame-max-unlimited", tuneOK{channelMax: 2047, frameMax: 0},
			"NOT_ALLOWED - negotiated frame_max = 0 is higher than the maximum allowed value (131072)"},
		{"frame-max-too-small", tuneOK{channelMax: 2047, frameMax: 1024},
			"NOT_ALLOWED - negotiated frame_max = 1024 is lower than the minimum allowed value (4096)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := dialRaw(t)
			r.write([]byte("AMQP\x00\x00\x09\x01"))
			r.expectMethod(0, 10, 10)
			r.sendStartOK("PLAIN", "\x00guest\x00guest")
			r.expectMethod(0, 10, 30)
			var a args
			a.u16(tc.tune.channelMax).u32(tc.tune.frameMax).u16(0)
			r.method(0, 10, 31, a.b.Bytes())
			r.expectConnectionClose(codeNotAllowed, tc.text)
		})
	}
}

// TestConnectionBlocked: under a memory alarm a connection that publishes
// hears connection.blocked ("low on memory") and is no longer read from its
// first publish on, so none of its messages arrives (RabbitMQ stops reading
// at the first content frame); a connection that does not publish keeps
// working.
func TestConnectionBlocked(t *testing.T) {
	t.Parallel()
	url := ownBroker(t, warrenOptions{MemoryHighWatermark: 1}) // always over
	admin := dialURL(t, url, amqp.Config{})
	ach := admin.channel(t)
	q := name(t, "")
	_, err := ach.QueueDeclare(q, false, false, false, false, nil)
	mustOK(t, err, "declare")

	// A blocked connection is not read, so it would not see connection.close
	// either: close it with a deadline.
	pconn, err := amqp.Dial(url)
	mustOK(t, err, "dial publisher")
	t.Cleanup(func() { _ = pconn.CloseDeadline(time.Now().Add(time.Second)) })
	blocked := pconn.NotifyBlocked(make(chan amqp.Blocking, 4))
	pch, err := pconn.Channel()
	mustOK(t, err, "channel")
	mustOK(t, pch.Publish("", q, false, false, text("first")), "publish")
	select {
	case b := <-blocked:
		if !b.Active || b.Reason != "low on memory" {
			t.Fatalf("blocking notice %+v, want active, low on memory", b)
		}
	case <-time.After(waitFor):
		t.Fatal("no connection.blocked for a publisher under a memory alarm")
	}
	mustOK(t, pch.Publish("", q, false, false, text("held back")), "publish")
	// Bounded wait: a blocked publisher's messages must not arrive.
	time.Sleep(quietFor)
	expectCount(t, ach, q, 0)
	expectOpen(t, ach)
}
