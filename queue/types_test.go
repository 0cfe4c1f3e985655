package queue

import (
	"context"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

// namedType is a Type that only has a name.
type namedType string

func (n namedType) Name() string                                             { return string(n) }
func (namedType) Capabilities() Capabilities                                 { return Capabilities{} }
func (namedType) Recover(context.Context, []Ref) error                       { return nil }
func (namedType) Close() error                                               { return nil }
func (namedType) Declare(context.Context, Declaration, Hooks) (Queue, error) { return nil, nil }

// TestRegistry: classic comes first, names are unique, lookups find what
// was registered and nothing else.
func TestRegistry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		types []Type
		ok    bool
	}{
		{"classic alone", []Type{namedType(TypeClassic)}, true},
		{"classic then quorum", []Type{namedType(TypeClassic), namedType(TypeQuorum)}, true},
		{"empty", nil, false},
		{"classic not first", []Type{namedType(TypeQuorum), namedType(TypeClassic)}, false},
		{"twice", []Type{namedType(TypeClassic), namedType(TypeClassic)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRegistry(tc.types...)
			if (err == nil) != tc.ok {
				t.Fatalf("NewRegistry: %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			if len(r.Types()) != len(tc.types) || r.Types()[0].Name() != TypeClassic {
				t.Errorf("Types() = %v", r.Types())
			}
			for _, typ := range tc.types {
				if r.Lookup(typ.Name()) != typ {
					t.Errorf("Lookup(%s) = %v", typ.Name(), r.Lookup(typ.Name()))
				}
			}
			if r.Lookup("fancy") != nil {
				t.Error("Lookup of an unregistered type found one")
			}
		})
	}
}

// TestParseArgsWith: a registered type's own argument list decides what a
// declare may carry; nil falls back to RabbitMQ's list for the type.
func TestParseArgsWith(t *testing.T) {
	only := func(typ string) []string {
		if typ == TypeClassic {
			return []string{"x-queue-type", "x-expires"}
		}
		return nil
	}
	if _, err := ParseArgsWith(protocol.Table{"x-expires": int32(5)}, "q", "/", only); err != nil {
		t.Errorf("stated argument refused: %v", err)
	}
	_, err := ParseArgsWith(protocol.Table{"x-max-priority": int32(5)}, "q", "/", only)
	want := "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_classic_queue"
	if err == nil || err.Error() != want {
		t.Errorf("unstated argument: %v, want %q", err, want)
	}
	if _, err := ParseArgsWith(protocol.Table{"x-queue-type": "quorum", "x-delivery-limit": int32(2)}, "q", "/", only); err != nil {
		t.Errorf("quorum argument with RabbitMQ's list: %v", err)
	}
	if !Known(TypeStream) || Known("fancy") {
		t.Error("Known: stream must be known, fancy not")
	}
}
