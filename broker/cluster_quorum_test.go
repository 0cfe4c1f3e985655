package broker

import (
	"maps"
	"slices"
	"testing"

	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/protocol"
)

// TestPlaceQuorumMembers: client-local puts the declaring node first;
// balanced puts first the candidate the fewest quorum queues were placed
// on (the name that sorts first among equals), with the declaring node a
// member only within size; the other members follow in name order.
func TestPlaceQuorumMembers(t *testing.T) {
	const a, b, c, d = "warren@a", "warren@b", "warren@c", "warren@d"
	for _, tc := range []struct {
		name    string
		self    string
		others  []string
		size    int64
		locator string
		placed  map[string]int
		want    []string
	}{
		{"client-local: the declaring node first", c, []string{b, a}, 0, leaderClientLocal,
			map[string]int{c: 9}, []string{c, a, b}},
		{"client-local, size 2 of 4", d, []string{c, b, a}, 2, leaderClientLocal, nil, []string{d, a}},
		{"client-local, alone", b, nil, 0, leaderClientLocal, nil, []string{b}},
		{"balanced: the fewest placed", a, []string{b, c}, 0, leaderBalanced,
			map[string]int{a: 3, b: 2, c: 1}, []string{c, a, b}},
		{"balanced: a node placed on none counts zero", a, []string{b, c}, 0, leaderBalanced,
			map[string]int{a: 1, c: 1}, []string{b, a, c}},
		{"balanced: ties to the name first", c, []string{b, a}, 0, leaderBalanced,
			map[string]int{a: 2, b: 2, c: 2}, []string{a, b, c}},
		{"balanced: nothing placed yet", c, []string{a, b}, 0, leaderBalanced, nil, []string{a, b, c}},
		{"balanced: the declaring node may be left out", d, []string{a, b, c}, 3, leaderBalanced,
			map[string]int{a: 1, d: 5}, []string{b, a, c}},
		{"balanced: the declaring node is the leader", b, []string{a, c}, 2, leaderBalanced,
			map[string]int{a: 4, c: 4}, []string{b, a}},
		{"balanced: counts for nodes not alive are ignored", b, []string{c}, 0, leaderBalanced,
			map[string]int{a: 0, b: 1, c: 2}, []string{b, c}},
	} {
		got := placeQuorumMembers(tc.self, tc.others, tc.size, tc.locator, tc.placed)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: members %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestPlaceQuorumMembersSpreads: a run of balanced declares through one
// node, each counted once placed, leads as many queues on every node.
func TestPlaceQuorumMembersSpreads(t *testing.T) {
	nodes := []string{"warren@a", "warren@b", "warren@c"}
	placed := map[string]int{}
	for i := range 9 {
		m := placeQuorumMembers(nodes[0], nodes[1:], 0, leaderBalanced, placed)
		if len(m) != 3 {
			t.Fatalf("queue %d: members %v", i, m)
		}
		placed[m[0]]++
	}
	if want := map[string]int{"warren@a": 3, "warren@b": 3, "warren@c": 3}; !maps.Equal(placed, want) {
		t.Fatalf("leaders placed %v, want %v", placed, want)
	}
}

// TestLeaderLocator: the policy's queue-leader-locator wins over the
// x-queue-leader-locator argument, which wins over the node's
// configured locator, as in RabbitMQ; the legacy random and
// least-leaders mean balanced, and nothing at all client-local.
func TestLeaderLocator(t *testing.T) {
	pol := func(v string) policy.Definition { return policy.Definition{"queue-leader-locator": v} }
	arg := func(v string) protocol.Table { return protocol.Table{"x-queue-leader-locator": v} }
	for _, tc := range []struct {
		name       string
		pol        policy.Definition
		args       protocol.Table
		configured string
		want       string
	}{
		{"nothing says", nil, nil, "", leaderClientLocal},
		{"the configured locator", nil, nil, "balanced", leaderBalanced},
		{"the argument over the configured locator", nil, arg("client-local"), "balanced", leaderClientLocal},
		{"the argument", nil, arg("balanced"), "", leaderBalanced},
		{"the policy", pol("balanced"), nil, "", leaderBalanced},
		{"the policy over the argument", pol("client-local"), arg("balanced"), "balanced", leaderClientLocal},
		{"the policy over the argument, balanced", pol("balanced"), arg("client-local"), "", leaderBalanced},
		{"a policy without the key", policy.Definition{"max-length": 10.0}, arg("balanced"), "", leaderBalanced},
		{"legacy random", pol("random"), nil, "", leaderBalanced},
		{"legacy least-leaders", pol("least-leaders"), nil, "", leaderBalanced},
		{"configured least-leaders", nil, nil, "least-leaders", leaderBalanced},
	} {
		if got := leaderLocator(tc.pol, tc.args, tc.configured); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
