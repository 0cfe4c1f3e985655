package broker

import (
	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
)

// Limits are counted on this node, as the connections and channels they
// limit are this node's: a vhost's max-connections and a user's
// max-connections and max-channels (RabbitMQ counts them across its
// cluster). A vhost's max-queues is the definitions' (meta), so it holds
// across a cluster. Counting walks the node's connections, and only when
// a limit is set.

// admit checks, in rabbit_reader's order, whether the user may open a
// connection to vh: the vhost's connection limit, the user's, then the
// user's permissions in the vhost (none: 530 "access to vhost ...
// refused").
func (s *Server) admit(vh *vhost, user string) *protocol.Error {
	if limit, ok := vh.limits().Get(meta.LimitMaxConnections); ok {
		if n := len(s.openConns(func(c *conn) bool { return c.vh == vh })); int64(n) >= limit {
			return protocol.NewError(protocol.NotAllowed,
				"access to vhost '%s' refused for user '%s': connection limit (%d) is reached", vh.name, user, limit)
		}
	}
	u := s.access.load().user(user)
	if u != nil {
		if limit, ok := u.def.Limits.Get(meta.LimitMaxConnections); ok {
			if n := len(s.openConns(func(c *conn) bool { return c.user == user })); int64(n) >= limit {
				return protocol.NewError(protocol.NotAllowed,
					"connection refused for user '%s': user connection limit (%d) is reached", user, limit)
			}
		}
	}
	if u == nil || u.perms[vh.name] == nil {
		return protocol.NewError(protocol.NotAllowed, "access to vhost '%s' refused for user '%s'", vh.name, user)
	}
	return nil
}

// channelLimit checks the user's max-channels before channel.open, as
// rabbit_reader's is_over_limits: 530 once the user's channels on this
// node reach it.
func (c *conn) channelLimit() error {
	u := c.srv.access.load().user(c.user)
	if u == nil {
		return nil
	}
	limit, ok := u.def.Limits.Get(meta.LimitMaxChannels)
	if !ok {
		return nil
	}
	n := 0
	for _, o := range c.srv.openConns(func(o *conn) bool { return o.user == c.user }) {
		o.chMu.Lock()
		n += len(o.channels)
		o.chMu.Unlock()
	}
	if int64(n) >= limit {
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
