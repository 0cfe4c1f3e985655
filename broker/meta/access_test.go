package meta

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/warrenmq/warren/protocol"
)

var allPerms = Permission{Configure: ".*", Write: ".*", Read: ".*"}

func guestSeed() Seed {
	return Seed{Vhost: "/", Meta: VhostMeta{Description: "Default virtual host"},
		User: UserDef{Name: "guest", PasswordHash: []byte("salthash"), Hashing: HashSHA256, Tags: []string{"administrator"}},
		Perm: allPerms}
}

// code returns the reply code of a result's error, 0 for none.
func code(r Result) uint16 {
	var pe *protocol.Error
	if errors.As(r.Err, &pe) {
		return pe.Code
	}
	return 0
}

// TestAccessApply: each access command's answer, from a seeded state
// with a user bob and a vhost app.
func TestAccessApply(t *testing.T) {
	cases := []struct {
		name string
		cmd  Command
		code uint16
		text string
	}{
		{"create existing user", PutUser{User: UserDef{Name: "bob"}, Create: true}, protocol.PreconditionFailed, "PRECONDITION_FAILED - user 'bob' already exists"},
		{"replace user", PutUser{User: UserDef{Name: "bob", Tags: []string{"monitoring"}}}, 0, ""},
		{"user without name", PutUser{User: UserDef{}}, protocol.PreconditionFailed, "PRECONDITION_FAILED - user name must not be empty"},
		{"delete missing user", DeleteUser{Name: "carol"}, protocol.NotFound, "NOT_FOUND - user 'carol' does not exist"},
		{"permissions of missing user", SetPermissions{User: "carol", Vhost: "app"}, protocol.NotFound, "NOT_FOUND - user 'carol' does not exist"},
		{"permissions in missing vhost", SetPermissions{User: "bob", Vhost: "nope"}, protocol.NotFound, "NOT_FOUND - no vhost 'nope'"},
		{"topic permissions in missing vhost", SetTopicPermissions{User: "bob", Vhost: "nope"}, protocol.NotFound, "NOT_FOUND - no vhost 'nope'"},
		{"limits of missing vhost", SetVhostLimits{Vhost: "nope"}, protocol.NotFound, "NOT_FOUND - no vhost 'nope'"},
		{"limits of missing user", SetUserLimits{User: "carol"}, protocol.NotFound, "NOT_FOUND - user 'carol' does not exist"},
		{"parameter in missing vhost", SetParameter{Vhost: "nope", Component: "policy", Name: "p"}, protocol.NotFound, "NOT_FOUND - no vhost 'nope'"},
		{"clear absent permissions", ClearPermissions{User: "bob", Vhost: "/"}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewState()
			applyAll(s, []Command{guestSeed(), PutUser{User: UserDef{Name: "bob"}}, PutVhost{Name: "app"}})
			before := s.Snapshot()
			r, _ := s.Apply(s.Applied()+1, tc.cmd)
			if code(r) != tc.code {
				t.Fatalf("code %d (%v), want %d", code(r), r.Err, tc.code)
			}
			if tc.code != 0 {
				if pe := r.Err.(*protocol.Error); pe.Text != tc.text {
					t.Errorf("text %q, want %q", pe.Text, tc.text)
				}
				s.applied--
				if !bytes.Equal(s.Snapshot(), before) {
					t.Error("a refused command changed the state")
				}
			}
		})
	}
}

// TestSeedOnce: the first Seed creates the vhost, the user and its
// permissions; later ones (another node's, another start's) change
// nothing, even after the user was deleted.
func TestSeedOnce(t *testing.T) {
	s := NewState()
	if s.Seeded() {
		t.Fatal("a new state is seeded")
	}
	_, effects := s.Apply(1, guestSeed())
	if !s.Seeded() || !reflect.DeepEqual(s.Vhosts(), []string{"/"}) {
		t.Fatalf("seeded %v, vhosts %v", s.Seeded(), s.Vhosts())
	}
	ua, ok := s.UserAccess("guest")
	if !ok || ua.Perms["/"] != allPerms || !HasUserTag(ua.User.Tags, "administrator") {
		t.Fatalf("guest after the seed: %+v", ua)
	}
	if last := effects[len(effects)-1]; last.Kind != UserChanged || last.Access.User.Name != "guest" {
		t.Errorf("last effect %+v, want the user", last)
	}
	if s.VhostMeta("/").Description != "Default virtual host" {
		t.Errorf("vhost metadata %+v", s.VhostMeta("/"))
	}
	s.Apply(2, DeleteUser{Name: "guest"})
	other := guestSeed()
	other.User.Name = "admin"
	if r, e := s.Apply(3, other); r.Err != nil || len(e) != 0 || len(s.Users()) != 0 {
		t.Fatalf("second seed: %+v %+v, users %v", r, e, s.Users())
	}
}

// TestSeedOldDefinitions: definitions from before users existed (a vhost
// "/", never seeded) get the default user and its permissions on "/",
// and no second vhost.
func TestSeedOldDefinitions(t *testing.T) {
	s := NewState()
	applyAll(s, []Command{AddVhost{Name: "/"}, AddVhost{Name: "other"}})
	seed := guestSeed()
	seed.Vhost = "new"
	applyAll(s, []Command{seed})
	if !reflect.DeepEqual(s.Vhosts(), []string{"/", "other"}) {
		t.Errorf("vhosts %v", s.Vhosts())
	}
	if ua, _ := s.UserAccess("guest"); len(ua.Perms) != 0 {
		t.Errorf("permissions on a vhost the seed did not create: %+v", ua.Perms)
	}
	// A seed that only marks (definitions loaded at boot) creates nothing.
	m := NewState()
	applyAll(m, []Command{Seed{}, guestSeed()})
	if !m.Seeded() || len(m.Vhosts()) != 0 || len(m.Users()) != 0 {
		t.Errorf("a marking seed: vhosts %v users %v", m.Vhosts(), m.Users())
	}
}

// TestDeleteVhostDropsAccess: deleting a vhost removes the permissions,
// topic permissions, metadata and parameters in it, and tells the node
// of each user changed.
func TestDeleteVhostDropsAccess(t *testing.T) {
	s := NewState()
	applyAll(s, []Command{
		guestSeed(),
		PutVhost{Name: "app", Meta: VhostMeta{Description: "d"}},
		SetPermissions{User: "guest", Vhost: "app", Perm: allPerms},
		SetTopicPermissions{User: "guest", Vhost: "app", Perm: TopicPermission{Exchange: "t", Write: ".*"}},
		SetParameter{Vhost: "app", Component: "policy", Name: "p", Value: []byte("{}")},
	})
	_, effects := s.Apply(s.Applied()+1, DeleteVhost{Name: "app"})
	ua, _ := s.UserAccess("guest")
	if _, ok := ua.Perms["app"]; ok || len(ua.Topics) != 0 || len(s.Parameters()) != 0 || s.VhostMeta("app").Description != "" {
		t.Fatalf("left behind: %+v %v %+v", ua, s.Parameters(), s.VhostMeta("app"))
	}
	kinds := []EffectKind{}
	for _, e := range effects {
		kinds = append(kinds, e.Kind)
	}
	if !reflect.DeepEqual(kinds, []EffectKind{UserChanged, VhostDeleted}) {
		t.Errorf("effects %v", kinds)
	}
}

// TestQueueLimit: a vhost's max-queues refuses the queue past it with
// RabbitMQ's text; a redeclare of a queue there is still answered, and
// a negative limit is none.
func TestQueueLimit(t *testing.T) {
	s := NewState()
	applyAll(s, []Command{AddVhost{Name: "/"}, SetVhostLimits{Vhost: "/", Limits: Limits{LimitMaxQueues: 1}},
		DeclareQueue{Vhost: "/", Queue: qdef("a", 1)}})
	r, _ := s.Apply(s.Applied()+1, DeclareQueue{Vhost: "/", Queue: qdef("b", 2)})
	want := "PRECONDITION_FAILED - cannot declare queue 'b': queue limit in vhost '/' (1) is reached"
	if pe, ok := r.Err.(*protocol.Error); !ok || pe.Code != protocol.PreconditionFailed || pe.Text != want {
		t.Fatalf("over the limit: %v", r.Err)
	}
	if r, _ := s.Apply(s.Applied()+1, DeclareQueue{Vhost: "/", Queue: qdef("a", 3)}); r.Err != nil {
		t.Errorf("redeclare at the limit: %v", r.Err)
	}
	applyAll(s, []Command{SetVhostLimits{Vhost: "/", Limits: Limits{LimitMaxQueues: -1}}})
	if r, _ := s.Apply(s.Applied()+1, DeclareQueue{Vhost: "/", Queue: qdef("b", 2)}); r.Err != nil {
		t.Errorf("negative limit: %v", r.Err)
	}
}

// TestAccessSnapshot: users, permissions, metadata and parameters
// survive a snapshot, and a restored state diffs to nothing.
func TestAccessSnapshot(t *testing.T) {
	s := NewState()
	applyAll(s, scenario())
	r, err := Restore(s.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Users(), s.Users()) || !reflect.DeepEqual(r.Permissions(), s.Permissions()) ||
		!reflect.DeepEqual(r.TopicPermissions(), s.TopicPermissions()) || !reflect.DeepEqual(r.Parameters(), s.Parameters()) ||
		!reflect.DeepEqual(r.GlobalParameters(), s.GlobalParameters()) || !reflect.DeepEqual(r.VhostMeta("app"), s.VhostMeta("app")) ||
		r.Seeded() != s.Seeded() {
		t.Fatal("restored access differs")
	}
	if len(s.Users()) != 2 || len(s.Permissions()) != 2 || len(s.TopicPermissions()) != 1 || len(s.GlobalParameters()) != 1 {
		t.Fatalf("the scenario's access: %v %v %v", s.Users(), s.Permissions(), s.TopicPermissions())
	}
	if d := Diff(s, r); d != nil {
		t.Errorf("diff of a restored state: %+v", d)
	}
}

// oldSnapshot is a snapshot written by the code before users existed
// (version 1): vhost "/" with a topic exchange x, a durable queue q and a
// binding, applied index 4.
const oldSnapshot = "010401012f0700066469726563740100000000000a616d712e646972656374066469726563740100000000000a616d712e66616e6f75740666616e6f75740100000000000b616d712e68656164657273076865616465727301000000000009616d712e6d61746368076865616465727301000000000009616d712e746f70696305746f706963010000000000017805746f706963010000000000010171010000000007636c6173736963050877617272656e4061000001017800017103612e2300000000"

// TestOldSnapshotRestores: a snapshot of the first version still
// restores, as never seeded and without users, and saves in the new one.
func TestOldSnapshotRestores(t *testing.T) {
	b, _ := hex.DecodeString(oldSnapshot)
	s, err := Restore(b)
	if err != nil {
		t.Fatal(err)
	}
	if s.Applied() != 4 || len(s.Queues("/")) != 1 || len(s.Bindings("/")) != 1 || s.Seeded() || len(s.Users()) != 0 {
		t.Fatalf("restored: applied %d, queues %v, seeded %v", s.Applied(), s.Queues("/"), s.Seeded())
	}
	applyAll(s, []Command{guestSeed()})
	again, err := Restore(s.Snapshot())
	if err != nil || !again.Seeded() || len(again.Users()) != 1 {
		t.Fatalf("resaved: %v", err)
	}
}

// TestDiffAccess: the diff between two states tells the node every user
// changed or deleted and every vhost whose metadata changed.
func TestDiffAccess(t *testing.T) {
	from := NewState()
	applyAll(from, []Command{guestSeed(), PutUser{User: UserDef{Name: "bob"}}, PutUser{User: UserDef{Name: "carol"}}})
	to, _ := Restore(from.Snapshot())
	applyAll(to, []Command{
		DeleteUser{Name: "bob"},
		SetPermissions{User: "carol", Vhost: "/", Perm: allPerms},
		SetVhostLimits{Vhost: "/", Limits: Limits{LimitMaxConnections: 2}},
	})
	var got []string
	for _, e := range Diff(from, to) {
		switch e.Kind {
		case UserChanged:
			got = append(got, "changed "+e.Access.User.Name)
		case UserDeleted:
			got = append(got, "deleted "+e.Access.User.Name)
		case VhostMetaChanged:
			got = append(got, "meta "+e.Vhost)
		}
	}
	want := []string{"meta /", "deleted bob", "changed carol"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diff %v, want %v", got, want)
	}
}
