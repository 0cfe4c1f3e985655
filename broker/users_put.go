package broker

import (
	"context"
	"encoding/json"

	"github.com/warrenmq/warren/broker/meta"
)

// UserSpec is a user as the management API's PUT /api/users/{name} gives
// it: a password (hashed here), or a password hash already made with
// Hashing, or neither; and its tags.
type UserSpec struct {
	Name         string
	Password     *string
	PasswordHash []byte // with Hashing; used when Password is nil and HashSet
	HashSet      bool
	Hashing      string
	Tags         []string
}

// PutUser creates a user or replaces its password and tags, as the
// management API's user PUT does: without a password or a hash (or with
// an empty one) the user cannot log in with a password. A user that
// exists keeps its limits.
func (s *Server) PutUser(ctx context.Context, spec UserSpec) (err error) {
	defer s.audited(ctx, userPutEntry(spec), &err)
	u := meta.UserDef{Name: spec.Name, Hashing: meta.HashSHA256, Tags: spec.Tags}
	var old meta.UserDef
	var exists bool
	s.fsm.read(func(st *meta.State) { old, exists = st.User(spec.Name) })
	if exists {
		u.Limits = old.Limits
	}
	switch {
	case spec.Password != nil:
		u.Hashing, u.PasswordHash = meta.HashSHA256, nil
		if *spec.Password != "" {
			u.PasswordHash = hashPassword(*spec.Password)
		}
	case spec.HashSet:
		u.PasswordHash = spec.PasswordHash
		if spec.Hashing != "" {
			u.Hashing = spec.Hashing
		}
	}
	if u.Tags == nil {
		u.Tags = []string{}
	}
	if err := checkUser(&u); err != nil {
		return err
	}
	_, err = s.proposeVhost(ctx, meta.PutUser{User: u}, "")
	return err
}

// SetParameter sets a vhost's runtime parameter (component, name) to a
// JSON value, kept as given; "vhost-limits" sets the vhost's limits.
func (s *Server) SetParameter(ctx context.Context, vhost, component, name string, value json.RawMessage) (err error) {
	if component == vhostLimitsComponent {
		var l DefLimits
		if err := json.Unmarshal(value, &l); err != nil {
			s.audited(ctx, AuditEntry{Action: "vhost_limits.set", Vhost: vhost}, &err)
			return err
		}
		return s.SetVhostLimits(ctx, vhost, Limits(l))
	}
	defer s.audited(ctx, parameterEntry(vhost, component, name, value), &err)
	_, err = s.proposeVhost(ctx, meta.SetParameter{Vhost: vhost, Component: component, Name: name, Value: value}, vhost)
	return err
}

// ClearParameter removes a vhost's runtime parameter.
func (s *Server) ClearParameter(ctx context.Context, vhost, component, name string) (err error) {
	if component == vhostLimitsComponent {
		return s.SetVhostLimits(ctx, vhost, nil)
	}
	defer s.audited(ctx, AuditEntry{Action: "parameter.clear", Vhost: vhost, Component: component, Name: name}, &err)
	_, err = s.proposeVhost(ctx, meta.ClearParameter{Vhost: vhost, Component: component, Name: name}, vhost)
	return err
}

// SetGlobalParameter sets a global runtime parameter to a JSON value.
func (s *Server) SetGlobalParameter(ctx context.Context, name string, value json.RawMessage) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "global_parameter.set", Name: name,
		Changes: map[string]any{"value": redactValue(value)}}, &err)
	_, err = s.proposeVhost(ctx, meta.SetGlobalParameter{Name: name, Value: value}, "")
	return err
}

// ClearGlobalParameter removes a global runtime parameter.
func (s *Server) ClearGlobalParameter(ctx context.Context, name string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "global_parameter.clear", Name: name}, &err)
	_, err = s.proposeVhost(ctx, meta.ClearGlobalParameter{Name: name}, "")
	return err
}
