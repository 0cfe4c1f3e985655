package mgmt

import (
	"net"
	"net/http"

	"github.com/warrenmq/warren/broker"
)

// Connections, channels and consumers: rabbit_mgmt_wm_connection(s),
// rabbit_mgmt_wm_channel(s), rabbit_mgmt_wm_consumers. A user sees its
// own connections and channels, monitors and administrators everyone's;
// a user may close its own connections, an administrator any.

func (s *Server) connectionRoutes() {
	s.on("GET", "/api/connections", anyUser, s.listConnections)
	s.on("GET", "/api/vhosts/{vhost}/connections", vhostUser, s.listConnections)
	s.on("GET", "/api/connections/{name}", anyUser, s.getConnection)
	s.on("DELETE", "/api/connections/{name}", anyUser, s.deleteConnection)
	s.on("GET", "/api/connections/{name}/channels", anyUser, s.connectionChannels)
	s.on("GET", "/api/channels", anyUser, s.listChannels)
	s.on("GET", "/api/vhosts/{vhost}/channels", vhostUser, s.listChannels)
	s.on("GET", "/api/channels/{name}", anyUser, s.getChannel)
	s.on("GET", "/api/consumers", anyUser, s.listConsumers)
	s.on("GET", "/api/consumers/{vhost}", vhostUser, s.listConsumers)
}

// hostPort splits an address as RabbitMQ's peer_host and peer_port.
func hostPort(a net.Addr) (string, int) {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String(), ta.Port
	}
	return "", 0
}

func connectionItem(c broker.ConnectionInfo) item {
	peerHost, peerPort := hostPort(c.Peer)
	host, port := hostPort(c.Local)
	it := item{"name": c.Name, "node": c.Node, "vhost": c.Vhost, "user": c.User, "state": "running",
		"type": "network", "protocol": "AMQP 0-9-1", "ssl": c.TLS, "channels": c.Channels,
		"peer_host": peerHost, "peer_port": peerPort, "host": host, "port": port,
		"client_properties": table(c.ClientProperties), "connected_at": c.ConnectedAt.UnixMilli(),
		"timeout": int64(c.Heartbeat.Seconds()), "frame_max": c.FrameMax, "channel_max": c.ChannelMax}
	if c.UserProvidedName != "" {
		it["user_provided_name"] = c.UserProvidedName
	}
	return it
}

// visibleConnections are the connections a user may see: all of them
// for monitors, its own otherwise.
func (s *Server) visibleConnections(u broker.UserInfo) []broker.ConnectionInfo {
	var out []broker.ConnectionInfo
	for _, c := range s.b.Connections() {
		if isMonitor(u) || c.User == u.Name {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) listConnections(r *request) (reply, *apiError) {
	if v := r.path("vhost"); v != "" && !s.vhostExists(v) {
		return reply{}, notFound()
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	var out []item
	var names []string
	for _, c := range s.visibleConnections(r.user) {
		if r.path("vhost") == "" || c.Vhost == r.path("vhost") {
			out = append(out, connectionItem(c))
			names = append(names, c.Name)
		}
	}
	s.stats.view(func() {
		for i, it := range out {
			s.stats.putConnectionStats(it, names[i], rg, false)
		}
	})
	return list(r, out, "vhost", "name")
}

// findConnection returns the path's connection if the user may see it.
func (s *Server) findConnection(r *request) (broker.ConnectionInfo, *apiError) {
	for _, c := range s.b.Connections() {
		if c.Name != r.path("name") {
			continue
		}
		if !isMonitor(r.user) && c.User != r.user.Name {
			return c, notAuthorised(reasonNoObjectAccess)
		}
		return c, nil
	}
	return broker.ConnectionInfo{}, notFound()
}

func (s *Server) getConnection(r *request) (reply, *apiError) {
	c, err := s.findConnection(r)
	if err != nil {
		return reply{}, err
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	it := connectionItem(c)
	s.stats.view(func() { s.stats.putConnectionStats(it, c.Name, rg, rg.dataRates != nil) })
	return ok(it)
}

// deleteConnection closes a connection with 320 CONNECTION_FORCED and
// the X-Reason header's text (RabbitMQ's default: "Closed via management
// plugin").
func (s *Server) deleteConnection(r *request) (reply, *apiError) {
	c, err := s.findConnection(r)
	if err == nil && !isAdmin(r.user) && c.User != r.user.Name {
		err = notAuthorised(reasonNoObjectAccess)
	}
	if err != nil {
		return reply{}, err
	}
	reason := r.Header.Get("X-Reason")
	if reason == "" {
		reason = "Closed via management plugin"
	}
	if !s.b.CloseConnection(r.Context(), c.Name, reason) {
		return reply{}, notFound()
	}
	return reply{status: http.StatusNoContent}, nil
}

func channelItem(ch broker.ChannelInfo, conns map[string]broker.ConnectionInfo) item {
	peerHost, peerPort := hostPort(conns[ch.Connection].Peer)
	return item{"name": ch.Name, "number": ch.Number, "node": ch.Node, "vhost": ch.Vhost, "user": ch.User,
		"state": "running", "prefetch_count": ch.Prefetch, "global_prefetch_count": ch.GlobalPrefetch,
		"consumer_count": ch.Consumers, "messages_unacknowledged": ch.Unacked,
		"connection_details": item{"name": ch.Connection, "peer_host": peerHost, "peer_port": peerPort}}
}

// channelsWhere lists the channels the user may see that keep accepts.
func (s *Server) channelsWhere(r *request, keep func(broker.ChannelInfo) bool) []item {
	conns := map[string]broker.ConnectionInfo{}
	for _, c := range s.b.Connections() {
		conns[c.Name] = c
	}
	rg, _ := requestRanges(r)
	var out []item
	var names []string
	for _, ch := range s.b.Channels() {
		if (isMonitor(r.user) || ch.User == r.user.Name) && keep(ch) {
			out = append(out, channelItem(ch, conns))
			names = append(names, ch.Name)
		}
	}
	s.stats.view(func() {
		for i, it := range out {
			s.stats.putChannelStats(it, names[i], rg, false)
		}
	})
	return out
}

func (s *Server) listChannels(r *request) (reply, *apiError) {
	if v := r.path("vhost"); v != "" && !s.vhostExists(v) {
		return reply{}, notFound()
	}
	if _, err := requestRanges(r); err != nil {
		return reply{}, err
	}
	return list(r, s.channelsWhere(r, func(ch broker.ChannelInfo) bool {
		return r.path("vhost") == "" || ch.Vhost == r.path("vhost")
	}), "vhost", "name")
}

func (s *Server) connectionChannels(r *request) (reply, *apiError) {
	if _, err := s.findConnection(r); err != nil {
		return reply{}, err
	}
	return list(r, s.channelsWhere(r, func(ch broker.ChannelInfo) bool { return ch.Connection == r.path("name") }), "vhost", "name")
}

func (s *Server) getChannel(r *request) (reply, *apiError) {
	if _, err := requestRanges(r); err != nil {
		return reply{}, err
	}
	for _, it := range s.channelsWhere(r, func(ch broker.ChannelInfo) bool { return ch.Name == r.path("name") }) {
		return ok(it)
	}
	return reply{}, notFound()
}

func consumerItem(c broker.ConsumerInfo) item {
	peerHost, peerPort := hostPort(c.Peer)
	return item{"consumer_tag": c.Tag, "queue": item{"name": c.Queue, "vhost": c.Vhost},
		"channel_details": item{"name": c.Channel, "connection_name": c.Connection, "peer_host": peerHost,
			"peer_port": peerPort, "user": c.User},
		"ack_required": c.AckRequired, "prefetch_count": c.Prefetch, "exclusive": c.Exclusive,
		"active": c.Active, "activity_status": "up", "arguments": item{}}
}

func (s *Server) listConsumers(r *request) (reply, *apiError) {
	vhosts, err := s.vhostsOf(r)
	if err != nil {
		return reply{}, err
	}
	in := map[string]bool{}
	for _, v := range vhosts {
		in[v] = true
	}
	var out []item
	for _, c := range s.b.Consumers() {
		if in[c.Vhost] {
			out = append(out, consumerItem(c))
		}
	}
	return list(r, out, "vhost", "name")
}
