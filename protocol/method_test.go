package protocol

import (
	"errors"
	"reflect"
	"testing"
)

// TestMethodRoundTrip encodes every method of the specification as a frame,
// reads it back and checks that decoding returns the same value, with every
// bit field in both states.
func TestMethodRoundTrip(t *testing.T) {
	for variant := range 2 {
		for _, m := range sampleMethods(variant) {
			t.Run(m.Name(), func(t *testing.T) {
				frame := AppendMethodFrame(nil, 7, m)
				f, err := NewFrameReader(bytesReader(frame)).ReadFrame()
				if err != nil {
					t.Fatalf("ReadFrame: %v", err)
				}
				if f.Type != FrameMethod || f.Channel != 7 {
					t.Fatalf("frame type %d channel %d, want %d 7", f.Type, f.Channel, FrameMethod)
				}
				got, err := DecodeMethod(f.Payload)
				if err != nil {
					t.Fatalf("DecodeMethod: %v", err)
				}
				// The broker reuses its read buffer: decoded strings and
				// tables must survive it being overwritten.
				for i := range f.Payload {
					f.Payload[i] = 'X'
				}
				if !reflect.DeepEqual(got, m) {
					t.Fatalf("round trip:\n got %#v\nwant %#v", got, m)
				}
				if got.ClassID() != m.ClassID() || got.MethodID() != m.MethodID() || MethodName(m.ClassID(), m.MethodID()) != m.Name() {
					t.Fatalf("ids or name differ")
				}
			})
		}
	}
}

// TestDecodeMethodErrors checks the exceptions for malformed method frames.
func TestDecodeMethodErrors(t *testing.T) {
	publish := AppendMethodFrame(nil, 1, &BasicPublish{Exchange: "x", RoutingKey: "k"})
	payload := publish[7 : len(publish)-1]
	tests := []struct {
		name    string
		payload []byte
		code    uint16
		text    string
		classID uint16
		method  uint16
	}{
		{"too short for ids", []byte{0, 60, 0}, FrameError, "FRAME_ERROR - type 1, all octets = <<0,60,0>>: unknown_frame", 0, 0},
		{"unknown class", []byte{0, 99, 0, 1}, NotImplemented, "NOT_IMPLEMENTED - unknown method {99,1}", 99, 1},
		{"unknown method", []byte{0, 60, 0, 41}, NotImplemented, "NOT_IMPLEMENTED - unknown method {60,41}", 60, 41},
		{"truncated args", payload[:len(payload)-1], FrameError, "FRAME_ERROR - cannot decode <<0,0,1,120,1,107>>", 60, 40},
		{"trailing octet", append(append([]byte{}, payload...), 9), FrameError, "FRAME_ERROR - cannot decode <<0,0,1,120,1,107,0,9>>", 60, 40},
		{"bad table tag", []byte{0, 50, 0, 10, 0, 0, 1, 'q', 0, 0, 0, 0, 3, 1, 'k', 'Z'}, FrameError, "FRAME_ERROR - cannot decode <<0,0,1,113,0,0,0,0,3,1,107,90>>", 50, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeMethod(tt.payload)
			if m != nil {
				t.Fatalf("got method %#v, want none", m)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not *Error", err)
			}
			if e.Code != tt.code || e.Text != tt.text || e.ClassID != tt.classID || e.MethodID != tt.method {
				t.Fatalf("got %+v, want code %d text %q ids %d/%d", e, tt.code, tt.text, tt.classID, tt.method)
			}
			if !e.Hard() {
				t.Fatalf("malformed frames must close the connection")
			}
		})
	}
}

// TestMethodDecoder checks that the reusing decoder agrees with
// DecodeMethod for every method and allocates nothing for repeated
// publishes and acks.
func TestMethodDecoder(t *testing.T) {
	var d MethodDecoder
	for _, m := range sampleMethods(0) {
		frame := AppendMethodFrame(nil, 1, m)
		got, err := d.Decode(frame[7 : len(frame)-1])
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: got %#v, %v", m.Name(), got, err)
		}
	}
	if _, err := d.Decode([]byte{0, 60, 0, 40, 0}); err == nil {
		t.Fatal("truncated publish accepted")
	}
	publish := AppendMethodFrame(nil, 1, &BasicPublish{Exchange: "x", RoutingKey: "k"})
	ack := AppendMethodFrame(nil, 1, &BasicAck{DeliveryTag: 9, Multiple: true})
	allocs := testing.AllocsPerRun(100, func() {
		if m, err := d.Decode(publish[7 : len(publish)-1]); err != nil || m.(*BasicPublish).RoutingKey != "k" {
			t.Fatal(m, err)
		}
		if m, err := d.Decode(ack[7 : len(ack)-1]); err != nil || !m.(*BasicAck).Multiple {
			t.Fatal(m, err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
