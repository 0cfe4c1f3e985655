package mgmt

import (
	"slices"

	"github.com/warrenmq/warren/broker"
)

// Permissions and topic permissions: rabbit_mgmt_wm_permission(s),
// rabbit_mgmt_wm_topic_permission(s), and their per-vhost and per-user
// lists. All need administrator.

func (s *Server) permissionRoutes() {
	s.on("GET", "/api/permissions", admin, s.listPermissions)
	s.on("GET", "/api/permissions/{vhost}/{user}", admin, s.getPermission)
	s.on("PUT", "/api/permissions/{vhost}/{user}", admin, s.putPermission)
	s.on("DELETE", "/api/permissions/{vhost}/{user}", admin, s.deletePermission)
	s.on("GET", "/api/vhosts/{vhost}/permissions", admin, s.vhostPermissions)
	s.on("GET", "/api/topic-permissions", admin, s.listTopicPermissions)
	s.on("GET", "/api/topic-permissions/{vhost}/{user}", admin, s.getTopicPermissions)
	s.on("PUT", "/api/topic-permissions/{vhost}/{user}", admin, s.putTopicPermission)
	s.on("DELETE", "/api/topic-permissions/{vhost}/{user}", admin, s.deleteTopicPermissions)
	s.on("GET", "/api/vhosts/{vhost}/topic-permissions", admin, s.vhostTopicPermissions)
}

func permissionItem(p broker.DefPermission) item {
	return item{"user": p.User, "vhost": p.Vhost, "configure": p.Configure, "write": p.Write, "read": p.Read}
}

func topicPermissionItem(p broker.DefTopicPermission) item {
	return item{"user": p.User, "vhost": p.Vhost, "exchange": p.Exchange, "write": p.Write, "read": p.Read}
}

func (s *Server) listPermissions(r *request) (reply, *apiError) {
	var out []item
	for _, p := range s.b.Snapshot().Permissions {
		out = append(out, permissionItem(p))
	}
	return list(r, out, "vhost", "user")
}

func (s *Server) vhostPermissions(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	if !hasVhost(d, r.path("vhost")) {
		return reply{}, notFound()
	}
	var out []item
	for _, p := range d.Permissions {
		if p.Vhost == r.path("vhost") {
			out = append(out, permissionItem(p))
		}
	}
	return list(r, out, "vhost", "user")
}

func hasVhost(d *broker.Definitions, name string) bool {
	return slices.ContainsFunc(d.Vhosts, func(v broker.DefVhost) bool { return v.Name == name })
}

// findPermission returns a user's permissions in a vhost.
func findPermission(d *broker.Definitions, vhost, user string) (broker.DefPermission, bool) {
	i := slices.IndexFunc(d.Permissions, func(p broker.DefPermission) bool { return p.Vhost == vhost && p.User == user })
	if i < 0 {
		return broker.DefPermission{}, false
	}
	return d.Permissions[i], true
}

func (s *Server) getPermission(r *request) (reply, *apiError) {
	p, found := findPermission(s.b.Snapshot(), r.path("vhost"), r.path("user"))
	if !found {
		return reply{}, notFound()
	}
	return ok(permissionItem(p))
}

func (s *Server) putPermission(r *request) (reply, *apiError) {
	var b struct{ Configure, Write, Read *string }
	if err := r.decode(&b); err != nil {
		return reply{}, err
	}
	if err := requireStrings([]string{"configure", "write", "read"}, b.Configure, b.Write, b.Read); err != nil {
		return reply{}, err
	}
	d := s.b.Snapshot()
	vhost, user := r.path("vhost"), r.path("user")
	if _, found := findUser(d, user); !found || !hasVhost(d, vhost) {
		return reply{}, badRequest("vhost_or_user_not_found")
	}
	_, existed := findPermission(d, vhost, user)
	err := s.b.SetPermissions(r.Context(), user, vhost, broker.Permission{Configure: *b.Configure, Write: *b.Write, Read: *b.Read})
	if err != nil {
		return reply{}, fromBroker(err)
	}
	return createdOrNot(!existed)
}

func (s *Server) deletePermission(r *request) (reply, *apiError) {
	if _, found := findPermission(s.b.Snapshot(), r.path("vhost"), r.path("user")); !found {
		return reply{}, notFound()
	}
	if err := s.b.ClearPermissions(r.Context(), r.path("user"), r.path("vhost")); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

func (s *Server) listTopicPermissions(r *request) (reply, *apiError) {
	var out []item
	for _, p := range s.b.Snapshot().TopicPermissions {
		out = append(out, topicPermissionItem(p))
	}
	return list(r, out, "vhost", "user")
}

func (s *Server) vhostTopicPermissions(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	if !hasVhost(d, r.path("vhost")) {
		return reply{}, notFound()
	}
	var out []item
	for _, p := range d.TopicPermissions {
		if p.Vhost == r.path("vhost") {
			out = append(out, topicPermissionItem(p))
		}
	}
	return list(r, out, "vhost", "user")
}

// topicPermissionsOf returns a user's topic permissions in a vhost.
func topicPermissionsOf(d *broker.Definitions, vhost, user string) []item {
	var out []item
	for _, p := range d.TopicPermissions {
		if p.Vhost == vhost && p.User == user {
			out = append(out, topicPermissionItem(p))
		}
	}
	return out
}

func (s *Server) getTopicPermissions(r *request) (reply, *apiError) {
	out := topicPermissionsOf(s.b.Snapshot(), r.path("vhost"), r.path("user"))
	if out == nil {
		return reply{}, notFound()
	}
	return list(r, out, "vhost", "user")
}

func (s *Server) putTopicPermission(r *request) (reply, *apiError) {
	var b struct{ Exchange, Write, Read *string }
	if err := r.decode(&b); err != nil {
		return reply{}, err
	}
	if err := requireStrings([]string{"exchange", "write", "read"}, b.Exchange, b.Write, b.Read); err != nil {
		return reply{}, err
	}
	d := s.b.Snapshot()
	vhost, user := r.path("vhost"), r.path("user")
	if _, found := findUser(d, user); !found || !hasVhost(d, vhost) {
		return reply{}, badRequest("vhost_or_user_not_found")
	}
	existed := slices.ContainsFunc(d.TopicPermissions, func(p broker.DefTopicPermission) bool {
		return p.Vhost == vhost && p.User == user && p.Exchange == *b.Exchange
	})
	if err := s.b.SetTopicPermissions(r.Context(), user, vhost, *b.Exchange, *b.Write, *b.Read); err != nil {
		return reply{}, fromBroker(err)
	}
	return createdOrNot(!existed)
}

func (s *Server) deleteTopicPermissions(r *request) (reply, *apiError) {
	if topicPermissionsOf(s.b.Snapshot(), r.path("vhost"), r.path("user")) == nil {
		return reply{}, notFound()
	}
	if err := s.b.ClearTopicPermissions(r.Context(), r.path("user"), r.path("vhost"), ""); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

// requireStrings answers RabbitMQ's key_missing refusal for the keys
// whose values (in the same order) were not given.
func requireStrings(keys []string, vals ...*string) *apiError {
	var miss []string
	for i, v := range vals {
		if v == nil {
			miss = append(miss, keys[i])
		}
	}
	if miss != nil {
		return missing(miss...)
	}
	return nil
}
