package broker

import (
	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
)

// Limits are counted across the cluster, as RabbitMQ counts them: a
// vhost's max-connections and a user's max-connections and max-channels
// add this node's connections and channels to every other running node's
// (asked over the admin service, cluster_counts.go, and only when a limit
// is set). A vhost's max-queues is the definitions' (meta), so it holds
// across a cluster by itself. As in RabbitMQ, two nodes admitting at the
// same moment may each let one in past the limit.

// connCounts are the connections and channels that count against limits.
type connCounts struct {
	// VhostConns counts the connections to the vhost asked about.
	VhostConns int `json:"vhost_connections"`
	// UserConns and UserChannels count the user's connections and
	// channels.
	UserConns    int `json:"user_connections"`
	UserChannels int `json:"user_channels"`
}

func (a *connCounts) add(b connCounts) {
	a.VhostConns += b.VhostConns
	a.UserConns += b.UserConns
	a.UserChannels += b.UserChannels
}

// localCounts counts this node's opened connections to vhost and the
// user's connections and channels.
func (s *Server) localCounts(vhost, user string) connCounts {
	var n connCounts
	for _, c := range s.openConns(func(c *conn) bool { return c.vh.name == vhost || c.user == user }) {
		if c.vh.name == vhost {
			n.VhostConns++
		}
		if c.user == user {
			n.UserConns++
			c.chMu.Lock()
			n.UserChannels += len(c.channels)
			c.chMu.Unlock()
		}
	}
	return n
}

// counts counts across the cluster: this node's, and on a cluster node
// every other running node's.
func (s *Server) counts(vhost, user string) connCounts {
	n := s.localCounts(vhost, user)
	if s.cluster != nil {
		n.add(s.cluster.peerCounts(vhost, user))
	}
	return n
}

// admit checks, in rabbit_reader's order, whether the user may open a
// connection to vh: the vhost's connection limit, the user's, then the
// user's permissions in the vhost (none: 530 "access to vhost ...
// refused").
func (s *Server) admit(vh *vhost, user string) *protocol.Error {
	u := s.access.load().user(user)
	vlimit, vset := vh.limits().Get(meta.LimitMaxConnections)
	var ulimit int64
	uset := false
	if u != nil {
		ulimit, uset = u.def.Limits.Get(meta.LimitMaxConnections)
	}
	if vset || uset {
		n := s.counts(vh.name, user)
		if vset && int64(n.VhostConns) >= vlimit {
			return protocol.NewError(protocol.NotAllowed,
				"access to vhost '%s' refused for user '%s': connection limit (%d) is reached", vh.name, user, vlimit)
		}
		if uset && int64(n.UserConns) >= ulimit {
			return protocol.NewError(protocol.NotAllowed,
				"connection refused for user '%s': user connection limit (%d) is reached", user, ulimit)
		}
	}
	if u == nil || u.perms[vh.name] == nil {
		return protocol.NewError(protocol.NotAllowed, "access to vhost '%s' refused for user '%s'", vh.name, user)
	}
	return nil
}

// channelLimit checks the user's max-channels before channel.open, as
// rabbit_reader's is_over_limits: 530 once the user's channels across
// the cluster reach it.
func (c *conn) channelLimit() error {
	u := c.srv.access.load().user(c.user)
	if u == nil {
		return nil
	}
	limit, ok := u.def.Limits.Get(meta.LimitMaxChannels)
	if !ok {
		return nil
	}
	if n := c.srv.counts("", c.user); int64(n.UserChannels) >= limit {
		return protocol.NewError(protocol.NotAllowed,
			"number of channels opened for user '%s' has reached the maximum allowed user limit of %d", c.user, limit)
	}
	return nil
}

// limits returns the vhost's limits.
func (v *vhost) limits() meta.Limits {
	if m := v.meta.Load(); m != nil {
		return m.Limits
	}
	return nil
}

// vhostMetaChanged is the effect of a vhost's metadata or limits
// changing.
func (s *Server) vhostMetaChanged(name string, m meta.VhostMeta) {
	if v := s.vhost(name); v != nil {
		v.meta.Store(&m)
	}
}
