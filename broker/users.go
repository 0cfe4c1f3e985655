package broker

import (
	"context"
	"fmt"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
)

// The Go API of users, permissions and limits, as rabbitmqctl's add_user,
// set_permissions, set_topic_permissions, set_vhost_limits and
// set_user_limits; definitions imports (definitions_import.go) use the
// same commands. Each change is a definitions command, so it reaches
// every node of a cluster and survives restarts; the error is an AMQP
// exception (404 for a missing user or vhost) or a failed commit (541).

type (
	// Limits are named limits: a vhost's "max-connections" and
	// "max-queues", a user's "max-connections" and "max-channels"; a
	// negative value is no limit.
	Limits = meta.Limits
	// VhostMetadata is a vhost's description, tags, default queue type
	// and limits.
	VhostMetadata = meta.VhostMeta
)

// maxUserTags is RabbitMQ's bound on a user's tags.
const maxUserTags = 32

// AddUser creates a user with a password (hashed with SHA-256 and a
// random salt before it is proposed) and tags; an empty password makes a
// user that cannot log in with a password. It fails if the user exists.
func (s *Server) AddUser(ctx context.Context, name, password string, tags ...string) (err error) {
	defer s.audited(ctx, userPutEntry(UserSpec{Name: name, Password: &password, Tags: tags}), &err)
	u := meta.UserDef{Name: name, Hashing: meta.HashSHA256, Tags: tags}
	if password != "" {
		u.PasswordHash = hashPassword(password)
	}
	if err := checkUser(&u); err != nil {
		return err
	}
	_, err = s.proposeVhost(ctx, meta.PutUser{User: u, Create: true}, "")
	return err
}

// DeleteUser deletes a user and its permissions, closing its connections
// with 320 CONNECTION_FORCED "user '...' is deleted".
func (s *Server) DeleteUser(ctx context.Context, name string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "user.delete", User: name}, &err)
	defer s.deleting(ctx, "user", name)()
	_, err = s.proposeVhost(ctx, meta.DeleteUser{Name: name}, "")
	return err
}

// SetPermissions sets a user's configure, write and read regular
// expressions in a vhost.
func (s *Server) SetPermissions(ctx context.Context, user, vhost string, p Permission) (err error) {
	defer s.audited(ctx, permissionEntry(user, vhost, p), &err)
	for _, re := range []string{p.Configure, p.Write, p.Read} {
		if err := checkPattern(re); err != nil {
			return err
		}
	}
	_, err = s.proposeVhost(ctx, meta.SetPermissions{User: user, Vhost: vhost, Perm: p}, vhost)
	return err
}

// ClearPermissions removes a user's permissions in a vhost.
func (s *Server) ClearPermissions(ctx context.Context, user, vhost string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "permission.clear", User: user, Vhost: vhost}, &err)
	_, err = s.proposeVhost(ctx, meta.ClearPermissions{User: user, Vhost: vhost}, vhost)
	return err
}

// SetTopicPermissions sets a user's topic permissions on exchange in a
// vhost: the routing keys it may publish with (write) and bind with
// (read), regular expressions in which {username} and {vhost} stand for
// the user's name and the vhost.
func (s *Server) SetTopicPermissions(ctx context.Context, user, vhost, exchange, write, read string) (err error) {
	defer s.audited(ctx, topicPermissionEntry(user, vhost, exchange, write, read), &err)
	for _, re := range []string{write, read} {
		if err := checkPattern(re); err != nil {
			return err
		}
	}
	p := meta.TopicPermission{Exchange: exchange, Write: write, Read: read}
	_, err = s.proposeVhost(ctx, meta.SetTopicPermissions{User: user, Vhost: vhost, Perm: p}, vhost)
	return err
}

// ClearTopicPermissions removes a user's topic permissions on exchange in
// a vhost, or on every exchange when exchange is "".
func (s *Server) ClearTopicPermissions(ctx context.Context, user, vhost, exchange string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "topic_permission.clear", User: user, Vhost: vhost,
		Changes: map[string]any{"exchange": exchange}}, &err)
	_, err = s.proposeVhost(ctx, meta.ClearTopicPermissions{User: user, Vhost: vhost, Exchange: exchange}, vhost)
	return err
}

// PutVhost creates a vhost with its description, tags and default queue
// type, or changes those of one that exists (m.Limits is ignored: see
// SetVhostLimits).
func (s *Server) PutVhost(ctx context.Context, name string, m VhostMetadata) (err error) {
	defer s.audited(ctx, vhostPutEntry(name, m), &err)
	if err := checkVhostName(name); err != nil {
		return err
	}
	if err := s.checkDefaultQueueType(m.DefaultQueueType); err != nil {
		return err
	}
	m.Limits = nil
	_, err = s.proposeVhost(ctx, meta.PutVhost{Name: name, Meta: m}, name)
	return err
}

// SetVhostLimits replaces a vhost's limits: "max-connections" (on each
// node) and "max-queues"; empty clears them.
func (s *Server) SetVhostLimits(ctx context.Context, vhost string, l Limits) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "vhost_limits.set", Vhost: vhost, Changes: limitsChanges(l)}, &err)
	if err := checkLimits(l, meta.LimitMaxConnections, meta.LimitMaxQueues); err != nil {
		return err
	}
	_, err = s.proposeVhost(ctx, meta.SetVhostLimits{Vhost: vhost, Limits: l}, vhost)
	return err
}

// SetUserLimits replaces a user's limits: "max-connections" and
// "max-channels" (counted on each node); empty clears them.
func (s *Server) SetUserLimits(ctx context.Context, user string, l Limits) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "user_limits.set", User: user, Changes: limitsChanges(l)}, &err)
	if err := checkLimits(l, meta.LimitMaxConnections, meta.LimitMaxChannels); err != nil {
		return err
	}
	_, err = s.proposeVhost(ctx, meta.SetUserLimits{User: user, Limits: l}, "")
	return err
}

// checkUser refuses a user definition Warren cannot keep or check.
func checkUser(u *meta.UserDef) error {
	switch {
	case u.Name == "":
		return protocol.NewError(protocol.PreconditionFailed, "user name must not be empty")
	case len(u.Tags) > maxUserTags:
		return protocol.NewError(protocol.PreconditionFailed, "user '%s' has more than %d tags", u.Name, maxUserTags)
	}
	if err := checkHashing(u.Hashing, u.PasswordHash); err != nil {
		return protocol.NewError(protocol.PreconditionFailed, "user '%s': %v", u.Name, err)
	}
	return checkLimits(u.Limits, meta.LimitMaxConnections, meta.LimitMaxChannels)
}

// checkLimits refuses limits other than those named.
func checkLimits(l Limits, known ...string) error {
	for k := range l {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			return protocol.NewError(protocol.PreconditionFailed, "unknown limit '%s' (known: %v)", k, known)
		}
	}
	return nil
}

// checkDefaultQueueType refuses a default queue type this node does not
// know, as rabbit_vhost does ("" is none).
func (s *Server) checkDefaultQueueType(t string) error {
	if t == "" || s.types.Lookup(t) != nil || t == "stream" {
		return nil
	}
	return protocol.NewError(protocol.PreconditionFailed, "%s", fmt.Sprintf("%s is not a valid queue type", t))
}
