package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// Virtual hosts are definitions like exchanges and queues: the meta.AddVhost
// and meta.DeleteVhost commands create and delete them, and the effects
// add them to or remove them from Server.vhosts, which connection.open
// reads. No AMQP method adds one; AddVhost and DeleteVhost are the Go API
// the management interface calls.

// AddVhost creates the virtual host name with its default and amq.*
// exchanges, as rabbitmqctl add_vhost does. Adding one that exists changes
// nothing. The error is a failed commit or ctx ending first.
func (s *Server) AddVhost(ctx context.Context, name string) (err error) {
	defer s.audited(ctx, vhostPutEntry(name, VhostMetadata{}), &err)
	if err := checkVhostName(name); err != nil {
		return err
	}
	_, err = s.proposeVhost(ctx, meta.AddVhost{Name: name}, name)
	return err
}

// DeleteVhost deletes the virtual host name and everything in it: its
// queues (with their messages and logs), exchanges and bindings. Its
// connections are closed with 320 CONNECTION_FORCED "vhost 'name' is
// deleted", as RabbitMQ closes them. Deleting a vhost that does not exist
// is a 404 error.
func (s *Server) DeleteVhost(ctx context.Context, name string) (err error) {
	defer s.audited(ctx, AuditEntry{Action: "vhost.delete", Vhost: name}, &err)
	defer s.deleting(ctx, "vhost", name)()
	_, err = s.proposeVhost(ctx, meta.DeleteVhost{Name: name}, name)
	return err
}

// proposeVhost proposes a vhost command and answers its AMQP error, or
// 541 for a failed commit.
func (s *Server) proposeVhost(ctx context.Context, cmd meta.Command, name string) (applied, error) {
	a, err := s.defs.Propose(ctx, cmd)
	if err != nil {
		if errors.Is(err, context.Canceled) || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil) {
			return applied{}, err
		}
		if pe := timedOut(cmd, s.cfg.NodeName, err); pe != nil {
			s.log.Warn("definitions change refused: the cluster did not commit it in time",
				zap.String("change", describeChange(cmd)), zap.Error(err))
			return applied{}, pe
		}
		s.log.Error("saving definitions failed", zap.String("vhost", name), zap.Error(err))
		return applied{}, protocol.NewError(protocol.InternalError, "cannot save definitions of vhost '%s': %v", name, err)
	}
	return a, a.Err
}

// checkVhostName refuses names a client could not open: connection.open
// carries the vhost as a short string.
func checkVhostName(name string) error {
	if name == "" || len(name) > 255 {
		return protocol.NewError(protocol.PreconditionFailed, "vhost name must be 1 to 255 bytes")
	}
	return nil
}

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
		reason := fmt.Sprintf("vhost '%s' is deleted", name)
		c.closeWith(protocol.NewError(protocol.ConnectionForced, "%s", reason))
		s.auditForcedClose("vhost", name, c, reason)
	}
	s.log.Info("vhost deleted", zap.String("vhost", name), zap.Int("connections_closed", len(conns)))
}
