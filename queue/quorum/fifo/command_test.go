package fifo

import (
	"errors"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// everyCommand is one command of every op code, with every field set.
func everyCommand() []Command {
	ch := queue.Publisher{Node: "warren@a", Conn: 1 << 40, Channel: 65535}
	id := ConsumerID{Chan: ch, Tag: "amq.ctag-1"}
	return []Command{
		Enqueue{From: ch, Seq: 7, Size: 1 << 31, TTL: 1500, Priority: 9, Now: 1_700_000_000_000},
		Enqueue{Size: 3, TTL: -1, Now: -5},
		Enqueue{From: ch, Seq: 3*SeqBase + 1, Contiguous: true, Size: 1, TTL: -1, Now: 1},
		Checkout{Consumer: id, Prefetch: 1 << 20, Priority: -3, AutoSettle: true, Now: 2},
		Cancel{Consumer: id, Now: 3},
		Settle{Consumer: id, IDs: []uint64{0, 1, 1 << 63}, Now: 4},
		Return{Consumer: id, IDs: []uint64{5}, Now: 5},
		Discard{Consumer: id, IDs: []uint64{6, 7}, Now: 6},
		Get{Consumer: ConsumerID{Chan: ch}, AutoSettle: true, Now: 7},
		ChannelDown{Chan: ch, Now: 8},
		NodeDown{Node: "warren@b", Now: 9},
		ConsumerTimeout{Consumer: id, Now: 10},
		Purge{Now: 11},
		Tick{Now: 12},
		DeadLetterSettled{Indexes: []uint64{100, 101}, Now: 13},
		LeaderElected{Node: "warren@c", Now: 14},
		PublisherGone{From: ch, Now: 15},
		Touch{Now: 16},
		Resend{Consumer: id, From: 3, To: 1 << 40, Now: 17},
		UpdateConfig{Config: Config{MaxLength: 5, HasMaxLength: true, Overflow: queue.RejectPublish, DeliveryLimit: -1,
			MessageTTL: 100, HasMessageTTL: true, Expires: 9, DeadLetter: AtLeastOnce, Created: 1}, Now: 18},
		Unreachable{Nodes: []string{"warren@b", "warren@c"}, Now: 19},
	}
}

// TestCommandRoundTrip: every command decodes to exactly what was encoded,
// its encoding starts with the version and its op code, and every op code
// has a case.
func TestCommandRoundTrip(t *testing.T) {
	seen := map[Op]bool{}
	for _, c := range everyCommand() {
		enc := Encode(c)
		if enc[0] != Version || Op(enc[1]) != c.Op() {
			t.Errorf("%T: header % x", c, enc[:2])
		}
		got, err := Decode(enc)
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%T round trip:\n got %#v\nwant %#v", c, got, c)
		}
		if got.Time() != c.Time() {
			t.Errorf("%T: time %d, want %d", c, got.Time(), c.Time())
		}
		seen[c.Op()] = true
	}
	for op := OpEnqueue; op <= lastOp; op++ {
		if !seen[op] {
			t.Errorf("op %d has no round-trip case", op)
		}
	}
	if newCommand(lastOp+1) != nil {
		t.Errorf("op %d decodes but is not covered here", lastOp+1)
	}
}

// TestDecodeRefusesBadInput: an unknown version or op code, a truncated
// body, trailing bytes, unknown flag bits or values past their width are
// ErrCorrupt, never a command with fields missing.
func TestDecodeRefusesBadInput(t *testing.T) {
	good := Encode(Cancel{Consumer: ConsumerID{Tag: "t"}, Now: 1})
	get := Encode(Get{Now: 1})
	cases := map[string][]byte{
		"empty":              nil,
		"version only":       {Version},
		"wrong version":      append([]byte{Version + 1}, good[1:]...),
		"unknown op":         {Version, 200},
		"op zero":            {Version, 0},
		"truncated":          good[:len(good)-1],
		"trailing bytes":     append(append([]byte{}, good...), 0),
		"flag bits":          {Version, byte(OpGet), 0, 0, 0, 0, 0x02, 2},
		"string too long":    {Version, byte(OpNodeDown), 10, 'a'},
		"channel > 16 bits":  {Version, byte(OpChannelDown), 0, 0, 0x80, 0x80, 0x04, 0},
		"size > 32 bits":     {Version, byte(OpEnqueue), 0, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 0, 0},
		"tracked, no sender": {Version, byte(OpEnqueue), 1, 0, 0, 0, 1, 1, 1, 0, 0},
		"contiguous no from": {Version, byte(OpEnqueue), 2, 1, 1, 0, 0},
		"ids count too big":  {Version, byte(OpDeadLetterSettled), 0xff, 0x01},
		"get truncated":      get[:len(get)-2],
	}
	for name, b := range cases {
		if c, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode(% x) = %#v, %v; want ErrCorrupt", name, b, c, err)
		}
	}
}

// FuzzDecode: any input either decodes to a command whose encoding is the
// input, or is refused with ErrCorrupt; nothing panics.
func FuzzDecode(f *testing.F) {
	for _, c := range everyCommand() {
		f.Add(Encode(c))
	}
	f.Add([]byte{Version, byte(OpSettle), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		again, err := Decode(Encode(c))
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-decoding %#v: %#v, %v", c, again, err)
		}
	})
}
