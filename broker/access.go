package broker

import (
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
)

// Users and permissions live in the definitions (package meta); the node
// keeps a compiled copy of them, authz, which the reconciler replaces
// whenever a user or its permissions change (UserChanged, UserDeleted).
// An authz is never changed once published: readers load the pointer and
// use it without a lock, and a channel's cache of decisions (access_cache.go)
// is valid for as long as the pointer it was made under is the current one.

// accessControl is a node's users and permissions, compiled.
type accessControl struct {
	cur atomic.Pointer[authz]
	mu  sync.Mutex // serializes replacements (the reconciler's, one at a time anyway)
}

// authz is one version of the compiled users.
type authz struct {
	users map[string]*authUser
}

// authUser is a user with its permissions compiled, by vhost.
type authUser struct {
	def    meta.UserDef
	perms  map[string]*vhostPerms
	topics map[string]map[string]*topicPerms // by vhost, then exchange
}

// The permissions, in the order of meta.Permission's fields.
type permKind uint8

const (
	permConfigure permKind = iota
	permWrite
	permRead
)

func (p permKind) String() string {
	return [...]string{"configure", "write", "read"}[p]
}

// vhostPerms are a user's permissions in one vhost: one regular
// expression per permKind; nil is one that did not compile, which denies.
type vhostPerms struct {
	re [3]*regexp.Regexp
}

// topicPerms are a user's topic permissions on one exchange, with
// {username} and {vhost} expanded; nil denies.
type topicPerms struct {
	write, read *regexp.Regexp
}

// load returns the current authz, never nil.
func (a *accessControl) load() *authz {
	if z := a.cur.Load(); z != nil {
		return z
	}
	return emptyAuthz
}

var emptyAuthz = &authz{users: map[string]*authUser{}}

// put publishes a new authz in which user ua.User.Name is ua (or gone,
// when deleted).
func (a *accessControl) put(name string, ua *meta.UserAccess) {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := &authz{users: maps.Clone(a.load().users)}
	if ua == nil {
		delete(next.users, name)
	} else {
		next.users[name] = compileUser(ua)
	}
	a.cur.Store(next)
}

// compileUser compiles a user's permissions.
func compileUser(ua *meta.UserAccess) *authUser {
	u := &authUser{def: ua.User, perms: make(map[string]*vhostPerms, len(ua.Perms))}
	for vh, p := range ua.Perms {
		u.perms[vh] = &vhostPerms{re: [3]*regexp.Regexp{
			compilePerm(p.Configure), compilePerm(p.Write), compilePerm(p.Read)}}
	}
	if len(ua.Topics) > 0 {
		u.topics = make(map[string]map[string]*topicPerms, len(ua.Topics))
		for vh, xs := range ua.Topics {
			m := make(map[string]*topicPerms, len(xs))
			for x, tp := range xs {
				vars := map[string]string{"username": ua.User.Name, "vhost": vh}
				m[x] = &topicPerms{
					write: compilePerm(expandTopicPattern(tp.Write, vars)),
					read:  compilePerm(expandTopicPattern(tp.Read, vars)),
				}
			}
			u.topics[vh] = m
		}
	}
	return u
}

// compilePerm compiles a permission pattern as rabbit_auth_backend_internal
// reads it: the empty pattern is "^$" (it matches only the empty name),
// and a pattern matches a name if it matches anywhere in it, as Erlang's
// re:run. A pattern that does not compile is nil, which denies.
func compilePerm(pattern string) *regexp.Regexp {
	if pattern == "" {
		pattern = "^$"
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil
	}
	return re
}

// checkPattern reports a permission pattern that cannot be kept: one Go's
// regexp does not compile (RE2 has no backreferences or lookaround).
func checkPattern(pattern string) error {
	if _, err := regexp.Compile(pattern); err != nil {
		return protocol.NewError(protocol.PreconditionFailed, "regular expression '%s' is invalid: %v", pattern, err)
	}
	return nil
}

// expandTopicPattern replaces the {name} variables of a topic permission
// pattern with their values, escaped, as expand_topic_permission does.
// AMQP 0-9-1 connections have {username} and {vhost}; others, such as
// {client_id}, which RabbitMQ fills only for MQTT, stay as written.
func expandTopicPattern(pattern string, vars map[string]string) string {
	if !strings.Contains(pattern, "{") {
		return pattern
	}
	for k, v := range vars {
		pattern = strings.ReplaceAll(pattern, "{"+k+"}", regexp.QuoteMeta(v))
	}
	return pattern
}

// user returns the named user, or nil.
func (z *authz) user(name string) *authUser { return z.users[name] }

// allows reports whether u may perm the resource name in vhost.
func (u *authUser) allows(vhost string, perm permKind, name string) bool {
	if u == nil {
		return false
	}
	vp := u.perms[vhost]
	if vp == nil {
		return false
	}
	re := vp.re[perm]
	return re != nil && re.MatchString(name)
}

// allowsTopic reports whether u may perm (write or read) the routing key
// on the topic exchange x of vhost: with no topic permission there
// everything is allowed, as RabbitMQ's internal backend answers.
func (u *authUser) allowsTopic(vhost, x string, perm permKind, key string) bool {
	if u == nil {
		return false
	}
	tp := u.topics[vhost][x]
	if tp == nil {
		return true
	}
	re := tp.read
	if perm == permWrite {
		re = tp.write
	}
	return re != nil && re.MatchString(key)
}

// hasTag reports whether the user has tag.
func (u *authUser) hasTag(tag string) bool {
	return u != nil && meta.HasUserTag(u.def.Tags, tag)
}

// userExists reports whether an internal user of that name exists (the
// EXTERNAL mechanism's check, as rabbit_auth_backend_internal looks the
// certificate's user up).
func (s *Server) userExists(name string) bool {
	return s.access.load().user(name) != nil
}

// blankPassword is RabbitMQ's reason for a login with an empty password.
const blankPassword = "user '%s' attempted to log in with a blank password, which is prohibited by the internal authN backend. " +
	"To use TLS/x509 certificate-based authentication, see the rabbitmq_auth_mechanism_ssl plugin and configure the client to use the EXTERNAL authentication mechanism. " +
	"Alternatively change the password for the user to be non-blank."

// authenticate checks a user name and password against the users, as
// rabbit_auth_backend_internal does: "" on success, otherwise the reason
// for the log (never the password). A missing user costs the same hash
// as a present one.
func (s *Server) authenticate(user, pass string) string {
	if pass == "" {
		return fmt.Sprintf(blankPassword, user)
	}
	u := s.access.load().user(user)
	if u == nil {
		passwordMatches(&meta.UserDef{Hashing: meta.HashSHA256, PasswordHash: dummyHash}, pass)
		return "user '" + user + "' - invalid credentials"
	}
	if !passwordMatches(&u.def, pass) {
		return "user '" + user + "' - invalid credentials"
	}
	return ""
}

// userChanged is the effect of a user created or changed: the node's
// compiled users follow.
func (s *Server) userChanged(ua meta.UserAccess) {
	s.access.put(ua.User.Name, &ua)
	s.log.Debug("user changed", zap.String("user", ua.User.Name))
}

// userDeleted is the effect of a deleted user: it is forgotten, and its
// connections on this node are closed with 320, as
// rabbit_connection_tracking closes them.
func (s *Server) userDeleted(name string) {
	s.access.put(name, nil)
	conns := s.openConns(func(c *conn) bool { return c.user == name })
	for _, c := range conns {
		reason := fmt.Sprintf("user '%s' is deleted", name)
		c.closeWith(protocol.NewError(protocol.ConnectionForced, "%s", reason))
		s.auditForcedClose("user", name, c, reason)
	}
	s.log.Info("user deleted", zap.String("user", name), zap.Int("connections_closed", len(conns)))
}

// openConns returns the opened connections for which keep is true.
// c.user and c.vh are set before opened, so keep may read them.
func (s *Server) openConns(keep func(c *conn) bool) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*conn
	for c := range s.conns {
		if c.opened.Load() && keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// Permission is a user's configure, write and read regular expressions
// in a vhost.
type Permission = meta.Permission
