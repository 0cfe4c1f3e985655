package mgmt

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"

	"github.com/warrenmq/warren/broker"
)

// Users, whoami and a user's permissions: rabbit_mgmt_wm_user(s),
// rabbit_mgmt_wm_whoami, rabbit_mgmt_wm_users_bulk_delete.

func (s *Server) userRoutes() {
	s.on("GET", "/api/whoami", anyUser, s.whoami)
	s.on("GET", "/api/users", admin, s.listUsers)
	s.on("GET", "/api/users/without-permissions", admin, s.usersWithoutPermissions)
	s.on("POST", "/api/users/bulk-delete", admin, s.bulkDeleteUsers)
	s.on("GET", "/api/users/{user}", admin, s.getUser)
	s.on("PUT", "/api/users/{user}", admin, s.putUser)
	s.on("DELETE", "/api/users/{user}", admin, s.deleteUser)
	s.on("GET", "/api/users/{user}/permissions", admin, s.userPermissions)
	s.on("GET", "/api/users/{user}/topic-permissions", admin, s.userTopicPermissions)
}

func (s *Server) whoami(r *request) (reply, *apiError) {
	return ok(item{"name": r.user.Name, "tags": tagList(r.user.Tags)})
}

func tagList(tags []string) []string {
	if tags == nil {
		return []string{}
	}
	return tags
}

// userItem is a user as RabbitMQ lists it.
func userItem(u broker.DefUser) item {
	hash := ""
	if u.PasswordHash != nil {
		hash = *u.PasswordHash
	}
	limits := map[string]int64(u.Limits)
	if limits == nil {
		limits = map[string]int64{}
	}
	return item{"name": u.Name, "password_hash": hash, "hashing_algorithm": u.HashingAlgorithm,
		"tags": tagList(u.Tags), "limits": limits}
}

func (s *Server) listUsers(r *request) (reply, *apiError) {
	var out []item
	for _, u := range s.b.Snapshot().Users {
		out = append(out, userItem(u))
	}
	return list(r, out, "name")
}

func (s *Server) usersWithoutPermissions(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	var out []item
	for _, u := range d.Users {
		if !slices.ContainsFunc(d.Permissions, func(p broker.DefPermission) bool { return p.User == u.Name }) {
			out = append(out, userItem(u))
		}
	}
	return list(r, out, "name")
}

// findUser returns a user of the definitions.
func findUser(d *broker.Definitions, name string) (broker.DefUser, bool) {
	i := slices.IndexFunc(d.Users, func(u broker.DefUser) bool { return u.Name == name })
	if i < 0 {
		return broker.DefUser{}, false
	}
	return d.Users[i], true
}

func (s *Server) getUser(r *request) (reply, *apiError) {
	u, found := findUser(s.b.Snapshot(), r.path("user"))
	if !found {
		return reply{}, notFound()
	}
	return ok(userItem(u))
}

// userBody is PUT /api/users/{user}'s body.
type userBody struct {
	Password         *string         `json:"password"`
	PasswordHash     *string         `json:"password_hash"`
	HashingAlgorithm string          `json:"hashing_algorithm"`
	Tags             json.RawMessage `json:"tags"`
}

func (s *Server) putUser(r *request) (reply, *apiError) {
	var b userBody
	if err := r.decode(&b); err != nil {
		return reply{}, err
	}
	if len(b.Tags) == 0 || string(b.Tags) == "null" {
		return reply{}, badRequest("tags_not_present")
	}
	var tags broker.DefTags
	if err := json.Unmarshal(b.Tags, &tags); err != nil {
		return reply{}, badRequest("tags must be a comma-separated string or a list of strings")
	}
	spec := broker.UserSpec{Name: r.path("user"), Password: b.Password, Hashing: b.HashingAlgorithm, Tags: cleanTags(tags)}
	if b.Password == nil && b.PasswordHash != nil {
		h, err := base64.StdEncoding.DecodeString(*b.PasswordHash)
		if err != nil {
			return reply{}, badRequest("password_hash is not base64")
		}
		spec.PasswordHash, spec.HashSet = h, true
	}
	_, existed := s.b.UserTags(spec.Name)
	if err := s.b.PutUser(r.Context(), spec); err != nil {
		return reply{}, fromBroker(err)
	}
	return createdOrNot(!existed)
}

// cleanTags trims the tags of a comma-separated string and drops empty ones.
func cleanTags(tags []string) []string {
	out := []string{}
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) deleteUser(r *request) (reply, *apiError) {
	name := r.path("user")
	if _, found := s.b.UserTags(name); !found {
		return reply{}, notFound()
	}
	if err := s.b.DeleteUser(r.Context(), name); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

func (s *Server) bulkDeleteUsers(r *request) (reply, *apiError) {
	var b struct {
		Users []string `json:"users"`
	}
	if err := r.decode(&b); err != nil {
		return reply{}, err
	}
	if b.Users == nil {
		return reply{}, missing("users")
	}
	// One by one, as RabbitMQ: those before a missing user are deleted.
	for _, name := range b.Users {
		if _, found := s.b.UserTags(name); !found {
			return reply{}, badRequest([]string{"no_such_user", name})
		}
		if err := s.b.DeleteUser(r.Context(), name); err != nil {
			return reply{}, fromBroker(err)
		}
	}
	return noContent()
}

func (s *Server) userPermissions(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	if _, found := findUser(d, r.path("user")); !found {
		return reply{}, notFound()
	}
	var out []item
	for _, p := range d.Permissions {
		if p.User == r.path("user") {
			out = append(out, permissionItem(p))
		}
	}
	return list(r, out, "vhost", "user")
}

func (s *Server) userTopicPermissions(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	if _, found := findUser(d, r.path("user")); !found {
		return reply{}, notFound()
	}
	var out []item
	for _, p := range d.TopicPermissions {
		if p.User == r.path("user") {
			out = append(out, topicPermissionItem(p))
		}
	}
	return list(r, out, "vhost", "user")
}
