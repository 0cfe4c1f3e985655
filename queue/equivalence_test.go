package queue

import (
	"errors"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

func TestEquivalentArgs(t *testing.T) {
	const prefix = "PRECONDITION_FAILED - inequivalent arg "
	tests := []struct {
		name              string
		current, received protocol.Table
		want              string // "" for equivalent
	}{
		{"both empty", nil, nil, ""},
		{"same ttl", protocol.Table{"x-message-ttl": int32(2000)}, protocol.Table{"x-message-ttl": int32(2000)}, ""},
		{"same ttl other integer width", protocol.Table{"x-message-ttl": int32(2000)}, protocol.Table{"x-message-ttl": int64(2000)}, ""},
		{"added ttl", nil, protocol.Table{"x-message-ttl": int32(2000)},
			prefix + "'x-message-ttl' for queue 'q' in vhost '/': received the value '2000' of type 'signedint' but current is none"},
		{"dropped ttl", protocol.Table{"x-message-ttl": int64(2000)}, nil,
			prefix + "'x-message-ttl' for queue 'q' in vhost '/': received none but current is the value '2000' of type 'long'"},
		{"changed ttl", protocol.Table{"x-message-ttl": int32(1000)}, protocol.Table{"x-message-ttl": int32(2000)},
			prefix + "'x-message-ttl' for queue 'q' in vhost '/': received '2000' but current is '1000'"},
		{"changed dlx", protocol.Table{"x-dead-letter-exchange": "a"}, protocol.Table{"x-dead-letter-exchange": "b"},
			prefix + "'x-dead-letter-exchange' for queue 'q' in vhost '/': received 'b' but current is 'a'"},
		{"added string arg", nil, protocol.Table{"x-overflow": "reject-publish"},
			prefix + "'x-overflow' for queue 'q' in vhost '/': received the value 'reject-publish' of type 'longstr' but current is none"},
		{"changed bool", protocol.Table{"x-single-active-consumer": true}, protocol.Table{"x-single-active-consumer": false},
			prefix + "'x-single-active-consumer' for queue 'q' in vhost '/': received 'false' but current is 'true'"},
		{"longstr and binary with the same bytes", protocol.Table{"x-dead-letter-exchange": "a"}, protocol.Table{"x-dead-letter-exchange": []byte("a")}, ""},
		{"classic equals no type", nil, protocol.Table{"x-queue-type": "classic"}, ""},
		{"no type equals classic", protocol.Table{"x-queue-type": "classic"}, nil, ""},
		{"quorum is not classic", nil, protocol.Table{"x-queue-type": "quorum"},
			prefix + "'x-queue-type' for queue 'q' in vhost '/': received the value 'quorum' of type 'longstr' but current is none"},
		{"unknown args are not compared", protocol.Table{"x-custom": "a"}, protocol.Table{"x-custom": "b"}, ""},
		{"float vs integer", protocol.Table{"x-max-length": int32(1)}, protocol.Table{"x-max-length": 1000.0},
			prefix + "'x-max-length' for queue 'q' in vhost '/': received '1.0e3' but current is '1'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := EquivalentArgs("q", "/", TypeClassic, tt.current, tt.received)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("EquivalentArgs: %v, want equivalent", err)
				}
				return
			}
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != tt.want {
				t.Fatalf("EquivalentArgs = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestEquivalentField(t *testing.T) {
	if err := EquivalentField("q", "/", "durable", true, true); err != nil {
		t.Fatalf("same durable: %v", err)
	}
	err := EquivalentField("q", "/", "durable", false, true)
	want := "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/': received 'true' but current is 'false'"
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.PreconditionFailed || pe.Text != want {
		t.Fatalf("EquivalentField = %v, want %q", err, want)
	}
}
