package broker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
)

// The inspection API: what the management interface lists of a node's
// connections, channels and consumers, read without stopping anyone.
// Each listing takes Server.mu to copy the connection set, then each
// connection's chMu and each channel's mu in turn, briefly, in the
// broker's lock order; nothing is called on a read loop.

// ConnectionInfo describes an open client connection, with the fields
// RabbitMQ's management API lists.
type ConnectionInfo struct {
	// Name is RabbitMQ's name for it, "peer -> local" ("127.0.0.1:50000 -> 127.0.0.1:5672").
	Name string
	// Node is the node the client is connected to.
	Node             string
	Vhost, User      string
	Peer, Local      net.Addr
	TLS              bool
	ClientProperties protocol.Table
	// UserProvidedName is the client's connection_name property, or "".
	UserProvidedName string
	ConnectedAt      time.Time
	Heartbeat        time.Duration
	FrameMax         uint32
	ChannelMax       uint16
	Channels         int
	// RecvOct and SendOct are the octets read from and written to the
	// socket, RecvCnt and SendCnt the reads and writes that moved them.
	RecvOct, SendOct, RecvCnt, SendCnt uint64
}

// ChannelInfo describes a channel of an open connection.
type ChannelInfo struct {
	// Name is RabbitMQ's, "connection name (number)".
	Name           string
	Connection     string
	Number         uint16
	Node           string
	Vhost, User    string
	Prefetch       uint16 // basic.qos for new consumers
	GlobalPrefetch uint16 // basic.qos global
	Consumers      int
	Unacked        int
	// Stats are the channel's message counters.
	Stats MessageStats
}

// ConsumerInfo describes a consumer of a queue.
type ConsumerInfo struct {
	Tag         string
	Queue       string
	Vhost       string
	Channel     string
	Connection  string
	Peer        net.Addr
	User        string
	AckRequired bool
	Prefetch    uint16
	Exclusive   bool
	Active      bool
}

// directConn is the mark of a connection the node serves for another part
// of the process (ServeConn): it is not listed.
type directConn interface{ DirectConnection() bool }

// ServeConn serves an AMQP 0-9-1 connection that the caller made rather
// than a listener accepted, such as one end of a net.Pipe: the
// management interface talks to the node this way, with the credentials
// of the user it serves, so that every check and every answer is the
// broker's own. nc's RemoteAddr decides loopback_users as a socket's
// does. A connection whose nc has a DirectConnection method returning
// true is not listed by Connections, Channels and Consumers. ServeConn
// returns at once; Close closes nc like any other connection.
func (s *Server) ServeConn(nc net.Conn) error {
	c := newConn(s, nc)
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return net.ErrClosed
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.goTracked(c.serve)
	return nil
}

// listedConns returns the opened client connections, in the order they
// were opened.
func (s *Server) listedConns() []*conn {
	cs := s.openConns(func(c *conn) bool {
		d, ok := c.nc.(directConn)
		return !ok || !d.DirectConnection()
	})
	slices.SortFunc(cs, func(a, b *conn) int { return cmpUint(a.id, b.id) })
	return cs
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// connName is RabbitMQ's name of a connection.
func (c *conn) connName() string {
	return c.peer + " -> " + c.nc.LocalAddr().String()
}

// Connections lists the node's open client connections.
func (s *Server) Connections() []ConnectionInfo {
	var out []ConnectionInfo
	for _, c := range s.listedConns() {
		c.chMu.Lock()
		n := len(c.channels)
		c.chMu.Unlock()
		out = append(out, ConnectionInfo{
			Name: c.connName(), Node: s.cfg.NodeName, Vhost: c.vh.name, User: c.user,
			Peer: c.nc.RemoteAddr(), Local: c.nc.LocalAddr(), TLS: c.tls != nil,
			ClientProperties: c.clientProps, UserProvidedName: c.clientName,
			ConnectedAt: c.started, Heartbeat: c.heartbeat, FrameMax: c.frameMax,
			ChannelMax: c.channelMax, Channels: n,
			RecvOct: c.io.recvOct.Load(), SendOct: c.io.sendOct.Load(),
			RecvCnt: c.io.recvCnt.Load(), SendCnt: c.io.sendCnt.Load(),
		})
	}
	return out
}

// CloseConnection closes the connection named name (ConnectionInfo.Name)
// with 320 CONNECTION_FORCED, as rabbitmqctl close_connection and the
// management API do: "CONNECTION_FORCED - " and reason reach the client.
// It reports whether such a connection was open. The audit log has the
// close, in the name of ctx's actor.
func (s *Server) CloseConnection(ctx context.Context, name, reason string) bool {
	for _, c := range s.listedConns() {
		if c.connName() == name {
			c.log.Info("closing connection on request", zap.String("reason", reason))
			c.closeWith(protocol.NewError(protocol.ConnectionForced, "%s", reason))
			var err error
			s.audited(ctx, connCloseEntry(c, reason), &err)
			return true
		}
	}
	var err error = protocol.NewError(protocol.NotFound, "no connection '%s'", name)
	s.audited(ctx, AuditEntry{Action: "connection.close", Name: name, Changes: map[string]any{"reason": reason}}, &err)
	return false
}

// channelsOf returns a connection's channels in number order.
func (c *conn) channelsOf() []*channel {
	c.chMu.Lock()
	chs := make([]*channel, 0, len(c.channels))
	for _, ch := range c.channels {
		chs = append(chs, ch)
	}
	c.chMu.Unlock()
	slices.SortFunc(chs, func(a, b *channel) int { return int(a.id) - int(b.id) })
	return chs
}

// channelName is RabbitMQ's name of a channel.
func (ch *channel) channelName() string {
	return ch.c.connName() + " (" + strconv.Itoa(int(ch.id)) + ")"
}

// Channels lists the channels of the node's open client connections.
func (s *Server) Channels() []ChannelInfo {
	var out []ChannelInfo
	for _, c := range s.listedConns() {
		for _, ch := range c.channelsOf() {
			ch.mu.Lock()
			info := ChannelInfo{Name: ch.channelName(), Connection: c.connName(), Number: ch.id,
				Node: s.cfg.NodeName, Vhost: c.vh.name, User: c.user, Prefetch: ch.consumerQoS,
				Consumers: len(ch.consumers), Unacked: ch.unacked.live}
			ch.mu.Unlock()
			info.GlobalPrefetch = ch.lim.Limit()
			info.Stats = ch.ctr.load().messageStats()
			out = append(out, info)
		}
	}
	return out
}

// Consumers lists the consumers of the node's open client connections.
func (s *Server) Consumers() []ConsumerInfo {
	var out []ConsumerInfo
	for _, c := range s.listedConns() {
		for _, ch := range c.channelsOf() {
			ch.mu.Lock()
			for _, k := range ch.consumers {
				out = append(out, ConsumerInfo{Tag: k.tag, Queue: k.qname, Vhost: c.vh.name,
					Channel: ch.channelName(), Connection: c.connName(), Peer: c.nc.RemoteAddr(),
					User: c.user, AckRequired: !k.noAck, Prefetch: ch.consumerQoS, Active: true})
			}
			ch.mu.Unlock()
		}
	}
	slices.SortFunc(out, func(a, b ConsumerInfo) int {
		return strings.Compare(a.Channel+"\x00"+a.Tag, b.Channel+"\x00"+b.Tag)
	})
	return out
}

// Alarms names the resource alarms in force on the node, this node's and
// the cluster's: "memory" and "disk", as RabbitMQ's resource alarms.
func (s *Server) Alarms() (local, all []string) {
	s.mu.Lock()
	own, set := s.ownAlarms, s.alarms
	s.mu.Unlock()
	return alarmList(own), alarmList(set)
}

// NodeName returns the node's name (Config.NodeName, completed).
func (s *Server) NodeName() string { return s.cfg.NodeName }

// ClusterName returns the cluster name reported to clients.
func (s *Server) ClusterName() string { return s.cfg.ClusterName }

// Listeners returns the node's AMQP listeners: each address and whether
// it serves TLS, in Config order.
func (s *Server) Listeners() []Listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Listener, 0, len(s.lns))
	for _, l := range s.lns {
		out = append(out, Listener{Addr: l.Addr(), TLS: l.tls})
	}
	return out
}

// Listener is one of the node's AMQP listeners.
type Listener struct {
	Addr net.Addr
	TLS  bool
}

// MemoryHighWatermark returns the heap size in bytes past which
// publishers are blocked (0: no memory alarm).
func (s *Server) MemoryHighWatermark() int64 { return s.cfg.MemoryHighWatermark }

// DiskFreeLimit returns the free bytes below which publishers are
// blocked (negative: no disk alarm).
func (s *Server) DiskFreeLimit() int64 {
	if l := s.diskLimitSet.Load(); l != 0 {
		return l
	}
	return s.cfg.DiskFreeLimit
}

// String implements fmt.Stringer for logs.
func (l Listener) String() string { return fmt.Sprintf("%v tls=%v", l.Addr, l.TLS) }
