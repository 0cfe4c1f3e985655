package queue

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
)

func TestMessageCodecRoundTrip(t *testing.T) {
	withHeaders := protocol.Properties{
		Flags:        protocol.FlagHeaders | protocol.FlagDeliveryMode | protocol.FlagExpiration | protocol.FlagPriority,
		Headers:      protocol.Table{"a": int32(1), "s": "x"},
		DeliveryMode: 2,
		Priority:     7,
		Expiration:   "60000",
	}
	raw := withHeaders.Append(nil)
	cases := []struct {
		name string
		m    Message
	}{
		{"raw props", Message{Exchange: "ex", RoutingKey: "key", RawProps: raw, Body: []byte("hello"),
			Timestamp: time.Unix(1_700_000_000, 123)}},
		{"props only", Message{Exchange: "", RoutingKey: "q", Props: withHeaders, Body: []byte("b"),
			Timestamp: time.Unix(1, 0)}},
		{"empty everything", Message{}},
		{"long names and body", Message{Exchange: string(bytes.Repeat([]byte("e"), 300)),
			RoutingKey: string(bytes.Repeat([]byte("k"), 255)), Body: bytes.Repeat([]byte{0xff}, 70000),
			Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			enc := AppendMessage([]byte("prefix"), &c.m)
			got, err := DecodeMessage(enc[len("prefix"):])
			if err != nil {
				t.Fatal(err)
			}
			if got.Exchange != c.m.Exchange || got.RoutingKey != c.m.RoutingKey || !bytes.Equal(got.Body, c.m.Body) {
				t.Fatalf("got %q %q %d bytes", got.Exchange, got.RoutingKey, len(got.Body))
			}
			if !got.Timestamp.Equal(c.m.Timestamp) {
				t.Fatalf("timestamp %v, want %v", got.Timestamp, c.m.Timestamp)
			}
			want := c.m.Props
			if c.m.RawProps != nil {
				if err := want.Decode(c.m.RawProps); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(got.Props, want) {
				t.Fatalf("props %+v, want %+v", got.Props, want)
			}
			if c.m.RawProps != nil && !bytes.Equal(got.RawProps, c.m.RawProps) {
				t.Fatalf("raw props %x, want %x", got.RawProps, c.m.RawProps)
			}
			// The decoded message owns its bytes.
			for i := range enc {
				enc[i] = 0
			}
			if !bytes.Equal(got.Body, c.m.Body) {
				t.Fatal("decoded body aliases its input")
			}
		})
	}
}

func TestDecodeMessageRejectsDamage(t *testing.T) {
	good := AppendMessage(nil, &Message{Exchange: "x", RoutingKey: "k", Body: []byte("body"),
		Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}})
	cases := map[string][]byte{
		"empty":         nil,
		"wrong version": append([]byte{9}, good[1:]...),
		"truncated":     good[:12],
		"huge exchange": append(append([]byte{}, good[:9]...), 0xff, 0xff, 0xff, 0x0f),
		"one-octet props": append(append([]byte{}, good[:9]...),
			0, 0, 0, 0, 0, 1, 0x80),
	}
	for name, b := range cases {
		if _, err := DecodeMessage(b); err != ErrBadMessage {
			t.Errorf("%s: err %v, want ErrBadMessage", name, err)
		}
	}
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add(AppendMessage(nil, &Message{Exchange: "x", RoutingKey: "k", Body: []byte("b")}))
	f.Add(AppendMessage(nil, &Message{Props: protocol.Properties{Flags: protocol.FlagHeaders,
		Headers: protocol.Table{"h": "v"}}}))
	f.Add([]byte("\x0100000000\x010\x010\x00\x00\x00\x00")) // no properties at all
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			return
		}
		again, err := DecodeMessage(AppendMessage(nil, m))
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		if again.Exchange != m.Exchange || again.RoutingKey != m.RoutingKey || !bytes.Equal(again.Body, m.Body) ||
			(m.RawProps != nil && !bytes.Equal(again.RawProps, m.RawProps)) ||
			again.Props.Flags != m.Props.Flags {
			t.Fatal("re-encoding changed the message")
		}
	})
}
