package cluster

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fastTiming detects a failure within about a second and a half on
// loopback, and still leaves room for a loaded machine under -race.
var fastTiming = Timing{
	ProbeInterval:    200 * time.Millisecond,
	ProbeTimeout:     100 * time.Millisecond,
	SuspicionMult:    3,
	GossipInterval:   50 * time.Millisecond,
	PushPullInterval: 2 * time.Second,
	TCPTimeout:       2 * time.Second,
	GossipToTheDead:  5 * time.Second,
	DeadNodeReclaim:  time.Second,
	RetryMin:         50 * time.Millisecond,
	RetryMax:         500 * time.Millisecond,
}

// failWithin is how long the others may take to declare a killed node
// failed with fastTiming.
const failWithin = 10 * time.Second

// recorder keeps the events a Membership delivers.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// kinds returns the kinds of the events about node, in order.
func (r *recorder) kinds(node string) []EventKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventKind
	for _, e := range r.events {
		if e.Member.Name == node {
			out = append(out, e.Kind)
		}
	}
	return out
}

// testNode is a node's transport and membership.
type testNode struct {
	name string
	addr string
	tr   *Transport
	m    *Membership
	rec  *recorder
}

// freeAddr returns a loopback address whose port was just free.
func freeAddr(t *testing.T) string {
	t.Helper()
	tr := newTransport(t, TransportConfig{})
	addr := tr.Addr()
	tr.Close()
	return addr
}

// startNode listens on addr and joins seeds as name.
func startNode(t *testing.T, name, addr string, seeds []string) *testNode {
	t.Helper()
	tr := newTransport(t, TransportConfig{Addr: addr, Secret: "cluster-secret"})
	n := &testNode{name: name, addr: tr.Addr(), tr: tr, rec: &recorder{}}
	m, err := Join(MembershipConfig{
		Node:      name,
		Transport: tr,
		Meta:      NodeMeta{AMQPAddr: "amqp-of-" + name},
		Seeds:     seeds,
		Log:       testLog(t).Named(name),
		Events:    n.rec.add,
		Timing:    fastTiming,
	})
	if err != nil {
		t.Fatalf("Join as %s: %v", name, err)
	}
	n.m = m
	t.Cleanup(func() { m.Close() })
	return n
}

// stop closes the node's membership and transport, as a kill would.
func (n *testNode) stop() {
	n.m.Close()
	n.tr.Close()
}

// sees reports whether n sees exactly the given members in the given state.
func (n *testNode) sees(state MemberState, names ...string) bool {
	var got []string
	for _, mem := range n.m.Members() {
		if mem.State == state {
			got = append(got, mem.Name)
		}
	}
	slices.Sort(names)
	return slices.Equal(got, names)
}

func stateOfMember(n *testNode, name string) MemberState {
	for _, mem := range n.m.Members() {
		if mem.Name == name {
			return mem.State
		}
	}
	return 0
}

// startThree starts three nodes that name each other as seeds, in the
// order given, the last one on a port nothing listened on when the first
// two started.
func startThree(t *testing.T) []*testNode {
	t.Helper()
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	nodes := make([]*testNode, 3)
	for _, i := range []int{2, 0, 1} {
		nodes[i] = startNode(t, fmt.Sprintf("warren@n%d", i), addrs[i], addrs)
	}
	names := []string{"warren@n0", "warren@n1", "warren@n2"}
	eventually(t, 10*time.Second, "every node sees three alive members", func() bool {
		for _, n := range nodes {
			if !n.sees(StateAlive, names...) {
				return false
			}
		}
		return true
	})
	return nodes
}

func TestMembersStartInAnyOrder(t *testing.T) {
	base := runtime.NumGoroutine()
	nodes := startThree(t)
	for _, n := range nodes {
		for _, mem := range n.m.Members() {
			if mem.Meta.AMQPAddr != "amqp-of-"+mem.Name {
				t.Errorf("%s sees %s with meta %+v", n.name, mem.Name, mem.Meta)
			}
			if want := nodes[mem.Name[len(mem.Name)-1]-'0'].addr; mem.Addr != want {
				t.Errorf("%s sees %s at %s, want %s", n.name, mem.Name, mem.Addr, want)
			}
		}
		local := n.m.Local()
		if local.Name != n.name || local.Addr != n.addr || local.State != StateAlive || local.Meta.AMQPAddr != "amqp-of-"+n.name {
			t.Errorf("Local() = %+v", local)
		}
		eventually(t, 5*time.Second, n.name+"'s own join delivered first", func() bool {
			k := n.rec.kinds(n.name)
			return len(k) > 0 && k[0] == EventJoin
		})
	}
	for _, n := range nodes {
		n.stop()
	}
	goroutinesBack(t, base)
}

func TestGracefulLeaveSeenAsLeft(t *testing.T) {
	nodes := startThree(t)
	gone := nodes[2]
	if err := gone.m.Leave(5 * time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	gone.stop()
	for _, n := range nodes[:2] {
		eventually(t, 5*time.Second, n.name+" sees the node left", func() bool {
			return stateOfMember(n, gone.name) == StateLeft
		})
		eventually(t, 5*time.Second, n.name+" gets [join leave] for the leaver", func() bool {
			return slices.Equal(n.rec.kinds(gone.name), []EventKind{EventJoin, EventLeave})
		})
	}
}

func TestKilledNodeSeenAsFailedThenRejoins(t *testing.T) {
	nodes := startThree(t)
	victim := nodes[2]
	victim.stop() // no Leave: as after kill -9
	start := time.Now()
	for _, n := range nodes[:2] {
		eventually(t, failWithin, n.name+" sees the node failed", func() bool {
			return stateOfMember(n, victim.name) == StateFailed
		})
	}
	t.Logf("failure seen after %v", time.Since(start))

	// It restarts on its address and rejoins through its seeds.
	again := startNode(t, victim.name, victim.addr, []string{nodes[0].addr, nodes[1].addr, victim.addr})
	names := []string{nodes[0].name, nodes[1].name, victim.name}
	for _, n := range []*testNode{nodes[0], nodes[1], again} {
		eventually(t, 10*time.Second, n.name+" sees three alive members again", func() bool {
			return n.sees(StateAlive, names...)
		})
	}
	for _, n := range nodes[:2] {
		want := []EventKind{EventJoin, EventFail, EventJoin}
		eventually(t, 5*time.Second, n.name+" gets [join fail join] for the restarted node", func() bool {
			return slices.Equal(n.rec.kinds(victim.name), want)
		})
	}
}

func TestMetaUpdateTravels(t *testing.T) {
	nodes := startThree(t)
	meta := NodeMeta{AMQPAddr: "new-amqp", Tags: map[string]string{"version": "2"}}
	if err := nodes[0].m.UpdateMeta(meta, 5*time.Second); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	for _, n := range nodes[1:] {
		eventually(t, 5*time.Second, n.name+" sees the new meta", func() bool {
			for _, mem := range n.m.Members() {
				if mem.Name == nodes[0].name {
					return mem.Meta.AMQPAddr == "new-amqp" && mem.Meta.Tags["version"] == "2"
				}
			}
			return false
		})
		eventually(t, 5*time.Second, n.name+" gets [join update]", func() bool {
			return slices.Equal(n.rec.kinds(nodes[0].name), []EventKind{EventJoin, EventUpdate})
		})
	}
	big := NodeMeta{Tags: map[string]string{"x": strings.Repeat("y", MaxMetaSize)}}
	if err := nodes[0].m.UpdateMeta(big, time.Second); !errors.Is(err, errMetaTooLarge) {
		t.Errorf("UpdateMeta with too much: %v", err)
	}
}

func TestTakenNameRefused(t *testing.T) {
	a := startNode(t, "warren@a", "127.0.0.1:0", nil)
	b := startNode(t, "warren@b", "127.0.0.1:0", []string{a.addr})
	eventually(t, 10*time.Second, "a and b see each other", func() bool {
		return a.sees(StateAlive, "warren@a", "warren@b") && b.sees(StateAlive, "warren@a", "warren@b")
	})

	tr := newTransport(t, TransportConfig{Secret: "cluster-secret"})
	_, err := Join(MembershipConfig{Node: "warren@b", Transport: tr, Seeds: []string{a.addr}, Log: testLog(t), Timing: fastTiming})
	if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), b.addr) {
		t.Fatalf("Join with a taken name: %v, want ErrNameTaken naming %s", err, b.addr)
	}
	for _, n := range []*testNode{a, b} {
		for _, mem := range n.m.Members() {
			if mem.Name == "warren@b" && (mem.Addr != b.addr || mem.State != StateAlive) {
				t.Errorf("%s now sees warren@b as %+v", n.name, mem)
			}
		}
	}
	// The refused node's transport can run a membership under a free name.
	m, err := Join(MembershipConfig{Node: "warren@c", Transport: tr, Seeds: []string{a.addr}, Log: testLog(t), Timing: fastTiming})
	if err != nil {
		t.Fatalf("Join as warren@c after the refusal: %v", err)
	}
	defer m.Close()
	eventually(t, 10*time.Second, "a sees c", func() bool { return a.sees(StateAlive, "warren@a", "warren@b", "warren@c") })
}

func TestJoinRefusesBadConfig(t *testing.T) {
	tr := newTransport(t, TransportConfig{})
	big := NodeMeta{AMQPAddr: strings.Repeat("h", MaxMetaSize)}
	for _, tc := range []struct {
		name string
		cfg  MembershipConfig
	}{
		{"no name", MembershipConfig{Transport: tr}},
		{"no transport", MembershipConfig{Node: "n"}},
		{"meta too large", MembershipConfig{Node: "n", Transport: tr, Meta: big}},
	} {
		if m, err := Join(tc.cfg); err == nil {
			m.Close()
			t.Errorf("%s: Join succeeded", tc.name)
		}
	}
	m, err := Join(MembershipConfig{Node: "n", Transport: tr, Timing: fastTiming})
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer m.Close()
	if m2, err := Join(MembershipConfig{Node: "n2", Transport: tr, Timing: fastTiming}); err == nil {
		m2.Close()
		t.Error("a second Membership on one transport started")
	}
}

func TestGossipNeedsTheSecret(t *testing.T) {
	a := startNode(t, "warren@a", "127.0.0.1:0", nil)
	tr := newTransport(t, TransportConfig{Secret: "wrong"})
	m, err := Join(MembershipConfig{Node: "warren@x", Transport: tr, Seeds: []string{a.addr}, Log: testLog(t), Timing: fastTiming})
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	defer m.Close()
	// Join has made its first attempt at the seed, which refused it.
	if got := len(m.Members()); got != 1 {
		t.Errorf("a node with the wrong secret sees %d members", got)
	}
	if !a.sees(StateAlive, "warren@a") {
		t.Errorf("a sees %v", a.m.Members())
	}
}
