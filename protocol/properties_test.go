package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func allProperties() Properties {
	return Properties{
		ContentType:     "application/json",
		ContentEncoding: "gzip",
		Headers:         Table{"x-h": "v"},
		DeliveryMode:    2,
		Priority:        5,
		CorrelationID:   "corr",
		ReplyTo:         "reply",
		Expiration:      "60000",
		MessageID:       "mid",
		Timestamp:       1700000000,
		Type:            "typ",
		UserID:          "guest",
		AppID:           "app",
		ClusterID:       "cl",
		Flags:           0xfffc,
	}
}

// TestPropertiesEveryFlag encodes the properties with each flag alone and
// all together and checks the bytes and the round trip.
func TestPropertiesEveryFlag(t *testing.T) {
	all := allProperties()
	tests := []struct {
		flag uint16
		want []byte // property list without the flags word
	}{
		{FlagContentType, append([]byte{16}, "application/json"...)},
		{FlagContentEncoding, []byte{4, 'g', 'z', 'i', 'p'}},
		{FlagHeaders, []byte{0, 0, 0, 10, 3, 'x', '-', 'h', 'S', 0, 0, 0, 1, 'v'}},
		{FlagDeliveryMode, []byte{2}},
		{FlagPriority, []byte{5}},
		{FlagCorrelationID, []byte{4, 'c', 'o', 'r', 'r'}},
		{FlagReplyTo, []byte{5, 'r', 'e', 'p', 'l', 'y'}},
		{FlagExpiration, []byte{5, '6', '0', '0', '0', '0'}},
		{FlagMessageID, []byte{3, 'm', 'i', 'd'}},
		{FlagTimestamp, []byte{0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00}},
		{FlagType, []byte{3, 't', 'y', 'p'}},
		{FlagUserID, []byte{5, 'g', 'u', 'e', 's', 't'}},
		{FlagAppID, []byte{3, 'a', 'p', 'p'}},
		{FlagClusterID, []byte{2, 'c', 'l'}},
	}
	var allWant []byte
	for _, tt := range tests {
		allWant = append(allWant, tt.want...)
		p := all
		p.Flags = tt.flag
		got := p.Append(nil)
		want := append([]byte{byte(tt.flag >> 8), byte(tt.flag)}, tt.want...)
		if !bytes.Equal(got, want) {
			t.Errorf("flag %#04x: got %v, want %v", tt.flag, got, want)
		}
		var back Properties
		if err := back.Decode(got); err != nil {
			t.Fatalf("flag %#04x: %v", tt.flag, err)
		}
		if back.Flags != tt.flag || !reflect.DeepEqual(back.Append(nil), got) {
			t.Errorf("flag %#04x: round trip %+v", tt.flag, back)
		}
	}
	got := all.Append(nil)
	if !bytes.Equal(got, append([]byte{0xff, 0xfc}, allWant...)) {
		t.Fatalf("all flags: got %v", got)
	}
	var back Properties
	if err := back.Decode(got); err != nil || !reflect.DeepEqual(back, all) {
		t.Fatalf("all flags round trip: %+v %v", back, err)
	}
	// Decoding into a used struct clears what the new list lacks.
	if err := back.Decode([]byte{0x10, 0, 1}); err != nil {
		t.Fatal(err)
	}
	if want := (Properties{Flags: FlagDeliveryMode, DeliveryMode: 1}); !reflect.DeepEqual(back, want) {
		t.Fatalf("reused decode: %+v", back)
	}
}

// TestPropertiesFlagsGovern checks that values without their flag are not
// written and that a set flag writes even a zero value.
func TestPropertiesFlagsGovern(t *testing.T) {
	p := Properties{ContentType: "ignored", Priority: 0, Flags: FlagPriority}
	if got := p.Append(nil); !bytes.Equal(got, []byte{0x08, 0, 0}) {
		t.Fatalf("got %v", got)
	}
}

func TestPropertiesDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		raw  []byte
	}{
		{"empty", nil},
		{"one octet", []byte{0x80}},
		{"missing string", []byte{0x80, 0}},
		{"short string beyond input", []byte{0x80, 0, 5, 'a'}},
		{"trailing octet", []byte{0x10, 0, 2, 9}},
		{"bad headers", []byte{0x20, 0, 0, 0, 0, 3, 1, 'k', 'Z'}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Properties
			err := p.Decode(tt.raw)
			var e *Error
			if !errors.As(err, &e) || e.Code != FrameError || e.ClassID != ClassBasic {
				t.Fatalf("got %v, want FRAME_ERROR for class basic", err)
			}
		})
	}
}

func TestRawProperties(t *testing.T) {
	all := allProperties()
	tests := []struct {
		name     string
		flags    uint16
		mode     uint8
		modeOK   bool
		prio     uint8
		prioOK   bool
		exp      string
		expOK    bool
		user     string
		userOK   bool
		hasHdrs  bool
		hdrValue any
	}{
		{"all", 0xfffc, 2, true, 5, true, "60000", true, "guest", true, true, "v"},
		{"none", 0, 0, false, 0, false, "", false, "", false, false, nil},
		{"persistent only", FlagDeliveryMode, 2, true, 0, false, "", false, "", false, false, nil},
		{"after headers", FlagHeaders | FlagExpiration | FlagUserID, 0, false, 0, false, "60000", true, "guest", true, true, "v"},
		{"strings before", FlagContentType | FlagContentEncoding | FlagPriority, 0, false, 5, true, "", false, "", false, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := all
			p.Flags = tt.flags
			r := RawProperties(p.Append(nil))
			if r.Flags() != tt.flags {
				t.Fatalf("flags %#x", r.Flags())
			}
			if m, ok := r.DeliveryMode(); m != tt.mode || ok != tt.modeOK {
				t.Errorf("delivery mode %d %v", m, ok)
			}
			if v, ok := r.Priority(); v != tt.prio || ok != tt.prioOK {
				t.Errorf("priority %d %v", v, ok)
			}
			if v, ok := r.Expiration(); string(v) != tt.exp || ok != tt.expOK {
				t.Errorf("expiration %q %v", v, ok)
			}
			if v, ok := r.UserID(); string(v) != tt.user || ok != tt.userOK {
				t.Errorf("user id %q %v", v, ok)
			}
			if r.HasHeaders() != tt.hasHdrs {
				t.Errorf("has headers %v", r.HasHeaders())
			}
			h, err := r.Headers()
			if err != nil || (tt.hdrValue == nil) != (h == nil) || (h != nil && h["x-h"] != tt.hdrValue) {
				t.Errorf("headers %v %v", h, err)
			}
		})
	}
	// Malformed input yields false, never a panic.
	for _, raw := range [][]byte{nil, {0xff}, {0xff, 0xfc}, {0x20, 0, 0xff, 0xff, 0xff, 0xff}, {0xff, 0xfc, 200}} {
		r := RawProperties(raw)
		if _, ok := r.DeliveryMode(); ok {
			t.Errorf("%v: delivery mode found in malformed input", raw)
		}
		if _, ok := r.UserID(); ok {
			t.Errorf("%v: user id found in malformed input", raw)
		}
	}
}

func TestRawPropertiesNoAlloc(t *testing.T) {
	p := allProperties()
	r := RawProperties(p.Append(nil))
	allocs := testing.AllocsPerRun(100, func() {
		r.DeliveryMode()
		r.Priority()
		r.Expiration()
		r.UserID()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
