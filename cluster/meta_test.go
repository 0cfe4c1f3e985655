package cluster

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestNodeMetaRoundTrip(t *testing.T) {
	for _, m := range []NodeMeta{
		{},
		{AMQPAddr: "10.0.0.1:5672"},
		{AMQPAddr: "[::1]:5672", Tags: map[string]string{"version": "0.9", "zone": "a", "": "empty key"}},
	} {
		b, err := m.encode()
		if err != nil {
			t.Fatalf("encode %+v: %v", m, err)
		}
		got, leaving, err := decodeMeta(b)
		if err != nil {
			t.Fatalf("decode %+v: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) || leaving {
			t.Errorf("round trip of %+v gave %+v, leaving %v", m, got, leaving)
		}
		b, _ = m.encodeLeaving(true)
		if got, leaving, err := decodeMeta(b); err != nil || !leaving || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %+v leaving gave %+v, %v, %v", m, got, leaving, err)
		}
		again, _ := m.encode()
		if first, _ := m.encode(); string(again) != string(first) {
			t.Errorf("%+v encodes differently twice", m)
		}
	}
}

func TestNodeMetaTooLarge(t *testing.T) {
	m := NodeMeta{AMQPAddr: "h:1", Tags: map[string]string{"big": strings.Repeat("x", MaxMetaSize)}}
	if _, err := m.encode(); !errors.Is(err, errMetaTooLarge) {
		t.Fatalf("encode of %d bytes of tags: %v, want errMetaTooLarge", MaxMetaSize, err)
	}
}

func TestDecodeMetaRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"version 0", []byte{0}},
		{"length past the end", []byte{1, metaAMQPAddr, 10, 'a'}},
		{"huge length", []byte{1, metaAMQPAddr, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"truncated varint", []byte{1, metaAMQPAddr, 0x80}},
		{"tag key past its field", []byte{1, metaTag, 2, 5, 'k'}},
		{"over the limit", append([]byte{1}, make([]byte, MaxMetaSize)...)},
	} {
		if m, _, err := decodeMeta(tc.b); err == nil {
			t.Errorf("%s: decoded %+v, want an error", tc.name, m)
		}
	}
}

func TestDecodeMetaSkipsUnknownFields(t *testing.T) {
	// A later version with a field this one does not know.
	b := []byte{2, 9, 3, 'n', 'e', 'w', metaAMQPAddr, 3, 'h', ':', '1'}
	m, _, err := decodeMeta(b)
	if err != nil || m.AMQPAddr != "h:1" {
		t.Fatalf("decodeMeta = %+v, %v", m, err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	seed, _ := NodeMeta{AMQPAddr: "h:5672", Tags: map[string]string{"k": "v"}}.encode()
	f.Add(seed)
	f.Add([]byte{1, metaTag, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, leaving, err := decodeMeta(b)
		if err != nil {
			return
		}
		again, err := m.encodeLeaving(leaving)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		if m2, l2, err := decodeMeta(again); err != nil || !reflect.DeepEqual(m, m2) || l2 != leaving {
			t.Fatalf("re-encoded %+v (leaving %v) decodes as %+v (%v), %v", m, leaving, m2, l2, err)
		}
	})
}
