package broker

import (
	"reflect"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// replyFrame is the body of a forwarded reply, as remoteReply sends it.
func replyFrame(vhost, key string, m *queue.Message) []byte {
	return queue.AppendMessage(appendStr(appendStr(nil, vhost), key), m)
}

// FuzzDecodeReply: a forwarded reply from another node, however damaged,
// decodes or fails, never panics, and what decodes is sent on unchanged:
// encoded again and decoded, it is the same reply.
func FuzzDecodeReply(f *testing.F) {
	m := &queue.Message{Exchange: "", RoutingKey: "amq.rabbitmq.reply-to.x", Body: []byte("answer"),
		Props: protocol.Properties{ContentType: "text/plain", Flags: protocol.FlagContentType}, Timestamp: time.Unix(1, 0)}
	f.Add(replyFrame("/", "amq.rabbitmq.reply-to.x", m))
	f.Add([]byte{1, '/', 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		vhost, key, msg, err := decodeReply(b)
		if err != nil {
			return
		}
		v2, k2, m2, err := decodeReply(replyFrame(vhost, key, msg))
		if err != nil {
			t.Fatalf("% x: decoded, but its encoding does not decode: %v", b, err)
		}
		// RawProps may go from absent to the two octets of no flags.
		m2.RawProps, msg.RawProps = nil, nil
		if v2 != vhost || k2 != key || !reflect.DeepEqual(m2, msg) {
			t.Fatalf("% x: decoded %q %q %+v; again %q %q %+v, %v", b, vhost, key, msg, v2, k2, m2, err)
		}
	})
}

// TestDecodeReplyRoundTrip: a reply's vhost, key and message cross intact.
func TestDecodeReplyRoundTrip(t *testing.T) {
	m := &queue.Message{RoutingKey: "k", Body: []byte("b"), Props: protocol.Properties{CorrelationID: "c1", Flags: protocol.FlagCorrelationID},
		Timestamp: time.Unix(2, 0)}
	vhost, key, got, err := decodeReply(replyFrame("v", "key", m))
	if err != nil || vhost != "v" || key != "key" || string(got.Body) != "b" || got.Props.CorrelationID != "c1" {
		t.Fatalf("decoded %q %q %+v %v", vhost, key, got, err)
	}
	if _, _, _, err := decodeReply([]byte{5, 'a'}); err == nil {
		t.Fatal("a truncated vhost decoded")
	}
}
