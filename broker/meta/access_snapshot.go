package meta

import (
	"maps"
	"slices"
)

// accessSection marks the part of a snapshot after the virtual hosts that
// holds users, permissions, vhost metadata and parameters.
const accessSection = 1

// writeAccess appends the access section, every list in sorted order.
func (w *writer) writeAccess(s *State) {
	acc := &s.access
	w.Byte(accessSection)
	w.Flags(acc.seeded)
	users := s.Users()
	w.Uvarint(uint64(len(users)))
	for i := range users {
		w.user(&users[i])
	}
	perms := s.Permissions()
	w.Uvarint(uint64(len(perms)))
	for _, p := range perms {
		w.Str(p.User)
		w.Str(p.Vhost)
		w.perm(p.Permission)
	}
	topics := s.TopicPermissions()
	w.Uvarint(uint64(len(topics)))
	for _, p := range topics {
		w.Str(p.User)
		w.Str(p.Vhost)
		w.topicPerm(p.TopicPermission)
	}
	w.Uvarint(uint64(len(acc.vmeta)))
	for _, vh := range slices.Sorted(maps.Keys(acc.vmeta)) {
		m := acc.vmeta[vh]
		w.Str(vh)
		w.vhostMeta(&m)
	}
	params := s.Parameters()
	w.Uvarint(uint64(len(params)))
	for _, p := range params {
		w.Str(p.Vhost)
		w.Str(p.Component)
		w.Str(p.Name)
		w.Str(string(p.Value))
	}
	globals := s.GlobalParameters()
	w.Uvarint(uint64(len(globals)))
	for _, p := range globals {
		w.Str(p.Name)
		w.Str(string(p.Value))
	}
}

// restoreAccess reads the access section into s, whose vhosts are read
// already: everything must name a user and a vhost that exist, once.
func (r *reader) restoreAccess(s *State) {
	acc := &s.access
	if r.Byte() != accessSection && r.Err == nil {
		r.Fail("unknown snapshot section")
	}
	r.Flags(&acc.seeded)
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		u := r.user()
		if _, dup := acc.users[u.Name]; dup {
			r.Fail("user '" + u.Name + "' twice")
		}
		acc.users[u.Name] = u
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		user, vh, p := r.Str(), r.Str(), r.perm()
		if !r.userVhost(s, user, vh) {
			break
		}
		if acc.perms[user] == nil {
			acc.perms[user] = make(map[string]Permission)
		}
		if _, dup := acc.perms[user][vh]; dup {
			r.Fail("permissions twice")
		}
		acc.perms[user][vh] = p
	}
	r.restoreTopics(s)
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		vh, m := r.Str(), r.vhostMeta()
		if _, ok := s.vhosts[vh]; !ok && r.Err == nil {
			r.Fail("metadata of a missing vhost")
		}
		acc.vmeta[vh] = m
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		p := VhostParameter{Vhost: r.Str()}
		p.Component, p.Name, p.Value = r.Str(), r.Str(), []byte(r.Str())
		if _, ok := s.vhosts[p.Vhost]; !ok && r.Err == nil {
			r.Fail("parameter of a missing vhost")
		}
		if acc.params[p.Vhost] == nil {
			acc.params[p.Vhost] = make(map[string]Parameter)
		}
		acc.params[p.Vhost][paramKey(p.Component, p.Name)] = p.Parameter
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		name, v := r.Str(), r.Str()
		acc.globals[name] = []byte(v)
	}
}

func (r *reader) restoreTopics(s *State) {
	acc := &s.access
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		user, vh, p := r.Str(), r.Str(), r.topicPerm()
		if !r.userVhost(s, user, vh) {
			return
		}
		if acc.topics[user] == nil {
			acc.topics[user] = make(map[string]map[string]TopicPermission)
		}
		if acc.topics[user][vh] == nil {
			acc.topics[user][vh] = make(map[string]TopicPermission)
		}
		acc.topics[user][vh][p.Exchange] = p
	}
}

// userVhost fails unless user and vhost exist.
func (r *reader) userVhost(s *State, user, vhost string) bool {
	if r.Err != nil {
		return false
	}
	if _, ok := s.access.users[user]; !ok {
		r.Fail("permissions of a missing user")
		return false
	}
	if _, ok := s.vhosts[vhost]; !ok {
		r.Fail("permissions in a missing vhost")
		return false
	}
	return true
}
