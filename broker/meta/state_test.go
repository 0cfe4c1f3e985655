package meta

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// applyAll applies cmds from index 1 on and returns the results and the
// effects of each.
func applyAll(s *State, cmds []Command) ([]Result, [][]Effect) {
	var rs []Result
	var es [][]Effect
	for _, c := range cmds {
		r, e := s.Apply(s.Applied()+1, c)
		rs = append(rs, r)
		es = append(es, e)
	}
	return rs, es
}

// body is the state's snapshot without its applied index, to compare
// states that took different numbers of commands.
func body(s *State) []byte {
	saved := s.applied
	s.applied = 0
	defer func() { s.applied = saved }()
	return s.Snapshot()
}

func qdef(name string, inc uint64) QueueDef {
	return QueueDef{Name: name, Durable: true, Type: "classic", Incarnation: inc, Home: "warren@a"}
}

func xdef(name string, kind exchange.Kind) ExchangeDef {
	return ExchangeDef{Name: name, Kind: kind, Durable: true}
}

func qbind(src, q, key string) exchange.Binding {
	return exchange.Binding{Source: src, Destination: exchange.Destination{Name: q}, Key: key}
}

func xbind(src, dst, key string) exchange.Binding {
	return exchange.Binding{Source: src, Destination: exchange.Destination{Name: dst, Exchange: true}, Key: key}
}

// scenario exercises every command, including refused ones and cascades.
func scenario() []Command {
	alice := Owner{Node: "warren@a", Conn: 1}
	excl := QueueDef{Name: "excl", Exclusive: true, AutoDelete: true, Type: "classic", Incarnation: 7, Home: "warren@a", Owner: alice}
	ad := ExchangeDef{Name: "ad", Kind: exchange.Fanout, Durable: true, AutoDelete: true}
	return []Command{
		AddVhost{Name: "/"},
		AddVhost{Name: "other"},
		DeclareExchange{Vhost: "/", Exchange: xdef("t", exchange.Topic)},
		DeclareExchange{Vhost: "/", Exchange: ad},
		DeclareQueue{Vhost: "/", Queue: qdef("q1", 1)},
		DeclareQueue{Vhost: "/", Queue: qdef("q2", 2)},
		DeclareQueue{Vhost: "/", Queue: excl},
		Bind{Vhost: "/", Binding: qbind("t", "q1", "a.#")},
		Bind{Vhost: "/", Binding: qbind("t", "q2", "b.*")},
		Bind{Vhost: "/", Binding: qbind("ad", "q2", "")},
		Bind{Vhost: "/", Binding: xbind("t", "ad", "c")},
		Bind{Vhost: "/", Binding: qbind("t", "excl", "e"), By: alice},
		Bind{Vhost: "/", Binding: qbind("missing", "q1", "")},                  // 404
		Bind{Vhost: "/", Binding: qbind("t", "excl", "f"), By: Owner{Conn: 2}}, // 405
		DeleteExchange{Vhost: "/", Name: "t", IfUnused: true},                  // 406
		DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "q1", Type: "classic"}}, // inequivalent
		DeleteQueue{Vhost: "/", Name: "q2", Incarnation: 99},                   // another instance: nothing
		DeleteQueue{Vhost: "/", Name: "q2", Incarnation: 2},                    // cascades to ad
		DeclareQueue{Vhost: "other", Queue: qdef("oq", 3)},
		DeleteVhost{Name: "other"},
		DeclareQueue{Vhost: "/", Queue: quorumDef("qq", 8, "warren@a", "warren@b")},
		SetQueueMembers{Vhost: "/", Name: "qq", Incarnation: 8, Members: []string{"warren@a", "warren@b", "warren@c"},
			Was: []string{"warren@a", "warren@b"}},
		Seed{Vhost: "/", User: UserDef{Name: "guest", PasswordHash: []byte("salt-hash"), Hashing: HashSHA256,
			Tags: []string{"administrator"}}, Perm: Permission{Configure: ".*", Write: ".*", Read: ".*"}},
		PutUser{User: UserDef{Name: "bob", Hashing: HashSHA256, Limits: Limits{LimitMaxChannels: 3}}},
		PutUser{User: UserDef{Name: "bob"}, Create: true}, // exists
		PutVhost{Name: "app", Meta: VhostMeta{Description: "the app", DefaultQueueType: "quorum"}},
		SetVhostLimits{Vhost: "app", Limits: Limits{LimitMaxQueues: 1}},
		SetPermissions{User: "bob", Vhost: "app", Perm: Permission{Configure: "^bob", Write: ".*", Read: ""}},
		SetPermissions{User: "nobody", Vhost: "app"}, // 404
		SetTopicPermissions{User: "bob", Vhost: "app", Perm: TopicPermission{Exchange: "amq.topic", Write: "^{username}\\."}},
		SetParameter{Vhost: "app", Component: "policy", Name: "ha", Value: []byte(`{"pattern":".*"}`)},
		SetGlobalParameter{Name: "cluster_name", Value: []byte(`"prod"`)},
		DeclareQueue{Vhost: "app", Queue: qdef("a1", 20)},
		DeclareQueue{Vhost: "app", Queue: qdef("a2", 21)}, // over max-queues
		PutVhost{Name: "gone"},
		SetPermissions{User: "bob", Vhost: "gone", Perm: Permission{Read: ".*"}},
		DeleteVhost{Name: "gone"},
	}
}

// quorumDef is a quorum queue's definition with members.
func quorumDef(name string, inc uint64, members ...string) QueueDef {
	return QueueDef{Name: name, Durable: true, Type: "quorum", Incarnation: inc, Home: "warren@a", Members: members}
}

// TestApplyIsDeterministic: the same commands applied to two fresh states,
// one of them decoded from their encoding as a replica receives them,
// give equal results, effects and snapshots.
func TestApplyIsDeterministic(t *testing.T) {
	a, b := NewState(), NewState()
	ra, ea := applyAll(a, scenario())
	var decoded []Command
	for _, c := range scenario() {
		d, err := Decode(Encode(c))
		if err != nil {
			t.Fatal(err)
		}
		decoded = append(decoded, d)
	}
	rb, eb := applyAll(b, decoded)
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("results differ:\n%+v\n%+v", ra, rb)
	}
	if !reflect.DeepEqual(ea, eb) {
		t.Errorf("effects differ:\n%+v\n%+v", ea, eb)
	}
	if !bytes.Equal(a.Snapshot(), b.Snapshot()) {
		t.Error("snapshots differ")
	}
	for i := range 20 {
		c := NewState()
		applyAll(c, scenario())
		if !bytes.Equal(a.Snapshot(), c.Snapshot()) {
			t.Fatalf("run %d: snapshot differs", i)
		}
	}
}

// TestApplyOrderIndependent: declaring and binding the same things in a
// different valid order reaches the same state.
func TestApplyOrderIndependent(t *testing.T) {
	declares := []Command{
		DeclareExchange{Vhost: "/", Exchange: xdef("x1", exchange.Direct)},
		DeclareExchange{Vhost: "/", Exchange: xdef("x2", exchange.Fanout)},
		DeclareQueue{Vhost: "/", Queue: qdef("q1", 1)},
		DeclareQueue{Vhost: "/", Queue: qdef("q2", 2)},
	}
	binds := []Command{
		Bind{Vhost: "/", Binding: qbind("x1", "q1", "k")},
		Bind{Vhost: "/", Binding: qbind("x1", "q2", "k")},
		Bind{Vhost: "/", Binding: xbind("x1", "x2", "j")},
		Bind{Vhost: "/", Binding: qbind("x2", "q1", "")},
	}
	forward := append(append([]Command{AddVhost{Name: "/"}}, declares...), binds...)
	backward := []Command{AddVhost{Name: "/"}}
	for i := len(declares) - 1; i >= 0; i-- {
		backward = append(backward, declares[i])
	}
	for i := len(binds) - 1; i >= 0; i-- {
		backward = append(backward, binds[i])
	}
	a, b := NewState(), NewState()
	applyAll(a, forward)
	applyAll(b, backward)
	if !bytes.Equal(a.Snapshot(), b.Snapshot()) {
		t.Error("the order of independent declares and binds changed the state")
	}
	// Deleting the queues in either order leaves the same state too.
	del := []Command{DeleteQueue{Vhost: "/", Name: "q1", Incarnation: 1}, DeleteQueue{Vhost: "/", Name: "q2", Incarnation: 2}}
	applyAll(a, del)
	applyAll(b, []Command{del[1], del[0]})
	if !bytes.Equal(a.Snapshot(), b.Snapshot()) {
		t.Error("the order of queue deletes changed the state")
	}
}

// TestApplyRefusalsChangeNothing: a command answered with an error leaves
// the definitions as they were and has no effects.
func TestApplyRefusalsChangeNothing(t *testing.T) {
	s := NewState()
	applyAll(s, scenario()[:12])
	alice := Owner{Node: "warren@a", Conn: 1}
	for _, tc := range []struct {
		name string
		cmd  Command
		code uint16
	}{
		{"bind from a missing exchange", Bind{Vhost: "/", Binding: qbind("nope", "q1", "")}, protocol.NotFound},
		{"bind to a missing queue", Bind{Vhost: "/", Binding: qbind("t", "nope", "")}, protocol.NotFound},
		{"bind to a missing exchange", Bind{Vhost: "/", Binding: xbind("t", "nope", "")}, protocol.NotFound},
		{"bind to another's exclusive queue", Bind{Vhost: "/", Binding: qbind("t", "excl", "z")}, protocol.ResourceLocked},
		{"unbind from another's exclusive queue", Unbind{Vhost: "/", Binding: qbind("t", "excl", "e")}, protocol.ResourceLocked},
		{"bad x-match", Bind{Vhost: "/", Binding: exchange.Binding{Source: "amq.headers",
			Destination: exchange.Destination{Name: "q1"}, Args: protocol.Table{"x-match": "some"}}}, protocol.PreconditionFailed},
		{"delete an exchange in use", DeleteExchange{Vhost: "/", Name: "t", IfUnused: true}, protocol.PreconditionFailed},
		{"inequivalent exchange", DeclareExchange{Vhost: "/", Exchange: xdef("t", exchange.Direct)}, protocol.PreconditionFailed},
		{"inequivalent queue", DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "q1", Durable: true, AutoDelete: true, Type: "classic"}}, protocol.PreconditionFailed},
		{"another's exclusive queue", DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "excl", Exclusive: true, AutoDelete: true,
			Type: "classic", Owner: Owner{Node: "warren@a", Conn: 2}}}, protocol.ResourceLocked},
		{"a missing vhost", DeclareQueue{Vhost: "gone", Queue: qdef("q", 1)}, protocol.NotFound},
		{"delete a missing vhost", DeleteVhost{Name: "gone"}, protocol.NotFound},
	} {
		before := body(s)
		r, effects := s.Apply(s.Applied()+1, tc.cmd)
		var pe *protocol.Error
		if !errors.As(r.Err, &pe) || pe.Code != tc.code {
			t.Errorf("%s: error %v, want code %d", tc.name, r.Err, tc.code)
		}
		if len(effects) != 0 || !bytes.Equal(before, body(s)) {
			t.Errorf("%s: changed the state (effects %+v)", tc.name, effects)
		}
	}
	// The owner may bind and unbind its exclusive queue.
	if r, _ := s.Apply(s.Applied()+1, Unbind{Vhost: "/", Binding: qbind("t", "excl", "e"), By: alice}); r.Err != nil || !r.Changed {
		t.Errorf("owner's unbind: %+v", r)
	}
}

// TestApplyStaleIndex: an entry at or before the last applied one changes
// nothing, so a replay after a restart cannot apply twice.
func TestApplyStaleIndex(t *testing.T) {
	s := NewState()
	s.Apply(5, AddVhost{Name: "/"})
	before := s.Snapshot()
	r, e := s.Apply(5, AddVhost{Name: "again"})
	if r.Err == nil || len(e) != 0 || !bytes.Equal(before, s.Snapshot()) {
		t.Fatalf("stale entry applied: %+v %+v", r, e)
	}
	if s.Applied() != 5 {
		t.Fatalf("applied index %d", s.Applied())
	}
}

// TestApplyEffects: what each change asks the node to do, in order.
func TestApplyEffects(t *testing.T) {
	ad := ExchangeDef{Name: "ad", Kind: exchange.Fanout, Durable: true, AutoDelete: true}
	base := []Command{
		AddVhost{Name: "/"},
		DeclareExchange{Vhost: "/", Exchange: ad},
		DeclareExchange{Vhost: "/", Exchange: xdef("t", exchange.Topic)},
		DeclareQueue{Vhost: "/", Queue: qdef("q", 1)},
		Bind{Vhost: "/", Binding: qbind("ad", "q", "")},
		Bind{Vhost: "/", Binding: qbind("t", "q", "k")},
		Bind{Vhost: "/", Binding: xbind("t", "ad", "j")},
	}
	q := qdef("q", 1)
	for _, tc := range []struct {
		name string
		cmd  Command
		want []Effect
	}{
		{"delete queue: bindings in canonical order, the queue, then the auto-delete exchange it leaves unbound",
			DeleteQueue{Vhost: "/", Name: "q", Incarnation: 1},
			[]Effect{
				// Canonical order is that of the encoded bindings, whose
				// names are length-prefixed: "t" before "ad".
				{Kind: BindingRemoved, Vhost: "/", Binding: qbind("t", "q", "k")},
				{Kind: BindingRemoved, Vhost: "/", Binding: qbind("ad", "q", "")},
				{Kind: QueueStopped, Vhost: "/", Queue: q, DeleteData: true},
				{Kind: BindingRemoved, Vhost: "/", Binding: xbind("t", "ad", "j")},
				{Kind: ExchangeRemoved, Vhost: "/", Exchange: ad},
			}},
		{"delete another incarnation: nothing", DeleteQueue{Vhost: "/", Name: "q", Incarnation: 2}, nil},
		{"unbind the last binding from an auto-delete exchange",
			Unbind{Vhost: "/", Binding: qbind("ad", "q", "")},
			[]Effect{
				{Kind: BindingRemoved, Vhost: "/", Binding: qbind("ad", "q", "")},
				{Kind: BindingRemoved, Vhost: "/", Binding: xbind("t", "ad", "j")},
				{Kind: ExchangeRemoved, Vhost: "/", Exchange: ad},
			}},
		{"delete exchange: bindings from and to it",
			DeleteExchange{Vhost: "/", Name: "t"},
			[]Effect{
				{Kind: BindingRemoved, Vhost: "/", Binding: qbind("t", "q", "k")},
				{Kind: BindingRemoved, Vhost: "/", Binding: xbind("t", "ad", "j")},
				{Kind: ExchangeRemoved, Vhost: "/", Exchange: xdef("t", exchange.Topic)},
			}},
		{"delete vhost: its queues, then the vhost",
			DeleteVhost{Name: "/"},
			[]Effect{
				{Kind: QueueStopped, Vhost: "/", Queue: q, DeleteData: true},
				{Kind: VhostDeleted, Vhost: "/"},
			}},
		{"redeclare: nothing", DeclareQueue{Vhost: "/", Queue: qdef("q", 5)}, nil},
		{"bind again: nothing", Bind{Vhost: "/", Binding: qbind("t", "q", "k")}, nil},
	} {
		s := NewState()
		applyAll(s, base)
		r, got := s.Apply(s.Applied()+1, tc.cmd)
		if r.Err != nil {
			t.Errorf("%s: %v", tc.name, r.Err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestRedeclareAnswersTheExisting: a redeclare answers the queue as it
// is, with its incarnation, not the one proposed.
func TestRedeclareAnswersTheExisting(t *testing.T) {
	s := NewState()
	applyAll(s, []Command{AddVhost{Name: "/"}, DeclareQueue{Vhost: "/", Queue: qdef("q", 1)}})
	r, _ := s.Apply(3, DeclareQueue{Vhost: "/", Queue: qdef("q", 2)})
	if r.Err != nil || r.Created || r.Queue.Incarnation != 1 {
		t.Fatalf("redeclare: %+v", r)
	}
}

// TestAddVhost: a new vhost has the default and amq.* exchanges; adding it
// again changes nothing.
func TestAddVhost(t *testing.T) {
	s := NewState()
	r, e := s.Apply(1, AddVhost{Name: "v"})
	if !r.Created || len(e) != 1+1+len(BuiltinExchanges) || e[0].Kind != VhostAdded {
		t.Fatalf("add: %+v %+v", r, e)
	}
	var names []string
	for _, x := range s.Exchanges("v") {
		names = append(names, x.Name)
	}
	want := []string{"", "amq.direct", "amq.fanout", "amq.headers", "amq.match", "amq.topic"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("exchanges %q, want %q", names, want)
	}
	if r, e := s.Apply(2, AddVhost{Name: "v"}); r.Created || len(e) != 0 {
		t.Errorf("second add: %+v %+v", r, e)
	}
}

// TestSnapshotRestore: a restored snapshot is the same state; damaged
// snapshots are refused.
func TestSnapshotRestore(t *testing.T) {
	s := NewState()
	applyAll(s, scenario())
	snap := s.Snapshot()
	r, err := Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Snapshot(), snap) || r.Applied() != s.Applied() {
		t.Fatal("restored state differs")
	}
	// The restored state applies the next command as the original does.
	next := DeleteQueue{Vhost: "/", Name: "q1", Incarnation: 1}
	ra, ea := s.Apply(s.Applied()+1, next)
	rb, eb := r.Apply(r.Applied()+1, next)
	if !reflect.DeepEqual(ra, rb) || !reflect.DeepEqual(ea, eb) || !bytes.Equal(s.Snapshot(), r.Snapshot()) {
		t.Error("restored state applies differently")
	}
	for i := range snap {
		if _, err := Restore(snap[:i]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("snapshot cut at %d: %v", i, err)
		}
	}
	if _, err := Restore(append(append([]byte{}, snap...), 1)); !errors.Is(err, ErrCorrupt) {
		t.Error("trailing bytes accepted")
	}
}

// TestDropTransient: a restart keeps durable exchanges and queues and the
// bindings between them, nothing else.
func TestDropTransient(t *testing.T) {
	s := NewState()
	applyAll(s, []Command{
		AddVhost{Name: "/"},
		DeclareExchange{Vhost: "/", Exchange: xdef("dx", exchange.Direct)},
		DeclareExchange{Vhost: "/", Exchange: ExchangeDef{Name: "tx", Kind: exchange.Direct}},
		DeclareQueue{Vhost: "/", Queue: qdef("dq", 1)},
		DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "tq", Type: "classic", Incarnation: 2}},
		DeclareQueue{Vhost: "/", Queue: QueueDef{Name: "eq", Exclusive: true, Type: "classic", Incarnation: 3, Owner: Owner{Conn: 1}}},
		Bind{Vhost: "/", Binding: qbind("dx", "dq", "")},
		Bind{Vhost: "/", Binding: qbind("dx", "tq", "")},
		Bind{Vhost: "/", Binding: qbind("tx", "dq", "")},
		Bind{Vhost: "/", Binding: qbind("dx", "eq", ""), By: Owner{Conn: 1}},
	})
	s.DropTransient()
	if q := s.Queues("/"); len(q) != 1 || q[0].Name != "dq" {
		t.Errorf("queues %+v", q)
	}
	if b := s.Bindings("/"); len(b) != 1 || !b[0].Equal(qbind("dx", "dq", "")) {
		t.Errorf("bindings %+v", b)
	}
	for _, x := range s.Exchanges("/") {
		if x.Name == "tx" {
			t.Error("transient exchange kept")
		}
	}
	if _, err := Restore(s.Snapshot()); err != nil {
		t.Errorf("snapshot after the drop: %v", err)
	}
}

// TestNodeDown: a node going down takes with it the exclusive queues of
// its connections (wherever they live) and the non-durable queues it is
// home to, with their bindings, in name order; its durable queues and
// every other node's queues stay.
func TestNodeDown(t *testing.T) {
	onB := func(name string, inc uint64, durable bool) QueueDef {
		q := qdef(name, inc)
		q.Home, q.Durable = "warren@b", durable
		return q
	}
	excl := qdef("excl", 3) // lives on a, owned by a connection on b
	excl.Exclusive, excl.Durable, excl.Owner = true, false, Owner{Node: "warren@b", Conn: 7}
	s := NewState()
	applyAll(s, []Command{
		AddVhost{Name: "/"},
		DeclareExchange{Vhost: "/", Exchange: xdef("t", exchange.Topic)},
		DeclareQueue{Vhost: "/", Queue: onB("b-transient", 1, false)},
		DeclareQueue{Vhost: "/", Queue: onB("b-durable", 2, true)},
		DeclareQueue{Vhost: "/", Queue: excl},
		DeclareQueue{Vhost: "/", Queue: qdef("a-durable", 4)},
		Bind{Vhost: "/", Binding: qbind("t", "b-transient", "k")},
	})
	r, got := s.Apply(s.Applied()+1, NodeDown{Node: "warren@b"})
	want := []Effect{
		{Kind: BindingRemoved, Vhost: "/", Binding: qbind("t", "b-transient", "k")},
		{Kind: QueueStopped, Vhost: "/", Queue: onB("b-transient", 1, false), DeleteData: true},
		{Kind: QueueStopped, Vhost: "/", Queue: excl, DeleteData: true},
	}
	if r.Err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("NodeDown: %v\n got %+v\nwant %+v", r.Err, got, want)
	}
	var left []string
	for _, q := range s.Queues("/") {
		left = append(left, q.Name)
	}
	if !reflect.DeepEqual(left, []string{"a-durable", "b-durable"}) {
		t.Fatalf("queues left: %v", left)
	}
}

// TestNodeDownSparesALaterLife: a NodeDown for a life that ended, committed
// after the node started again, removes what that life (and any before
// it) declared, and spares what the new life declared since.
func TestNodeDownSparesALaterLife(t *testing.T) {
	const oldLife, newLife = 100, 200
	q := func(name string, life uint64) QueueDef {
		d := qdef(name, life)
		d.Home, d.Durable, d.Life = "warren@b", false, life
		return d
	}
	s := NewState()
	applyAll(s, []Command{
		AddVhost{Name: "/"},
		DeclareQueue{Vhost: "/", Queue: q("old", oldLife)},
		DeclareQueue{Vhost: "/", Queue: q("new", newLife)},
		DeclareQueue{Vhost: "/", Queue: q("unrecorded", 0)},
	})
	applyAll(s, []Command{NodeDown{Node: "warren@b", UpTo: oldLife}})
	var left []string
	for _, d := range s.Queues("/") {
		left = append(left, d.Name)
	}
	if !reflect.DeepEqual(left, []string{"new"}) {
		t.Fatalf("queues left: %v, want only the new life's", left)
	}
}

// TestSetQueueMembers: a quorum queue's members change only for the
// incarnation named and from the members the change was made from, to a
// non-empty list of distinct nodes, with one effect carrying the new
// definition; the same members change nothing, and every refusal leaves
// the state as it was.
func TestSetQueueMembers(t *testing.T) {
	base := []Command{
		AddVhost{Name: "/"},
		DeclareQueue{Vhost: "/", Queue: quorumDef("qq", 5, "a", "b")},
		DeclareQueue{Vhost: "/", Queue: qdef("classic", 6)},
	}
	was := []string{"a", "b"}
	set := func(name string, inc uint64, members ...string) SetQueueMembers {
		return SetQueueMembers{Vhost: "/", Name: name, Incarnation: inc, Members: members, Was: was}
	}
	grown := quorumDef("qq", 5, "a", "b", "c")
	stale := set("qq", 5, "a", "c")
	stale.Was = []string{"a", "c", "d"}
	for _, tc := range []struct {
		name    string
		cmd     SetQueueMembers
		code    uint16 // 0: accepted
		changed bool
	}{
		{"add a member", set("qq", 5, "a", "b", "c"), 0, true},
		{"remove a member", set("qq", 5, "b"), 0, true},
		{"the same members", set("qq", 5, "a", "b"), 0, false},
		{"members changed meanwhile", stale, protocol.PreconditionFailed, false},
		{"another incarnation", set("qq", 4, "a"), protocol.NotFound, false},
		{"a missing queue", set("nope", 5, "a"), protocol.NotFound, false},
		{"a missing vhost", SetQueueMembers{Vhost: "gone", Name: "qq", Incarnation: 5, Members: []string{"a"}, Was: was},
			protocol.NotFound, false},
		{"a classic queue", set("classic", 6, "a"), protocol.PreconditionFailed, false},
		{"no members", set("qq", 5), protocol.PreconditionFailed, false},
		{"a node twice", set("qq", 5, "a", "b", "a"), protocol.PreconditionFailed, false},
		{"an empty name", set("qq", 5, "a", ""), protocol.PreconditionFailed, false},
	} {
		s := NewState()
		applyAll(s, base)
		before := body(s)
		r, effects := s.Apply(s.Applied()+1, tc.cmd)
		if tc.code != 0 {
			var pe *protocol.Error
			if !errors.As(r.Err, &pe) || pe.Code != tc.code {
				t.Errorf("%s: error %v, want code %d", tc.name, r.Err, tc.code)
			}
			if len(effects) != 0 || !bytes.Equal(before, body(s)) {
				t.Errorf("%s: a refusal changed the state (effects %+v)", tc.name, effects)
			}
			continue
		}
		if r.Err != nil || r.Changed != tc.changed || !reflect.DeepEqual(r.Queue.Members, tc.cmd.Members) {
			t.Errorf("%s: result %+v", tc.name, r)
		}
		got := s.Queues("/")[1]
		if !reflect.DeepEqual(got.Members, tc.cmd.Members) {
			t.Errorf("%s: members %v, want %v", tc.name, got.Members, tc.cmd.Members)
		}
		var want []Effect
		if tc.changed {
			want = []Effect{{Kind: QueueMembersChanged, Vhost: "/", Queue: got}}
		}
		if !reflect.DeepEqual(effects, want) {
			t.Errorf("%s: effects\n got %+v\nwant %+v", tc.name, effects, want)
		}
	}
	// The new members outlive a snapshot, and the command's slice is not
	// shared with the state.
	s := NewState()
	applyAll(s, base)
	members := []string{"a", "b", "c"}
	s.Apply(s.Applied()+1, SetQueueMembers{Vhost: "/", Name: "qq", Incarnation: 5, Members: members, Was: was})
	members[0] = "z"
	r, err := Restore(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Queues("/")[1]; !reflect.DeepEqual(got, grown) {
		t.Fatalf("restored queue %+v, want %+v", got, grown)
	}
}

// TestLeaderPlacements: each quorum queue of every vhost counts once for
// its first member; other queues count for no one, and a change of
// members moves the count with the first member.
func TestLeaderPlacements(t *testing.T) {
	s := NewState()
	apply := func(cmds ...Command) {
		t.Helper()
		rs, _ := applyAll(s, cmds)
		for i, r := range rs {
			if r.Err != nil {
				t.Fatalf("%T: %v", cmds[i], r.Err)
			}
		}
	}
	apply(
		AddVhost{Name: "/"},
		AddVhost{Name: "other"},
		DeclareQueue{Vhost: "/", Queue: quorumDef("q1", 1, "a", "b", "c")},
		DeclareQueue{Vhost: "/", Queue: quorumDef("q2", 2, "b", "a", "c")},
		DeclareQueue{Vhost: "other", Queue: quorumDef("q3", 3, "a", "c")},
		DeclareQueue{Vhost: "/", Queue: qdef("classic", 4)},
	)
	if got, want := s.LeaderPlacements(), map[string]int{"a": 2, "b": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placements %v, want %v", got, want)
	}
	apply(SetQueueMembers{Vhost: "other", Name: "q3", Incarnation: 3, Members: []string{"c"}, Was: []string{"a", "c"}})
	if got, want := s.LeaderPlacements(), map[string]int{"a": 1, "b": 1, "c": 1}; !reflect.DeepEqual(got, want) {
		t.Fatalf("placements after a member change %v, want %v", got, want)
	}
}
