package broker

import (
	"errors"
	"net"
	"slices"
)

// Logins of other interfaces than AMQP (the management API's basic
// auth): the same password check as connection.start-ok's, and the same
// loopback_users rule, decided on the address the request came from.

// Errors of Authenticate.
var (
	// ErrLoginFailed is a wrong user name or password.
	ErrLoginFailed = errors.New("login failed")
	// ErrLoopbackOnly is a loopback_users user logging in from elsewhere.
	ErrLoopbackOnly = errors.New("user can only log in via localhost")
)

// UserInfo is a logged-in user: its name and tags.
type UserInfo struct {
	Name string
	Tags []string
}

// HasTag reports whether the user has tag.
func (u UserInfo) HasTag(tag string) bool { return slices.Contains(u.Tags, tag) }

// Authenticate checks a user's password as an AMQP login does (the
// user's salted hash, compared in constant time; a blank password never
// matches) and, for a loopback_users user, that from is a loopback
// address. The refusal is ErrLoginFailed or ErrLoopbackOnly.
func (s *Server) Authenticate(user, password string, from net.Addr) (UserInfo, error) {
	if reason := s.authenticate(user, password); reason != "" {
		return UserInfo{}, ErrLoginFailed
	}
	if s.loopbackOnly(user) && !isLoopback(from) {
		return UserInfo{}, ErrLoopbackOnly
	}
	u := s.access.load().user(user)
	if u == nil {
		return UserInfo{}, ErrLoginFailed
	}
	return UserInfo{Name: user, Tags: slices.Clone(u.def.Tags)}, nil
}

// isLoopback reports whether a is a loopback TCP address.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// CanAccessVhost reports whether the user has permissions in the vhost,
// which is what logging in to it takes (rabbit_access_control's
// check_vhost_access with the internal backend).
func (s *Server) CanAccessVhost(user, vhost string) bool {
	u := s.access.load().user(user)
	return u != nil && u.perms[vhost] != nil
}

// UserTags returns a user's tags, and whether the user exists.
func (s *Server) UserTags(user string) ([]string, bool) {
	u := s.access.load().user(user)
	if u == nil {
		return nil, false
	}
	return slices.Clone(u.def.Tags), true
}
