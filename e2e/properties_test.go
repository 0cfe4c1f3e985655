package e2e

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestPropertiesRoundTrip: every basic property and every field-table type
// a client can send arrives unchanged.
func TestPropertiesRoundTrip(t *testing.T) {
	t.Parallel()
	_, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	ts := time.Unix(1700000000, 0)
	headers := amqp.Table{
		"bool":    true,
		"int8":    int8(-8),
		"uint8":   uint8(200),
		"int16":   int16(-1600),
		"uint16":  uint16(60000),
		"int32":   int32(-320000),
		"uint32":  uint32(4000000000),
		"int64":   int64(-6400000000),
		"float32": float32(1.5),
		"float64": float64(2.25),
		"decimal": amqp.Decimal{Scale: 2, Value: 12345},
		"string":  "text ünïcode",
		"bytes":   []byte{0, 1, 2, 255},
		"time":    ts,
		"table":   amqp.Table{"nested": "yes", "n": int32(1)},
		"array":   []interface{}{"a", int32(2), true},
		"void":    nil,
	}
	pub := amqp.Publishing{
		Headers:         headers,
		ContentType:     "application/json",
		ContentEncoding: "gzip",
		DeliveryMode:    amqp.Persistent,
		Priority:        7,
		CorrelationId:   "corr",
		ReplyTo:         "reply",
		Expiration:      "600000",
		MessageId:       "mid",
		Timestamp:       ts,
		Type:            "kind",
		UserId:          "guest",
		AppId:           "e2e",
		Body:            []byte(`{"k":1}`),
	}
	publish(t, ch, "", q, pub)
	d := getN(t, ch, q, 1, true)[0]
	if d.ContentType != pub.ContentType || d.ContentEncoding != pub.ContentEncoding ||
		d.DeliveryMode != pub.DeliveryMode || d.Priority != pub.Priority ||
		d.CorrelationId != pub.CorrelationId || d.ReplyTo != pub.ReplyTo ||
		d.Expiration != pub.Expiration || d.MessageId != pub.MessageId ||
		!d.Timestamp.Equal(pub.Timestamp) || d.Type != pub.Type || d.UserId != pub.UserId ||
		d.AppId != pub.AppId || !bytes.Equal(d.Body, pub.Body) {
		t.Fatalf("properties changed:\n got %+v\nwant %+v", d, pub)
	}
	for k, want := range headers {
		got, ok := d.Headers[k]
		if !ok {
			t.Errorf("header %s missing", k)
			continue
		}
		if tw, ok := want.(time.Time); ok {
			if tg, ok := got.(time.Time); !ok || !tg.Equal(tw) {
				t.Errorf("header %s = %#v, want %v", k, got, tw)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("header %s = %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
	if len(d.Headers) != len(headers) {
		t.Errorf("%d headers delivered, want %d: %v", len(d.Headers), len(headers), d.Headers)
	}
}

// TestBodySizes: an empty body (no body frame at all), bodies on frame
// boundaries and a multi-megabyte body all arrive intact, by get and by
// consume.
func TestBodySizes(t *testing.T) {
	t.Parallel()
	c, ch := open(t)
	frame := int(c.Config.FrameSize) - 8 // payload room in one body frame
	sizes := []int{0, 1, frame - 1, frame, frame + 1, 3 * frame, 4 << 20}
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		return b
	}
	for _, n := range sizes {
		publish(t, ch, "", q, amqp.Publishing{Body: mk(n)})
	}
	for _, n := range sizes[:3] {
		d := getN(t, ch, q, 1, true)[0]
		if !bytes.Equal(d.Body, mk(n)) {
			t.Fatalf("get: body of %d bytes came back as %d bytes (or changed)", n, len(d.Body))
		}
	}
	ds := consumeN(t, consume(t, ch, q, true, nil), len(sizes)-3, waitFor)
	for i, n := range sizes[3:] {
		if !bytes.Equal(ds[i].Body, mk(n)) {
			t.Fatalf("consume: body of %d bytes came back as %d bytes (or changed)", n, len(ds[i].Body))
		}
	}
}

// TestMaxMessageSize: a body over RabbitMQ 4's default max_message_size
// (16 MiB) is refused with 406.
func TestMaxMessageSize(t *testing.T) {
	t.Parallel()
	skipOnRabbit310(t, "3.x's default max_message_size is 128 MiB")
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	const limit = 16 << 20
	publish(t, ch, "", q, amqp.Publishing{Body: make([]byte, limit)})
	waitMessages(t, ch, q, 1)
	bad := c.channel(t)
	publish(t, bad, "", q, amqp.Publishing{Body: make([]byte, limit+1)})
	expectChannelClose(t, bad, codePreconditionFail,
		fmt.Sprintf("PRECONDITION_FAILED - message size %d is larger than configured max size %d", limit+1, limit))
	waitMessages(t, ch, q, 1)
}
