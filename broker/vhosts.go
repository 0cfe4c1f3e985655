package broker

import (
	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// Virtual hosts are definitions like exchanges and queues: the
// meta.AddVhost and meta.DeleteVhost commands create and delete them, and
// their effects add them to or remove them from Server.vhosts, which
// connection.open reads.

// addVhost starts serving v (the effect of AddVhost).
func (s *Server) addVhost(v *vhost) {
	s.vhostsMu.Lock()
	s.vhosts[v.name] = v
	s.vhostsMu.Unlock()
	s.log.Info("vhost added", zap.String("vhost", v.name))
}

// removeVhost stops serving a deleted vhost (the effect of DeleteVhost,
// after its queues were deleted) and closes its connections with 320.
func (s *Server) removeVhost(name string) {
	s.vhostsMu.Lock()
	v := s.vhosts[name]
	delete(s.vhosts, name)
	s.vhostsMu.Unlock()
	if v == nil {
		return
	}
	s.mu.Lock()
	var conns []*conn
	for c := range s.conns {
		// c.vh is set before opened, so it can be read once opened is.
		if c.opened.Load() && c.vh == v {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(protocol.NewError(protocol.ConnectionForced, "vhost '%s' is deleted", name))
	}
	s.log.Info("vhost deleted", zap.String("vhost", name), zap.Int("connections_closed", len(conns)))
}
