package protocol

import (
	"bytes"
	"context"
	"math"
	"net"
	"reflect"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// These tests cross-check the codec against amqp091-go, the client most Go
// users run against RabbitMQ: the test plays the server over a net.Pipe,
// the client decodes what Warren encodes and Warren decodes what the client
// encodes.

// fromClient converts an amqp091-go value into the package's types.
func fromClient(v any) any {
	switch v := v.(type) {
	case amqp.Table:
		t := Table{}
		for k, e := range v {
			t[k] = fromClient(e)
		}
		return t
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = fromClient(e)
		}
		return out
	case amqp.Decimal:
		return Decimal{Scale: v.Scale, Value: v.Value}
	case time.Time:
		return v.UTC()
	}
	return v
}

// pipeServer reads frames from the client and writes Warren's encodings.
type pipeServer struct {
	t    *testing.T
	conn net.Conn
	r    *FrameReader
}

func (s *pipeServer) read() Frame {
	s.t.Helper()
	if err := s.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		s.t.Fatal(err)
	}
	f, err := s.r.ReadFrame()
	if err != nil {
		s.t.Fatalf("server read: %v", err)
	}
	f.Payload = bytes.Clone(f.Payload)
	return f
}

func (s *pipeServer) method(want Method) Method {
	s.t.Helper()
	f := s.read()
	if f.Type != FrameMethod {
		s.t.Fatalf("got frame type %d, want a method", f.Type)
	}
	m, err := DecodeMethod(f.Payload)
	if err != nil {
		s.t.Fatalf("decode: %v", err)
	}
	if m.Name() != want.Name() {
		s.t.Fatalf("got %s, want %s", m.Name(), want.Name())
	}
	return m
}

func (s *pipeServer) write(b []byte) {
	s.t.Helper()
	if _, err := s.conn.Write(b); err != nil {
		s.t.Fatalf("server write: %v", err)
	}
}

func TestCrossCheckAmqp091(t *testing.T) {
	srvConn, cliConn := net.Pipe()
	defer srvConn.Close()
	s := &pipeServer{t: t, conn: srvConn, r: NewFrameReader(srvConn)}

	clientProps := amqp.Table{
		"t": true, "b": int8(-2), "B": byte(200), "s": int16(-300), "u": uint16(60000),
		"I": int32(-70000), "i": uint32(4000000000), "l": int64(-1 << 40),
		"f": float32(1.5), "d": math.Pi, "D": amqp.Decimal{Scale: 2, Value: -12345},
		"S": "str", "x": []byte{0, 1}, "A": []any{int32(1), "two"},
		"T": time.Unix(1700000000, 0), "F": amqp.Table{"k": "v"}, "V": nil,
	}
	wantProps := fromClient(clientProps).(Table) // before the client adds capabilities
	serverProps := everyTag()
	delete(serverProps, "L")

	type clientResult struct {
		conn     *amqp.Connection
		delivery amqp.Delivery
		err      error
	}
	done := make(chan clientResult, 1)
	publishing := amqp.Publishing{
		Headers: amqp.Table{"x-h": "v"}, ContentType: "application/json", ContentEncoding: "gzip",
		DeliveryMode: 2, Priority: 5, CorrelationId: "corr", ReplyTo: "reply", Expiration: "60000",
		MessageId: "mid", Timestamp: time.Unix(1700000000, 0), Type: "typ", UserId: "guest", AppId: "app",
		Body: bytes.Repeat([]byte("b"), 5000),
	}
	go func() {
		var res clientResult
		defer func() { done <- res }()
		conn, err := amqp.Open(cliConn, amqp.Config{
			SASL:       []amqp.Authentication{&amqp.PlainAuth{Username: "guest", Password: "guest"}},
			Vhost:      "/",
			Properties: clientProps,
		})
		if err != nil {
			res.err = err
			return
		}
		res.conn = conn
		ch, err := conn.Channel()
		if err != nil {
			res.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if res.err = ch.PublishWithContext(ctx, "ex", "rk", true, false, publishing); res.err != nil {
			return
		}
		deliveries, err := ch.Consume("q", "ctag", false, false, false, false, nil)
		if err != nil {
			res.err = err
			return
		}
		select {
		case res.delivery = <-deliveries:
		case <-ctx.Done():
			res.err = ctx.Err()
		}
	}()

	if err := srvConn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := ReadProtocolHeader(srvConn); err != nil {
		t.Fatalf("protocol header: %v", err)
	}
	s.write(AppendMethodFrame(nil, 0, &ConnectionStart{VersionMajor: 0, VersionMinor: 9, ServerProperties: serverProps, Mechanisms: "PLAIN", Locales: "en_US"}))
	startOk := s.method(&ConnectionStartOk{}).(*ConnectionStartOk)
	got := startOk.ClientProperties
	delete(got, "capabilities") // added by the client
	if !reflect.DeepEqual(got, wantProps) {
		t.Fatalf("client properties:\n got %#v\nwant %#v", got, wantProps)
	}
	if startOk.Mechanism != "PLAIN" || startOk.Response != "\x00guest\x00guest" {
		t.Fatalf("start-ok %+v", startOk)
	}
	s.write(AppendMethodFrame(nil, 0, &ConnectionTune{ChannelMax: 10, FrameMax: 4096}))
	if tuneOk := s.method(&ConnectionTuneOk{}).(*ConnectionTuneOk); tuneOk.FrameMax != 4096 || tuneOk.ChannelMax != 10 {
		t.Fatalf("tune-ok %+v", tuneOk)
	}
	s.r.SetFrameMax(4096)
	if open := s.method(&ConnectionOpen{}).(*ConnectionOpen); open.VirtualHost != "/" {
		t.Fatalf("open %+v", open)
	}
	s.write(AppendMethodFrame(nil, 0, &ConnectionOpenOk{}))
	s.method(&ChannelOpen{})
	s.write(AppendMethodFrame(nil, 1, &ChannelOpenOk{}))

	// The client's publish: method, header with every property, body split
	// by the negotiated frame max.
	pub := s.method(&BasicPublish{}).(*BasicPublish)
	if pub.Exchange != "ex" || pub.RoutingKey != "rk" || !pub.Mandatory || pub.Immediate {
		t.Fatalf("publish %+v", pub)
	}
	hdr := s.read()
	class, size, raw, err := DecodeContentHeader(hdr.Payload)
	if err != nil || class != ClassBasic || size != 5000 {
		t.Fatalf("header class %d size %d err %v", class, size, err)
	}
	want := allProperties()
	want.ClusterID, want.Flags = "", want.Flags&^FlagClusterID
	if !bytes.Equal(raw, want.Append(nil)) {
		t.Fatalf("properties bytes differ from amqp091-go's:\n got %v\nwant %v", raw, want.Append(nil))
	}
	var body []byte
	for len(body) < 5000 {
		f := s.read()
		if f.Type != FrameBody || len(f.Payload) > 4096-8 {
			t.Fatalf("body frame type %d size %d", f.Type, len(f.Payload))
		}
		body = append(body, f.Payload...)
	}
	if !bytes.Equal(body, publishing.Body) {
		t.Fatal("body differs")
	}

	// Warren's delivery, decoded by the client.
	consume := s.method(&BasicConsume{}).(*BasicConsume)
	if consume.Queue != "q" || consume.ConsumerTag != "ctag" || consume.NoAck {
		t.Fatalf("consume %+v", consume)
	}
	s.write(AppendMethodFrame(nil, 1, &BasicConsumeOk{ConsumerTag: "ctag"}))
	out := AppendMethodFrame(nil, 1, &BasicDeliver{ConsumerTag: "ctag", DeliveryTag: 7, Redelivered: true, Exchange: "ex", RoutingKey: "rk"})
	out = AppendHeaderFrame(out, 1, ClassBasic, uint64(len(body)), &want)
	out = AppendBodyFrames(out, 1, body, 4096)
	s.write(out)

	res := <-done
	if res.err != nil {
		t.Fatalf("client: %v", res.err)
	}
	d := res.delivery
	if d.ConsumerTag != "ctag" || d.DeliveryTag != 7 || !d.Redelivered || d.Exchange != "ex" || d.RoutingKey != "rk" ||
		!bytes.Equal(d.Body, body) || d.ContentType != publishing.ContentType || d.ContentEncoding != publishing.ContentEncoding ||
		d.DeliveryMode != 2 || d.Priority != 5 || d.CorrelationId != "corr" || d.ReplyTo != "reply" || d.Expiration != "60000" ||
		d.MessageId != "mid" || !d.Timestamp.Equal(publishing.Timestamp) || d.Type != "typ" || d.UserId != "guest" || d.AppId != "app" ||
		!reflect.DeepEqual(d.Headers, publishing.Headers) {
		t.Fatalf("delivery as the client sees it: %+v", d)
	}
	// The client also decoded Warren's server properties.
	wantServer := Table(serverProps)
	if gotServer := fromClient(res.conn.Properties).(Table); !reflect.DeepEqual(gotServer, wantServer) {
		t.Fatalf("server properties as the client sees them:\n got %#v\nwant %#v", gotServer, wantServer)
	}
	srvConn.Close()
}
