package e2e

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Timeouts used across the suite.
const (
	// waitFor bounds every wait for something that must happen.
	waitFor = 5 * time.Second
	// quietFor is how long a test watches for something that must NOT
	// happen (a delivery, a close). It cannot prove absence; it is long
	// enough for a loopback broker to have acted had it been going to.
	quietFor = 300 * time.Millisecond
)

// Reply codes the tests assert (AMQP 0-9-1 and RabbitMQ's use of them).
const (
	codeReplySuccess     = 200
	codeNoRoute          = 312
	codeAccessRefused    = 403
	codeNotFound         = 404
	codeResourceLocked   = 405
	codePreconditionFail = 406
	codeFrameError       = 501
	codeSyntaxError      = 502
	codeCommandInvalid   = 503
	codeChannelError     = 504
	codeUnexpectedFrame  = 505
	codeNotAllowed       = 530
	codeNotImplemented   = 540
	codeInternalError    = 541
)

// name returns a broker-unique name for a queue or exchange of this test.
func name(t testing.TB, suffix string) string {
	n := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	if suffix != "" {
		n += "." + suffix
	}
	return "e2e." + n
}

// conn is an amqp091-go connection whose close notification is registered
// when it opens, so a server-sent connection.close is never missed.
type conn struct {
	*amqp.Connection
	closed chan *amqp.Error
}

// channel is an amqp091-go channel whose close notification is registered
// when it opens.
type channel struct {
	*amqp.Channel
	conn   *conn
	closed chan *amqp.Error
}

// dial connects to the broker under test with amqp091-go's defaults.
func dial(t testing.TB) *conn {
	t.Helper()
	return dialConfig(t, amqp.Config{})
}

// dialConfig connects with cfg; it closes the connection when t ends.
func dialConfig(t testing.TB, cfg amqp.Config) *conn {
	t.Helper()
	return dialURL(t, brokerURLOrSkip(t), cfg)
}

func brokerURLOrSkip(t testing.TB) string {
	t.Helper()
	if brokerURL == "" {
		t.Skip("no broker: set WARREN_E2E_URL or build with the in-process Warren")
	}
	return brokerURL
}

// dialURL connects to url with cfg.
func dialURL(t testing.TB, url string, cfg amqp.Config) *conn {
	t.Helper()
	c, err := amqp.DialConfig(url, cfg)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	cc := &conn{Connection: c, closed: c.NotifyClose(make(chan *amqp.Error, 1))}
	t.Cleanup(func() { _ = c.Close() })
	return cc
}

// channel opens a channel on c.
func (c *conn) channel(t testing.TB) *channel {
	t.Helper()
	ch, err := c.Channel()
	if err != nil {
		t.Fatalf("open channel: %v", err)
	}
	return &channel{Channel: ch, conn: c, closed: ch.NotifyClose(make(chan *amqp.Error, 1))}
}

// open dials a fresh connection and opens one channel on it. Most tests
// use their own connection so that a deliberate error cannot touch others.
func open(t testing.TB) (*conn, *channel) {
	t.Helper()
	c := dial(t)
	return c, c.channel(t)
}

// mustOK fails the test when err is not nil.
func mustOK(t testing.TB, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// declareQueue declares a non-durable, non-exclusive queue with args.
func declareQueue(t testing.TB, ch *channel, q string, args amqp.Table) amqp.Queue {
	t.Helper()
	got, err := ch.QueueDeclare(q, false, false, false, false, args)
	mustOK(t, err, "queue.declare "+q)
	t.Cleanup(func() { deleteQueue(q) })
	return got
}

// declareExchange declares a non-durable exchange of kind with args.
func declareExchange(t testing.TB, ch *channel, x, kind string, args amqp.Table) {
	t.Helper()
	mustOK(t, ch.ExchangeDeclare(x, kind, false, false, false, false, args), "exchange.declare "+x)
	t.Cleanup(func() { deleteExchange(x) })
}

// deleteQueue removes q on a connection of its own, ignoring errors.
func deleteQueue(q string) {
	cleanup(func(ch *amqp.Channel) { _, _ = ch.QueueDelete(q, false, false, false) })
}

// deleteExchange removes x on a connection of its own, ignoring errors.
func deleteExchange(x string) {
	cleanup(func(ch *amqp.Channel) { _ = ch.ExchangeDelete(x, false, false) })
}

func cleanup(f func(ch *amqp.Channel)) {
	c, err := amqp.Dial(brokerURL)
	if err != nil {
		return
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		return
	}
	f(ch)
}

// publish publishes body to exchange x with routing key key.
func publish(t testing.TB, ch *channel, x, key string, msg amqp.Publishing) {
	t.Helper()
	mustOK(t, ch.Publish(x, key, false, false, msg), "basic.publish")
}

// text is a plain-text publishing with body s.
func text(s string) amqp.Publishing {
	return amqp.Publishing{ContentType: "text/plain", Body: []byte(s)}
}

// consume starts a consumer on q with a server-generated tag.
func consume(t testing.TB, ch *channel, q string, autoAck bool, args amqp.Table) <-chan amqp.Delivery {
	t.Helper()
	d, err := ch.Consume(q, "", autoAck, false, false, false, args)
	mustOK(t, err, "basic.consume "+q)
	return d
}

// consumeN receives exactly n deliveries within timeout.
func consumeN(t testing.TB, deliveries <-chan amqp.Delivery, n int, timeout time.Duration) []amqp.Delivery {
	t.Helper()
	out := make([]amqp.Delivery, 0, n)
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case d, ok := <-deliveries:
			if !ok {
				t.Fatalf("delivery channel closed after %d of %d deliveries", len(out), n)
			}
			out = append(out, d)
		case <-deadline:
			t.Fatalf("got %d of %d deliveries within %s: %v", len(out), n, timeout, bodies(out))
		}
	}
	return out
}

// expectNoDelivery asserts that nothing arrives within quietFor.
func expectNoDelivery(t testing.TB, deliveries <-chan amqp.Delivery) {
	t.Helper()
	// A bounded wait: absence cannot be polled for, only watched.
	select {
	case d, ok := <-deliveries:
		if ok {
			t.Fatalf("unexpected delivery %q (routing key %q)", d.Body, d.RoutingKey)
		}
	case <-time.After(quietFor):
	}
}

// bodies returns the bodies of ds as strings.
func bodies(ds []amqp.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Body)
	}
	return out
}

// getN fetches n messages with basic.get, polling until each is there.
func getN(t testing.TB, ch *channel, q string, n int, autoAck bool) []amqp.Delivery {
	t.Helper()
	var out []amqp.Delivery
	deadline := time.Now().Add(waitFor)
	for len(out) < n {
		d, ok, err := ch.Get(q, autoAck)
		mustOK(t, err, "basic.get "+q)
		if ok {
			out = append(out, d)
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d messages from %s: %v", len(out), n, q, bodies(out))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return out
}

// waitMessages polls queue.declare(passive) until q holds n ready messages.
func waitMessages(t testing.TB, ch *channel, q string, n int) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got, err := ch.QueueDeclarePassive(q, false, false, false, false, nil)
		mustOK(t, err, "queue.declare passive "+q)
		if got.Messages == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s holds %d messages, want %d", q, got.Messages, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// equalStrings compares got with want and reports a difference.
func equalStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

// expectError asserts that err is an *amqp.Error sent by the server with
// code and text.
func expectError(t testing.TB, err error, code int, text string) {
	t.Helper()
	var e *amqp.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want server error %d %q", err, err, code, text)
	}
	if e.Code != code || e.Reason != text || !e.Server {
		t.Fatalf("error = %d %q (server=%v), want %d %q", e.Code, e.Reason, e.Server, code, text)
	}
}

// expectChannelClose waits for the server to close ch with code and text,
// and checks that the connection stayed open (a channel, not a connection,
// exception) by opening a new channel on it.
func expectChannelClose(t testing.TB, ch *channel, code int, text string) {
	t.Helper()
	select {
	case e, ok := <-ch.closed:
		if !ok || e == nil {
			t.Fatalf("channel closed without an error, want %d %q", code, text)
		}
		expectError(t, e, code, text)
	case <-time.After(waitFor):
		t.Fatalf("channel not closed within %s, want %d %q", waitFor, code, text)
	}
	if ch.conn.IsClosed() {
		t.Fatalf("connection closed too; want only the channel closed with %d", code)
	}
	probe, err := ch.conn.Channel()
	if err != nil {
		t.Fatalf("connection unusable after channel exception %d: %v", code, err)
	}
	_ = probe.Close()
}

// expectChannelError asserts that a synchronous call failed with err for
// code and text, and that the server closed the channel (only).
func expectChannelError(t testing.TB, ch *channel, err error, code int, text string) {
	t.Helper()
	expectError(t, err, code, text)
	expectChannelClose(t, ch, code, text)
}

// expectConnClose waits for the server to close c with code and text.
func expectConnClose(t testing.TB, c *conn, code int, text string) {
	t.Helper()
	select {
	case e, ok := <-c.closed:
		if !ok || e == nil {
			t.Fatalf("connection closed without an error, want %d %q", code, text)
		}
		expectError(t, e, code, text)
	case <-time.After(waitFor):
		t.Fatalf("connection not closed within %s, want %d %q", waitFor, code, text)
	}
}

// expectOpen asserts ch is still usable: a passive declare of the default
// exchange succeeds.
func expectOpen(t testing.TB, ch *channel) {
	t.Helper()
	if err := ch.ExchangeDeclarePassive("amq.direct", "direct", true, false, false, false, nil); err != nil {
		t.Fatalf("channel not usable: %v", err)
	}
}

// --- raw frames ----------------------------------------------------------

// Frame types.
const (
	frameMethod    = 1
	frameHeader    = 2
	frameBody      = 3
	frameHeartbeat = 8
	frameEnd       = 0xCE
)

// rawConn speaks AMQP frames by hand, for what a well-behaved client
// library will not send.
type rawConn struct {
	t testing.TB
	c net.Conn
	r *bufio.Reader
}

// rawFrame is one frame read from the server.
type rawFrame struct {
	typ     byte
	channel uint16
	payload []byte
}

// classMethod returns the class and method ids of a method frame.
func (f rawFrame) classMethod() (uint16, uint16) {
	if f.typ != frameMethod || len(f.payload) < 4 {
		return 0, 0
	}
	return binary.BigEndian.Uint16(f.payload), binary.BigEndian.Uint16(f.payload[2:])
}

// brokerHostPort returns the host:port of the broker under test.
func brokerHostPort(t testing.TB) string {
	t.Helper()
	u, err := amqp.ParseURI(brokerURLOrSkip(t))
	if err != nil {
		t.Fatalf("parse %s: %v", brokerURL, err)
	}
	return net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
}

// dialRaw opens a TCP connection to the broker without a handshake.
func dialRaw(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", brokerHostPort(t), waitFor)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

// tuneOK is what a raw client answers connection.tune with.
type tuneOK struct {
	channelMax uint16
	frameMax   uint32
	heartbeat  uint16
}

// handshake runs the AMQP handshake as guest/guest on vhost "/" with the
// given tune-ok and returns the server's connection.tune arguments. The
// client advertises authentication_failure_close.
func (r *rawConn) handshake(tune tuneOK) tuneOK {
	r.t.Helper()
	u, _ := amqp.ParseURI(brokerURL)
	return r.handshakeURL(u, tune)
}

// handshakeURL is handshake with the credentials and vhost of u.
func (r *rawConn) handshakeURL(u amqp.URI, tune tuneOK) tuneOK {
	r.t.Helper()
	r.write([]byte("AMQP\x00\x00\x09\x01"))
	r.expectMethod(0, 10, 10) // connection.start
	r.sendStartOK("PLAIN", "\x00"+u.Username+"\x00"+u.Password)
	f := r.expectMethod(0, 10, 30) // connection.tune
	p := f.payload[4:]
	server := tuneOK{
		channelMax: binary.BigEndian.Uint16(p),
		frameMax:   binary.BigEndian.Uint32(p[2:]),
		heartbeat:  binary.BigEndian.Uint16(p[6:]),
	}
	var a args
	a.u16(tune.channelMax).u32(tune.frameMax).u16(tune.heartbeat)
	r.method(0, 10, 31, a.b.Bytes()) // connection.tune-ok
	var o args
	o.shortstr(u.Vhost).shortstr("").u8(0)
	r.method(0, 10, 40, o.b.Bytes()) // connection.open
	r.expectMethod(0, 10, 41)        // connection.open-ok
	return server
}

// sendStartOK sends connection.start-ok with the given SASL mechanism and
// response, advertising authentication_failure_close.
func (r *rawConn) sendStartOK(mechanism, response string) {
	var caps args
	caps.tableBool("authentication_failure_close", true)
	var props args
	props.tableField("product", 'S', func(a *args) { a.longstr("e2e-raw") })
	props.tableField("capabilities", 'F', func(a *args) { a.table(caps.b.Bytes()) })
	var so args
	so.table(props.b.Bytes()).shortstr(mechanism).longstr(response).shortstr("en_US")
	r.method(0, 10, 11, so.b.Bytes())
}

// openChannel sends channel.open on id and waits for channel.open-ok.
func (r *rawConn) openChannel(id uint16) {
	r.t.Helper()
	var a args
	a.shortstr("")
	r.method(id, 20, 10, a.b.Bytes())
	r.expectMethod(id, 20, 11)
}

// write sends raw bytes.
func (r *rawConn) write(b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(waitFor))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("raw write: %v", err)
	}
}

// frame sends one frame.
func (r *rawConn) frame(typ byte, ch uint16, payload []byte) {
	r.t.Helper()
	var b bytes.Buffer
	b.WriteByte(typ)
	_ = binary.Write(&b, binary.BigEndian, ch)
	_ = binary.Write(&b, binary.BigEndian, uint32(len(payload)))
	b.Write(payload)
	b.WriteByte(frameEnd)
	r.write(b.Bytes())
}

// method sends a method frame.
func (r *rawConn) method(ch, class, method uint16, arguments []byte) {
	r.t.Helper()
	p := make([]byte, 4, 4+len(arguments))
	binary.BigEndian.PutUint16(p, class)
	binary.BigEndian.PutUint16(p[2:], method)
	r.frame(frameMethod, ch, append(p, arguments...))
}

// readFrame reads the next frame, or returns an error (io.EOF when the
// server closed the socket) within timeout.
func (r *rawConn) readFrame(timeout time.Duration) (rawFrame, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(timeout))
	var h [7]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return rawFrame{}, err
	}
	size := binary.BigEndian.Uint32(h[3:])
	if size > 1<<20 {
		return rawFrame{}, fmt.Errorf("frame of %d bytes", size)
	}
	p := make([]byte, size+1)
	if _, err := io.ReadFull(r.r, p); err != nil {
		return rawFrame{}, err
	}
	if p[size] != frameEnd {
		return rawFrame{}, fmt.Errorf("frame end byte %#x", p[size])
	}
	return rawFrame{typ: h[0], channel: binary.BigEndian.Uint16(h[1:]), payload: p[:size]}, nil
}

// expectMethod reads frames, skipping heartbeats, until a method frame
// arrives, and fails unless it is class.method on ch.
func (r *rawConn) expectMethod(ch, class, method uint16) rawFrame {
	r.t.Helper()
	for {
		f, err := r.readFrame(waitFor)
		if err != nil {
			r.t.Fatalf("waiting for method %d.%d on channel %d: %v", class, method, ch, err)
		}
		if f.typ == frameHeartbeat {
			continue
		}
		c, m := f.classMethod()
		if f.channel != ch || c != class || m != method {
			if c == 10 && m == 50 {
				code, text := parseClose(f.payload)
				r.t.Fatalf("got connection.close %d %q on channel %d, want method %d.%d on channel %d", code, text, f.channel, class, method, ch)
			}
			r.t.Fatalf("got frame type %d method %d.%d on channel %d, want %d.%d on channel %d", f.typ, c, m, f.channel, class, method, ch)
		}
		return f
	}
}

// expectConnectionClose waits for connection.close with code and text,
// answers close-ok, and checks that the server then closes the socket.
func (r *rawConn) expectConnectionClose(code int, text string) {
	r.t.Helper()
	f := r.expectMethod(0, 10, 50)
	gotCode, gotText := parseClose(f.payload)
	if gotCode != code || gotText != text {
		r.t.Fatalf("connection.close = %d %q, want %d %q", gotCode, gotText, code, text)
	}
	// connection.close-ok. After a frame error the server has lost sync
	// and may close without waiting for it, so the write may fail.
	var b bytes.Buffer
	b.Write([]byte{frameMethod, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, frameEnd})
	_ = r.c.SetWriteDeadline(time.Now().Add(waitFor))
	_, _ = r.c.Write(b.Bytes())
	r.expectEOF(waitFor)
}

// expectEOF asserts the server closes the socket within timeout, ignoring
// heartbeats and any other frames it sends first. It returns how many
// heartbeat frames arrived.
func (r *rawConn) expectEOF(timeout time.Duration) int {
	r.t.Helper()
	heartbeats := 0
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			r.t.Fatalf("server did not close the socket within %s", timeout)
		}
		f, err := r.readFrame(left)
		if err == nil {
			if f.typ == frameHeartbeat {
				heartbeats++
			}
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("server did not close the socket within %s", timeout)
		}
		return heartbeats // EOF or reset: closed
	}
}

// parseClose decodes connection.close or channel.close arguments.
func parseClose(payload []byte) (int, string) {
	if len(payload) < 7 {
		return 0, ""
	}
	code := int(binary.BigEndian.Uint16(payload[4:]))
	n := int(payload[6])
	if len(payload) < 7+n {
		return code, ""
	}
	return code, string(payload[7 : 7+n])
}

// args encodes method arguments.
type args struct{ b bytes.Buffer }

func (a *args) u8(v uint8) *args { a.b.WriteByte(v); return a }
func (a *args) u16(v uint16) *args {
	_ = binary.Write(&a.b, binary.BigEndian, v)
	return a
}
func (a *args) u32(v uint32) *args {
	_ = binary.Write(&a.b, binary.BigEndian, v)
	return a
}
func (a *args) shortstr(s string) *args { a.b.WriteByte(byte(len(s))); a.b.WriteString(s); return a }
func (a *args) longstr(s string) *args  { a.u32(uint32(len(s))); a.b.WriteString(s); return a }

// table writes an encoded field table body with its length.
func (a *args) table(body []byte) *args { a.u32(uint32(len(body))); a.b.Write(body); return a }

// tableField appends one field (name, type tag, value) to a table body.
func (a *args) tableField(k string, tag byte, value func(*args)) *args {
	a.shortstr(k)
	a.b.WriteByte(tag)
	value(a)
	return a
}

// tableBool appends a boolean field to a table body.
func (a *args) tableBool(k string, v bool) *args {
	b := uint8(0)
	if v {
		b = 1
	}
	return a.tableField(k, 't', func(a *args) { a.u8(b) })
}
