package broker

import (
	"os"
	"strings"
	"testing"
)

// TestNodeName: a node name is completed as RabbitMQ completes one (the
// short hostname for a missing host part) and refused unless it is
// name@host in printable ASCII of at most 128 octets; NewServer refuses
// what NodeName refuses.
func TestNodeName(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "", want: "warren@" + host},
		{in: "w2", want: "w2@" + host},
		{in: "rabbit@box-1.example", want: "rabbit@box-1.example"},
		{in: "@box", bad: true},
		{in: "w@", bad: true},
		{in: "a@b@c", bad: true},
		{in: "a b@c", bad: true},
		{in: "ü@c", bad: true},
		{in: strings.Repeat("n", 124) + "@box", want: strings.Repeat("n", 124) + "@box"},
		{in: strings.Repeat("n", 125) + "@box", bad: true},
	} {
		got, err := NodeName(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("NodeName(%q) = %q, want an error", tc.in, got)
			}
			if _, err := NewServer(Config{InMemory: true, NodeName: tc.in}); err == nil {
				t.Errorf("NewServer accepted node name %q", tc.in)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("NodeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestQueueLeaderLocatorRefused: NewServer refuses a queue leader
// locator RabbitMQ does not know, naming it.
func TestQueueLeaderLocatorRefused(t *testing.T) {
	_, err := NewServer(Config{InMemory: true, QueueLeaderLocator: "nearest"})
	if err == nil || !strings.Contains(err.Error(), `queue leader locator "nearest"`) {
		t.Fatalf("NewServer with locator nearest: %v", err)
	}
}
