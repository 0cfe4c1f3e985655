package meta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// everyCommand is one command of every op code, with every field set.
func everyCommand() []Command {
	args := protocol.Table{"x-max-length": int32(10), "s": "v", "nested": protocol.Table{"a": []any{int64(1), "b"}}}
	b := exchange.Binding{Source: "src", Destination: exchange.Destination{Name: "dst", Exchange: true}, Key: "a.#", Args: args}
	return []Command{
		AddVhost{Name: "v1"},
		DeleteVhost{Name: "v1"},
		DeclareExchange{Vhost: "/", Exchange: ExchangeDef{Name: "x", Kind: exchange.Headers, Durable: true,
			AutoDelete: true, Internal: true, Args: protocol.Table{"alternate-exchange": "ae"}, Alternate: "ae"}},
		DeleteExchange{Vhost: "/", Name: "x", IfUnused: true},
		Bind{Vhost: "/", Binding: b, By: Owner{Node: "warren@a", Conn: 3}},
		Unbind{Vhost: "/", Binding: b, By: Owner{Node: "warren@b", Conn: 1 << 40}},
		DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "q", Durable: false, Exclusive: true, AutoDelete: true,
			Args: args, Type: "classic", Incarnation: 1<<63 + 5, Home: "warren@a", Owner: Owner{Node: "warren@a", Conn: 9},
			Life: 1_796_611_530_026_576_461}},
		DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "before-lives", Durable: true, Type: "classic", Incarnation: 7, Home: "warren@a"}},
		DeleteQueue{Vhost: "/", Name: "q", Incarnation: 42},
		NodeDown{Node: "warren@b", UpTo: 1 << 60},
		SetQueueMembers{Vhost: "/", Name: "qq", Incarnation: 1<<63 + 9, Members: []string{"warren@b", "warren@a", "warren@c"},
			Was: []string{"warren@b", "warren@a"}},
		PutUser{User: UserDef{Name: "alice", PasswordHash: []byte{1, 2, 3, 4, 5, 6}, Hashing: HashSHA256,
			Tags: []string{"administrator", "custom"}, Limits: Limits{"max-channels": 10, "max-connections": -1}}, Create: true},
		DeleteUser{Name: "alice"},
		SetPermissions{User: "alice", Vhost: "/", Perm: Permission{Configure: "^a", Write: ".*", Read: ""}},
		ClearPermissions{User: "alice", Vhost: "/"},
		SetTopicPermissions{User: "alice", Vhost: "/", Perm: TopicPermission{Exchange: "amq.topic", Write: "^{username}", Read: "x"}},
		ClearTopicPermissions{User: "alice", Vhost: "/", Exchange: "amq.topic"},
		PutVhost{Name: "v2", Meta: VhostMeta{Description: "d", Tags: []string{"a", "b"}, DefaultQueueType: "quorum"}},
		SetVhostLimits{Vhost: "v2", Limits: Limits{"max-queues": 0, "max-connections": 5}},
		SetUserLimits{User: "alice", Limits: Limits{"max-connections": 2}},
		SetParameter{Vhost: "/", Component: "policy", Name: "p", Value: []byte(`{"pattern":"^q"}`)},
		ClearParameter{Vhost: "/", Component: "policy", Name: "p"},
		SetGlobalParameter{Name: "cluster_name", Value: []byte(`"c"`)},
		ClearGlobalParameter{Name: "cluster_name"},
		SetPolicy{Vhost: "/", Operator: true, Policy: policy.Policy{Name: "cap", Pattern: "^q", ApplyTo: "queues", Priority: -3,
			Definition: policy.Definition{"max-length": int64(10), "overflow": "reject-publish"}}},
		ClearPolicy{Vhost: "/", Name: "cap", Operator: true},
		Seed{Vhost: "/", Meta: VhostMeta{Description: "Default virtual host"},
			User: UserDef{Name: "guest", PasswordHash: []byte{9, 9, 9, 9, 1}, Hashing: HashSHA256, Tags: []string{"administrator"}},
			Perm: Permission{Configure: ".*", Write: ".*", Read: ".*"}},
	}
}

// TestCommandRoundTrip: every command decodes to exactly what was encoded,
// and its encoding starts with the version and its op code.
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
		if !bytes.Equal(Encode(got), enc) {
			t.Errorf("%T: re-encoding differs", c)
		}
		seen[c.Op()] = true
	}
	for op := OpPutUser; op <= OpSeed; op++ {
		if !seen[op] {
			t.Errorf("op %d has no round-trip case", op)
		}
	}
	for op := OpSetPolicy; op <= OpClearPolicy; op++ {
		if !seen[op] {
			t.Errorf("op %d has no round-trip case", op)
		}
	}
	for op := OpAddVhost; op <= OpSetQueueMembers; op++ {
		if !seen[op] {
			t.Errorf("op %d has no round-trip case", op)
		}
	}
}

// TestDecodeRefusesBadInput: an unknown version or op code, a truncated
// body, trailing bytes or unknown flag bits are ErrCorrupt, never a
// command with fields missing.
func TestDecodeRefusesBadInput(t *testing.T) {
	good := Encode(DeleteExchange{Vhost: "/", Name: "x", IfUnused: true})
	cases := map[string][]byte{
		"empty":           nil,
		"version only":    {Version},
		"wrong version":   append([]byte{Version + 1}, good[1:]...),
		"unknown op":      {Version, 200},
		"op zero":         {Version, 0},
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(append([]byte{}, good...), 0),
		"flag bits":       append(append([]byte{}, good[:len(good)-1]...), 0x82),
		"string too long": {Version, byte(OpAddVhost), 10, 'a'},
		"count past end":  {Version, byte(OpSetQueueMembers), 1, '/', 1, 'q', 1, 200, 1, 'a'},
	}
	for name, b := range cases {
		if c, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode(% x) = %#v, %v; want ErrCorrupt", name, b, c, err)
		}
	}
}

// FuzzDecode: any input either decodes to a command that re-encodes to the
// same bytes, or is refused; nothing panics.
func FuzzDecode(f *testing.F) {
	for _, c := range everyCommand() {
		f.Add(Encode(c))
	}
	f.Add([]byte{Version, byte(OpDeclareQueue), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		// Field tables may be encoded differently (key order), so compare
		// a second round instead of the input bytes.
		again, err := Decode(Encode(c))
		if err != nil || !bytes.Equal(Encode(again), Encode(c)) {
			t.Fatalf("re-encoding %#v: %v", c, err)
		}
	})
}
