package broker

import (
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
)

// readClose reads frames until a connection.close or channel.close and
// returns its code and text.
func readClose(t *testing.T, fr *protocol.FrameReader) (uint16, string) {
	t.Helper()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("no close: %v", err)
		}
		if f.Type != protocol.FrameMethod {
			continue
		}
		m, err := protocol.DecodeMethod(f.Payload)
		if err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *protocol.ConnectionClose:
			return m.ReplyCode, m.ReplyText
		case *protocol.ChannelClose:
			return m.ReplyCode, m.ReplyText
		}
	}
}

func TestFrameSequenceErrors(t *testing.T) {
	s := startServer(t)
	publish := protocol.AppendMethodFrame(nil, 1, &protocol.BasicPublish{RoutingKey: "q"})
	header := protocol.AppendHeaderFrame(nil, 1, protocol.ClassBasic, 2, &protocol.Properties{})
	cases := []struct {
		name   string
		frames [][]byte
		code   uint16
		text   string
	}{
		{"header without publish", [][]byte{header}, protocol.UnexpectedFrame,
			"UNEXPECTED_FRAME - expected method frame, got non method frame instead"},
		{"body without header", [][]byte{publish, protocol.AppendBodyFrames(nil, 1, []byte("ab"), 0)}, protocol.UnexpectedFrame,
			"UNEXPECTED_FRAME - expected content header for class 60, got non content header frame instead"},
		{"method while expecting body", [][]byte{publish, header, publish}, protocol.UnexpectedFrame,
			"UNEXPECTED_FRAME - expected content body, got non content body frame instead"},
		{"body too large", [][]byte{publish, header, protocol.AppendBodyFrames(nil, 1, []byte("abc"), 0)}, protocol.FrameError,
			"FRAME_ERROR - content body frame exceeds remaining content size"},
		{"unopened channel", [][]byte{protocol.AppendMethodFrame(nil, 7, &protocol.BasicQos{})}, protocol.ChannelError,
			"CHANNEL_ERROR - expected 'channel.open'"},
		{"second open", [][]byte{protocol.AppendMethodFrame(nil, 1, &protocol.ChannelOpen{})}, protocol.ChannelError,
			"CHANNEL_ERROR - second 'channel.open' seen"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nc := rawOpen(t, s.Addr().String())
			defer nc.Close()
			for _, f := range tc.frames {
				nc.Write(f)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			code, text := readClose(t, protocol.NewFrameReader(nc))
			if code != tc.code || text != tc.text {
				t.Fatalf("got %d %q, want %d %q", code, text, tc.code, tc.text)
			}
		})
	}
}

func TestMaxMessageSize(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MaxMessageSize = 10 })
	nc := rawOpen(t, s.Addr().String())
	defer nc.Close()
	nc.Write(protocol.AppendMethodFrame(nil, 1, &protocol.BasicPublish{RoutingKey: "q"}))
	nc.Write(protocol.AppendHeaderFrame(nil, 1, protocol.ClassBasic, 11, &protocol.Properties{}))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	code, text := readClose(t, protocol.NewFrameReader(nc))
	if code != protocol.PreconditionFailed || text != "PRECONDITION_FAILED - message size 11 is larger than configured max size 10" {
		t.Fatalf("got %d %q", code, text)
	}
}
