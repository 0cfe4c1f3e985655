package mgmt

import (
	"encoding/json"
	"fmt"

	"github.com/warrenmq/warren/broker"
)

// Vhost and user limits: rabbit_mgmt_wm_limits, rabbit_mgmt_wm_limit,
// rabbit_mgmt_wm_user_limits and rabbit_mgmt_wm_user_limit. Lists are
// open to any management user (a vhost's to those who may use it, a
// user's limits to that user unless administrator); changes need
// administrator.

func (s *Server) limitRoutes() {
	s.on("GET", "/api/vhost-limits", anyUser, s.listVhostLimits)
	s.on("GET", "/api/vhost-limits/{vhost}", vhostUser, s.listVhostLimits)
	s.on("PUT", "/api/vhost-limits/{vhost}/{name}", admin, s.putVhostLimit)
	s.on("DELETE", "/api/vhost-limits/{vhost}/{name}", admin, s.deleteVhostLimit)
	s.on("GET", "/api/user-limits", anyUser, s.listUserLimits)
	s.on("GET", "/api/user-limits/{user}", anyUser, s.listUserLimits)
	s.on("PUT", "/api/user-limits/{user}/{name}", admin, s.putUserLimit)
	s.on("DELETE", "/api/user-limits/{user}/{name}", admin, s.deleteUserLimit)
}

func (s *Server) listVhostLimits(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	one := r.path("vhost")
	if one != "" && !hasVhost(d, one) {
		return reply{}, notFound()
	}
	visible := map[string]bool{}
	for _, v := range s.loginVhosts(r.user, true) {
		visible[v] = true
	}
	var out []item
	for _, v := range d.Vhosts {
		if len(v.Limits) == 0 || !visible[v.Name] || (one != "" && v.Name != one) {
			continue
		}
		out = append(out, item{"vhost": v.Name, "value": map[string]int64(v.Limits)})
	}
	return list(r, out, "vhost")
}

func (s *Server) listUserLimits(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	one := r.path("user")
	if one != "" {
		if _, found := findUser(d, one); !found {
			return reply{}, notFound()
		}
	}
	var out []item
	for _, u := range d.Users {
		if len(u.Limits) == 0 || (one != "" && u.Name != one) || (!isAdmin(r.user) && u.Name != r.user.Name) {
			continue
		}
		out = append(out, item{"user": u.Name, "value": map[string]int64(u.Limits)})
	}
	return list(r, out, "user")
}

// limitValue reads {"value": N}.
func limitValue(r *request) (int64, *apiError) {
	var b struct {
		Value *json.Number `json:"value"`
	}
	if err := r.decode(&b); err != nil {
		return 0, err
	}
	if b.Value == nil {
		return 0, missing("value")
	}
	n, err := b.Value.Int64()
	if err != nil {
		return 0, badRequest(fmt.Sprintf("Validation failed\n\n%s is not a valid limit value\n", b.Value.String()))
	}
	return n, nil
}

// withLimit returns l with name set to v (or removed, for del).
func withLimit(l broker.DefLimits, name string, v int64, del bool) broker.Limits {
	out := broker.Limits{}
	for k, x := range l {
		out[k] = x
	}
	if del {
		delete(out, name)
	} else {
		out[name] = v
	}
	return out
}

// unknownLimit is RabbitMQ's validation error for a limit it does not know.
func unknownLimit(name string, v int64) *apiError {
	return badRequest(fmt.Sprintf("Validation failed\n\nUnrecognised terms [{<<\"%s\">>,%d}] in limits\n", name, v))
}

func (s *Server) putVhostLimit(r *request) (reply, *apiError) {
	v, aerr := limitValue(r)
	if aerr != nil {
		return reply{}, aerr
	}
	name := r.path("name")
	if name != "max-connections" && name != "max-queues" {
		return reply{}, unknownLimit(name, v)
	}
	vh, found := findVhost(s.b.Snapshot(), r.path("vhost"))
	if !found {
		return reply{}, notFound()
	}
	if err := s.b.SetVhostLimits(r.Context(), vh.Name, withLimit(vh.Limits, name, v, false)); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

func (s *Server) deleteVhostLimit(r *request) (reply, *apiError) {
	vh, found := findVhost(s.b.Snapshot(), r.path("vhost"))
	if !found {
		return reply{}, notFound()
	}
	if err := s.b.SetVhostLimits(r.Context(), vh.Name, withLimit(vh.Limits, r.path("name"), 0, true)); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

func (s *Server) putUserLimit(r *request) (reply, *apiError) {
	v, aerr := limitValue(r)
	if aerr != nil {
		return reply{}, aerr
	}
	name := r.path("name")
	if name != "max-connections" && name != "max-channels" {
		return reply{}, unknownLimit(name, v)
	}
	u, found := findUser(s.b.Snapshot(), r.path("user"))
	if !found {
		return reply{}, notFound()
	}
	if err := s.b.SetUserLimits(r.Context(), u.Name, withLimit(u.Limits, name, v, false)); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}

func (s *Server) deleteUserLimit(r *request) (reply, *apiError) {
	u, found := findUser(s.b.Snapshot(), r.path("user"))
	if !found {
		return reply{}, notFound()
	}
	if err := s.b.SetUserLimits(r.Context(), u.Name, withLimit(u.Limits, r.path("name"), 0, true)); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}
