package mgmt

import (
	"net"
	"slices"
	"strconv"

	"github.com/warrenmq/warren/broker"
)

// The node's overview, nodes, health checks and extensions:
// rabbit_mgmt_wm_overview, rabbit_mgmt_wm_nodes,
// rabbit_mgmt_wm_health_check_*, rabbit_mgmt_wm_extensions.

// rabbitVersion is the RabbitMQ version whose management API Warren
// answers as, reported as management_version; rabbitmq_version is
// Warren's.
const rabbitVersion = "3.10.8"

func (s *Server) overviewRoutes() {
	s.on("GET", "/api/overview", anyUser, s.overview)
	s.on("GET", "/api/extensions", anyUser, func(*request) (reply, *apiError) { return ok([]item{}) })
	s.on("GET", "/api/nodes", monitor, s.listNodes)
	s.on("GET", "/api/nodes/{node}", monitor, s.getNode)
	s.on("GET", "/api/health/checks/alarms", anyUser, s.healthAlarms(false))
	s.on("GET", "/api/health/checks/local-alarms", anyUser, s.healthAlarms(true))
	s.on("GET", "/api/health/checks/port-listener/{port}", anyUser, s.healthPort)
	s.on("GET", "/api/health/checks/protocol-listener/{protocol}", anyUser, s.healthProtocol)
	s.on("GET", "/api/health/checks/virtual-hosts", anyUser, s.healthVhosts)
}

// listeners are the node's listeners as RabbitMQ lists them.
func (s *Server) listeners() []item {
	var out []item
	for _, l := range s.b.Listeners() {
		proto := "amqp"
		if l.TLS {
			proto = "amqp/ssl"
		}
		out = append(out, listenerItem(s.b.NodeName(), proto, l.Addr))
	}
	if a := s.Addr(); a != nil {
		out = append(out, listenerItem(s.b.NodeName(), "http", a))
	}
	return out
}

func listenerItem(node, proto string, a net.Addr) item {
	host, port := "", 0
	if ta, ok := a.(*net.TCPAddr); ok {
		host, port = ta.IP.String(), ta.Port
	}
	return item{"node": node, "protocol": proto, "ip_address": host, "port": port,
		"socket_opts": item{}}
}

func (s *Server) overview(r *request) (reply, *apiError) {
	rg, rerr := requestRanges(r)
	if rerr != nil {
		return reply{}, rerr
	}
	vhosts := s.loginVhosts(r.user, true)
	var queues, ready, unacked, exchanges, consumers int
	for _, v := range vhosts {
		qs := s.b.Queues(r.Context(), v)
		queues += len(qs)
		for _, q := range qs {
			ready += int(q.Stats.Ready)
			unacked += int(q.Stats.Unacked)
			consumers += int(q.Stats.Consumers)
		}
		exchanges += len(s.b.Exchanges(v))
	}
	conns := s.visibleConnections(r.user)
	chans := 0
	for _, c := range conns {
		chans += c.Channels
	}
	node := s.b.NodeName()
	totals := item{"messages": ready + unacked, "messages_ready": ready, "messages_unacknowledged": unacked}
	it := item{
		"management_version":        rabbitVersion,
		"rates_mode":                "basic",
		"sample_retention_policies": sampleRetention,
		"exchange_types": []item{
			{"name": "direct", "description": "AMQP direct exchange, as per the AMQP specification", "enabled": true},
			{"name": "fanout", "description": "AMQP fanout exchange, as per the AMQP specification", "enabled": true},
			{"name": "headers", "description": "AMQP headers exchange, as per the AMQP specification", "enabled": true},
			{"name": "topic", "description": "AMQP topic exchange, as per the AMQP specification", "enabled": true},
		},
		"product_version":           broker.Version,
		"product_name":              "Warren",
		"rabbitmq_version":          rabbitVersion,
		"cluster_name":              s.b.ClusterName(),
		"erlang_version":            "",
		"erlang_full_version":       "",
		"disable_stats":             false,
		"enable_queue_totals":       true,
		"queue_totals":              totals,
		"object_totals":             item{"channels": chans, "connections": len(conns), "consumers": consumers, "exchanges": exchanges, "queues": queues},
		"statistics_db_event_queue": 0,
		"node":                      node,
		"listeners":                 s.listeners(),
		"contexts":                  []item{{"node": node, "description": "RabbitMQ Management", "path": "/", "port": s.httpPort()}},
	}
	s.putOverviewStats(it, totals, rg, isMonitor(r.user), vhosts)
	return ok(it)
}

// httpPort is the API's port as a string, as RabbitMQ's contexts carry it.
func (s *Server) httpPort() string {
	if ta, ok := s.Addr().(*net.TCPAddr); ok {
		return strconv.Itoa(ta.Port)
	}
	return ""
}

// nodeItem is this node as /api/nodes lists it, with its churn.
func (s *Server) nodeItem() item {
	_, all := s.b.Alarms()
	mem, disk := false, false
	for _, a := range all {
		mem = mem || a == "memory"
		disk = disk || a == "disk"
	}
	it := item{
		"name": s.b.NodeName(), "type": "disc", "running": true, "being_drained": false,
		"mem_limit": s.b.MemoryHighWatermark(), "mem_alarm": mem,
		"disk_free_limit": s.b.DiskFreeLimit(), "disk_free_alarm": disk,
		"partitions": []string{}, "applications": []item{}, "enabled_plugins": []string{"rabbitmq_management"},
		"exchange_types": []item{}, "auth_mechanisms": []item{}, "contexts": []item{},
	}
	s.stats.view(func() { putGroup(it, s.stats.global, churn, nil, true, true) })
	return it
}

// peerItem is another node of the cluster as /api/nodes lists it: running
// while membership sees it alive, with the alarms it gossips.
func peerItem(m broker.ClusterMember) item {
	return item{
		"name": m.Name, "type": "disc", "running": m.State == "alive", "being_drained": false,
		"mem_alarm": slices.Contains(m.Alarms, "memory"), "disk_free_alarm": slices.Contains(m.Alarms, "disk"),
		"partitions": []string{},
	}
}

// nodeItems are the cluster's nodes (this one alone when it is not in a
// cluster), this node with its own details.
func (s *Server) nodeItems() []item {
	members := s.b.ClusterMembers()
	if members == nil {
		return []item{s.nodeItem()}
	}
	out := make([]item, 0, len(members))
	for _, m := range members {
		if m.Name == s.b.NodeName() {
			out = append(out, s.nodeItem())
		} else {
			out = append(out, peerItem(m))
		}
	}
	return out
}

func (s *Server) listNodes(r *request) (reply, *apiError) {
	return list(r, s.nodeItems(), "name")
}

func (s *Server) getNode(r *request) (reply, *apiError) {
	for _, it := range s.nodeItems() {
		if it["name"] == r.path("node") {
			return ok(it)
		}
	}
	return reply{}, notFound()
}

// healthAlarms answers /health/checks/alarms (every node's) and
// local-alarms (this node's): 200 {"status":"ok"}, or 503 naming them.
func (s *Server) healthAlarms(local bool) handlerFunc {
	return func(r *request) (reply, *apiError) {
		own, all := s.b.Alarms()
		set := all
		if local {
			set = own
		}
		if len(set) == 0 {
			return ok(item{"status": "ok"})
		}
		var alarms []item
		for _, a := range set {
			res := "memory"
			if a == "disk" {
				res = "disk"
			}
			alarms = append(alarms, item{"node": s.b.NodeName(), "resource": res})
		}
		return reply{status: 503, body: item{"status": "failed", "reason": "resource alarm(s) in effect in the cluster", "alarms": alarms}}, nil
	}
}

func (s *Server) healthPort(r *request) (reply, *apiError) {
	port, err := strconv.Atoi(r.path("port"))
	if err != nil {
		return reply{}, badRequest(r.path("port") + " is not a valid port number")
	}
	var ports []int
	for _, l := range s.listeners() {
		p := l["port"].(int)
		if p == port {
			return ok(item{"status": "ok", "port": port})
		}
		ports = append(ports, p)
	}
	return reply{status: 503, body: item{"status": "failed", "reason": "No active listener", "missing": port, "ports": ports}}, nil
}

func (s *Server) healthProtocol(r *request) (reply, *apiError) {
	want := r.path("protocol")
	var protos []string
	for _, l := range s.listeners() {
		p := l["protocol"].(string)
		if p == want || (want == "amqp091" && p == "amqp") || (want == "amqp0-9-1" && p == "amqp") {
			return ok(item{"status": "ok", "protocol": want})
		}
		protos = append(protos, p)
	}
	return reply{status: 503, body: item{"status": "failed", "reason": "No active listener", "missing": want, "protocols": protos}}, nil
}

func (s *Server) healthVhosts(r *request) (reply, *apiError) {
	return ok(item{"status": "ok"})
}
