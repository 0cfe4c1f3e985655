package broker

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
)

// seedCommand is the meta.Seed this node proposes: RabbitMQ's default
// data from the configuration (default_vhost, default_user with
// default_pass, hashed here with a fresh salt, default_user_tags,
// default_permissions), or only the mark when definitions are loaded at
// boot, as RabbitMQ then seeds nothing.
func (s *Server) seedCommand() meta.Seed {
	if s.cfg.LoadDefinitions != "" {
		return meta.Seed{}
	}
	return meta.Seed{
		Vhost: s.cfg.DefaultVhost,
		Meta:  meta.VhostMeta{Description: "Default virtual host"},
		User: meta.UserDef{Name: s.cfg.DefaultUser, PasswordHash: hashPassword(s.cfg.DefaultPass),
			Hashing: meta.HashSHA256, Tags: s.cfg.DefaultUserTags},
		Perm: s.cfg.DefaultPermissions,
	}
}

// seedDefaults seeds definitions that never were: on a single node at
// once; in a cluster eventually, by whichever node's Seed commits first
// (a new cluster's forming node proposes it as it forms; a node that
// restarts with definitions from before users existed proposes it too).
func (s *Server) seedDefaults(state *meta.State, fresh bool) error {
	if state.Seeded() {
		return nil
	}
	cmd := s.seedCommand()
	if s.cluster != nil {
		if !fresh {
			s.cluster.commitEventually(cmd, "seeding the default vhost and user")
		}
		return nil
	}
	if _, err := s.defs.Propose(context.Background(), cmd); err != nil {
		return fmt.Errorf("broker: seeding the default vhost and user: %w", err)
	}
	if cmd.User.Name != "" {
		s.log.Info("seeded the default vhost and user", zap.String("vhost", cmd.Vhost), zap.String("user", cmd.User.Name))
	}
	return nil
}
