package broker

import "testing"

// TestQueueLockedFor: an exclusive queue belongs to one connection of one
// node; the same connection id on another node, or another connection on
// the same node, is locked out, and a shared queue locks out nobody.
func TestQueueLockedFor(t *testing.T) {
	mine := owner{node: "warren@a", conn: 7}
	for _, tc := range []struct {
		name   string
		queue  owner
		by     owner
		locked bool
	}{
		{"shared queue", owner{}, mine, false},
		{"its owner", mine, mine, false},
		{"same connection id on another node", mine, owner{node: "warren@b", conn: 7}, true},
		{"another connection of the node", mine, owner{node: "warren@a", conn: 8}, true},
	} {
		e := &queueEntry{owner: tc.queue}
		if got := e.lockedFor(tc.by); got != tc.locked {
			t.Errorf("%s: lockedFor = %v, want %v", tc.name, got, tc.locked)
		}
	}
}
