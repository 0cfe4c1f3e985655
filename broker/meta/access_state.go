package meta

import (
	"maps"
	"slices"
	"strings"

	"github.com/warrenmq/warren/broker/policy"
)

// accessState is the part of the definitions that is not AMQP's:
// internal users, their permissions and topic permissions, virtual host
// metadata and limits, runtime parameters (policies among them) and
// whether the default data was seeded.
type accessState struct {
	seeded bool
	users  map[string]UserDef
	// perms and topics are by user, then virtual host (then exchange).
	perms  map[string]map[string]Permission
	topics map[string]map[string]map[string]TopicPermission
	vmeta  map[string]VhostMeta // by virtual host; absent is the zero VhostMeta
	// params are by virtual host, then paramKey(component, name).
	params  map[string]map[string]Parameter
	globals map[string][]byte
	// polsets are the compiled policies and operator policies of each
	// vhost that has any, derived from params (policy.go).
	polsets map[string]*policy.Set
}

// Parameter is a runtime parameter of a virtual host, its value JSON as
// it was given.
type Parameter struct {
	Component, Name string
	Value           []byte
}

func newAccessState() accessState {
	return accessState{
		users:   make(map[string]UserDef),
		perms:   make(map[string]map[string]Permission),
		topics:  make(map[string]map[string]map[string]TopicPermission),
		vmeta:   make(map[string]VhostMeta),
		params:  make(map[string]map[string]Parameter),
		globals: make(map[string][]byte),
		polsets: make(map[string]*policy.Set),
	}
}

func paramKey(component, name string) string { return component + "\x00" + name }

// Seeded reports whether the default data was seeded (or seeding was
// skipped because definitions were loaded at boot).
func (s *State) Seeded() bool { return s.access.seeded }

// Users returns the users, sorted by name.
func (s *State) Users() []UserDef {
	out := make([]UserDef, 0, len(s.access.users))
	for _, n := range slices.Sorted(maps.Keys(s.access.users)) {
		out = append(out, s.access.users[n])
	}
	return out
}

// User returns the named user.
func (s *State) User(name string) (UserDef, bool) {
	u, ok := s.access.users[name]
	return u, ok
}

// UserAccess returns the named user with its permissions, in maps of its
// own.
func (s *State) UserAccess(name string) (UserAccess, bool) {
	u, ok := s.access.users[name]
	if !ok {
		return UserAccess{}, false
	}
	ua := UserAccess{User: u, Perms: maps.Clone(s.access.perms[name])}
	if t := s.access.topics[name]; len(t) > 0 {
		ua.Topics = make(map[string]map[string]TopicPermission, len(t))
		for vh, xs := range t {
			ua.Topics[vh] = maps.Clone(xs)
		}
	}
	return ua, true
}

// UserPermission is one user's permissions in one virtual host.
type UserPermission struct {
	User, Vhost string
	Permission
}

// UserTopicPermission is one user's topic permissions on one exchange.
type UserTopicPermission struct {
	User, Vhost string
	TopicPermission
}

// Permissions returns every permission, sorted by user, then vhost.
func (s *State) Permissions() []UserPermission {
	var out []UserPermission
	for _, u := range slices.Sorted(maps.Keys(s.access.perms)) {
		byVhost := s.access.perms[u]
		for _, vh := range slices.Sorted(maps.Keys(byVhost)) {
			out = append(out, UserPermission{User: u, Vhost: vh, Permission: byVhost[vh]})
		}
	}
	return out
}

// TopicPermissions returns every topic permission, sorted by user, vhost,
// then exchange.
func (s *State) TopicPermissions() []UserTopicPermission {
	var out []UserTopicPermission
	for _, u := range slices.Sorted(maps.Keys(s.access.topics)) {
		byVhost := s.access.topics[u]
		for _, vh := range slices.Sorted(maps.Keys(byVhost)) {
			xs := byVhost[vh]
			for _, x := range slices.Sorted(maps.Keys(xs)) {
				out = append(out, UserTopicPermission{User: u, Vhost: vh, TopicPermission: xs[x]})
			}
		}
	}
	return out
}

// VhostMeta returns a virtual host's metadata and limits.
func (s *State) VhostMeta(vhost string) VhostMeta { return s.access.vmeta[vhost] }

// VhostParameter is a runtime parameter with its virtual host.
type VhostParameter struct {
	Vhost string
	Parameter
}

// Parameters returns the runtime parameters, sorted by vhost, component,
// then name.
func (s *State) Parameters() []VhostParameter {
	var out []VhostParameter
	for _, vh := range slices.Sorted(maps.Keys(s.access.params)) {
		ps := s.access.params[vh]
		for _, k := range slices.Sorted(maps.Keys(ps)) {
			out = append(out, VhostParameter{Vhost: vh, Parameter: ps[k]})
		}
	}
	return out
}

// GlobalParameters returns the global runtime parameters' names and
// values, sorted by name.
func (s *State) GlobalParameters() []Parameter {
	out := make([]Parameter, 0, len(s.access.globals))
	for _, n := range slices.Sorted(maps.Keys(s.access.globals)) {
		out = append(out, Parameter{Name: n, Value: s.access.globals[n]})
	}
	return out
}

// AccessEffects returns the effects that make a node that carried out
// nothing know every user and every vhost's metadata: what a start does
// for the state it loaded.
func (s *State) AccessEffects() []Effect {
	var out []Effect
	for _, vh := range slices.Sorted(maps.Keys(s.access.vmeta)) {
		out = append(out, Effect{Kind: VhostMetaChanged, Vhost: vh, VhostMeta: s.access.vmeta[vh]})
	}
	for _, u := range slices.Sorted(maps.Keys(s.access.users)) {
		ua, _ := s.UserAccess(u)
		out = append(out, Effect{Kind: UserChanged, Access: ua})
	}
	return out
}

// HasUserTag reports whether tags holds tag, as RabbitMQ compares them.
func HasUserTag(tags []string, tag string) bool {
	return slices.ContainsFunc(tags, func(t string) bool { return strings.TrimSpace(t) == tag })
}
