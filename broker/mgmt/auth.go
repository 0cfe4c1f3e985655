package mgmt

import (
	"errors"
	"net"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// access is what a resource asks of its user, as rabbit_mgmt_util's
// is_authorized_* functions.
type access uint8

const (
	// anyUser is any user with a management tag (management,
	// policymaker, monitoring, administrator).
	anyUser access = iota
	// monitor needs monitoring or administrator.
	monitor
	// admin needs administrator.
	admin
	// vhostUser needs access to the path's vhost (when it exists).
	vhostUser
	// policymaker needs policymaker or administrator and access to the
	// path's vhost.
	policymaker
	// globalPolicymaker needs policymaker or administrator.
	globalPolicymaker
)

// The tags, as rabbit_web_dispatch_access_control reads them.
func isMgmt(u broker.UserInfo) bool {
	return slices.ContainsFunc(u.Tags, func(t string) bool {
		return t == "management" || t == "policymaker" || t == "monitoring" || t == "administrator"
	})
}

func isAdmin(u broker.UserInfo) bool { return u.HasTag("administrator") }

func isMonitor(u broker.UserInfo) bool { return isAdmin(u) || u.HasTag("monitoring") }

func isPolicymaker(u broker.UserInfo) bool { return isAdmin(u) || u.HasTag("policymaker") }

// login checks the request's basic-auth credentials: no credentials is a
// bare 401, wrong ones "Login failed".
func (s *Server) login(r *http.Request) (broker.UserInfo, string, *apiError) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return broker.UserInfo{}, "", &apiError{status: http.StatusUnauthorized}
	}
	u, err := s.b.Authenticate(user, pass, remoteAddr(r))
	if err != nil {
		s.log.Info("HTTP access denied", zap.String("user", user), zap.String("peer", r.RemoteAddr), zap.Error(err))
		if errors.Is(err, broker.ErrLoopbackOnly) {
			return broker.UserInfo{}, "", loginFailed("User can only log in via localhost")
		}
		return broker.UserInfo{}, "", loginFailed("Login failed")
	}
	return u, pass, nil
}

// authorise decides whether u may use a resource needing a, with vhost
// the path's vhost ("" for none).
func (s *Server) authorise(u broker.UserInfo, a access, vhost string) *apiError {
	if !isMgmt(u) {
		return notAuthorised(reasonNotMgmt)
	}
	switch a {
	case monitor:
		if !isMonitor(u) {
			return notAuthorised(reasonNotMonitor)
		}
	case admin:
		if !isAdmin(u) {
			return notAuthorised(reasonNotAdmin)
		}
	case vhostUser:
		if !s.vhostVisible(u, vhost) {
			return notAuthorised(reasonNoVhostAccess)
		}
	case policymaker:
		if !isPolicymaker(u) || !s.vhostVisible(u, vhost) {
			return notAuthorised(reasonNoObjectAccess)
		}
	case globalPolicymaker:
		if !isPolicymaker(u) {
			return notAuthorised(reasonNoObjectAccess)
		}
	}
	return nil
}

// vhostVisible is rabbit_mgmt_util's user_matches_vhost: no vhost, or
// one that does not exist (answered 404 later), or one the user may log
// in to.
func (s *Server) vhostVisible(u broker.UserInfo, vhost string) bool {
	if vhost == "" || !slices.Contains(s.b.Vhosts(), vhost) {
		return true
	}
	return s.b.CanAccessVhost(u.Name, vhost)
}

// loginVhosts are the vhosts a user may log in to; for monitors and
// administrators with all set, every vhost (list_visible_vhosts).
func (s *Server) loginVhosts(u broker.UserInfo, all bool) []string {
	vs := s.b.Vhosts()
	if all && isMonitor(u) {
		return vs
	}
	out := vs[:0:0]
	for _, v := range vs {
		if s.b.CanAccessVhost(u.Name, v) {
			out = append(out, v)
		}
	}
	return out
}

// remoteAddr is the request's peer as a *net.TCPAddr (nil if it does
// not parse), which decides loopback_users.
func remoteAddr(r *http.Request) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		return nil
	}
	return a
}
