package broker

import (
	"encoding/base64"
	"strings"
	"testing"
)

// TestReplyKeyRoundTrip: a key decodes to the node, connection, channel
// and secret it was made from, fits a routing key (255 octets) with the
// longest node name allowed, and two keys for the same channel differ.
func TestReplyKeyRoundTrip(t *testing.T) {
	for _, k := range []replyKey{
		newReplyKey("warren@a", 1, 1),
		newReplyKey("rabbit@box-3.example", 1<<63+5, 65535),
		newReplyKey(strings.Repeat("n", 124)+"@box", 0, 0),
	} {
		s := k.String()
		if !strings.HasPrefix(s, directReplyPrefix) || !isReplyKey(s) {
			t.Fatalf("key %q lacks the prefix %q", s, directReplyPrefix)
		}
		if len(s) > 255 {
			t.Fatalf("key for node %q is %d octets, more than a routing key holds", k.node, len(s))
		}
		got, ok := decodeReplyKey(s)
		if !ok || got != k {
			t.Fatalf("decode(%q) = %+v, %v; want %+v", s, got, ok, k)
		}
	}
	if a, b := newReplyKey("warren@a", 1, 1), newReplyKey("warren@a", 1, 1); a == b || a.String() == b.String() {
		t.Fatal("two keys for one channel are equal: the secret is not random")
	}
}

// TestReplyKeyMalformed: anything String did not produce is refused.
func TestReplyKeyMalformed(t *testing.T) {
	good := newReplyKey("warren@a", 42, 3).String()
	enc := strings.TrimPrefix(good, directReplyPrefix)
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	encode := func(b []byte) string { return directReplyPrefix + base64.RawURLEncoding.EncodeToString(b) }
	for _, tc := range []struct{ name, key string }{
		{"bare pseudo-queue", directReplyTo},
		{"empty", directReplyPrefix},
		{"other prefix", "amq.rabbitmq.reply-to-" + enc},
		{"not base64", directReplyPrefix + "not base64!"},
		{"padded", good + "=="},
		{"outside base64url", good[:len(good)-3] + "+" + good[len(good)-2:]},
		{"truncated", encode(raw[:len(raw)-1])},
		{"extended", encode(append(append([]byte(nil), raw...), 0))},
		{"empty node", encode(append([]byte{0}, raw[1+len("warren@a"):]...))},
		{"node length past the end", encode(append([]byte{200}, raw[1:]...))},
		{"RabbitMQ's form", directReplyPrefix + "g2dkABlyYWJiaXRAbG9jYWxob3N0AAABhwAAAAAA.secret"},
	} {
		if k, ok := decodeReplyKey(tc.key); ok {
			t.Errorf("%s: %q decoded to %+v", tc.name, tc.key, k)
		}
	}
}

// TestReplyChannelRouting: a key routes to the channel it was registered
// for only on its own node and only as handed out; a tampered secret, a
// key of another node with the same connection and channel, or a key
// whose consumer has gone routes nowhere.
func TestReplyChannelRouting(t *testing.T) {
	s, err := NewServer(Config{InMemory: true, NodeName: "warren@a"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v := s.vhosts["/"]
	ch := &channel{}
	k := newReplyKey("warren@a", 7, 1)
	v.registerReplyTo(k.String(), ch)

	forged := k
	forged.secret[0] ^= 1
	elsewhere := k
	elsewhere.node = "warren@b"
	v.registerReplyTo(elsewhere.String(), ch) // even if it were registered here
	for _, tc := range []struct {
		name string
		key  string
		want replyTarget
	}{
		{"its key", k.String(), replyTarget(ch)},
		{"tampered secret", forged.String(), nil},
		{"another node's key", elsewhere.String(), nil},
		{"malformed", directReplyPrefix + "x", nil},
	} {
		if got := v.replyChannel(tc.key); got != tc.want {
			t.Errorf("%s: replyChannel = %v, want %v", tc.name, got, tc.want)
		}
	}
	v.unregisterReplyTo(k.String())
	if got := v.replyChannel(k.String()); got != nil {
		t.Errorf("key of a cancelled consumer routes to %v", got)
	}
}
