package broker

import (
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestCheckGlobalQoSReadsCapabilities: a channel-wide prefetch is refused
// only for queue types without Capabilities.GlobalQoS, with RabbitMQ's
// 540 text for quorum queues.
func TestCheckGlobalQoSReadsCapabilities(t *testing.T) {
	reg, err := queue.NewRegistry(
		fakeType{queue.TypeClassic, queue.Capabilities{GlobalQoS: true}},
		fakeType{queue.TypeQuorum, queue.Capabilities{}},
	)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{types: reg}
	tests := []struct {
		name   string
		global uint16
		typ    string
		want   string
	}{
		{"classic by default", 5, "", ""},
		{"classic named", 5, queue.TypeClassic, ""},
		{"quorum without a channel-wide prefetch", 0, queue.TypeQuorum, ""},
		{"quorum with one", 5, queue.TypeQuorum, "NOT_IMPLEMENTED - queue 'q' in vhost '/' does not support global qos"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.checkGlobalQoS(tt.global, tt.typ, "q", "/")
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantErr(t, tt.name, err, tt.want)
		})
	}
}
