package broker

import "slices"

// loopbackOnly reports whether the user may only connect from a loopback
// address (RabbitMQ's loopback_users, which holds guest by default).
func (s *Server) loopbackOnly(user string) bool {
	return slices.Contains(s.cfg.LoopbackUsers, user)
}
