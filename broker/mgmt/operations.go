package mgmt

import (
	"fmt"
	"net/http"
)

// The operational resources: a queue's actions, the quorum-critical
// health check and the feature flags, as RabbitMQ 3.10's management
// plugin answers them.

func (s *Server) operationRoutes() {
	s.on("POST", "/api/queues/{vhost}/{name}/actions", admin, s.queueAction)
	s.on("GET", "/api/health/checks/node-is-quorum-critical", anyUser, s.healthQuorumCritical)
	s.on("GET", "/api/feature-flags", admin, s.featureFlags)
}

// queueAction answers rabbit_mgmt_wm_queue_actions: "sync" and
// "cancel_sync" act on 3.x's mirrored classic queues, which Warren does
// not have (quorum queues replicate), so, as for RabbitMQ's queues that
// are not mirrored, they change nothing and answer 204; another action is
// refused with 400 and the term {unknown,Action}, which RabbitMQ writes as a
// JSON list. A queue that does not exist is 404 (RabbitMQ 3.10 answers 500
// with no body).
func (s *Server) queueAction(r *request) (reply, *apiError) {
	if _, found := s.findQueue(r); !found {
		return reply{}, notFound()
	}
	f, err := r.fields()
	if err != nil {
		return reply{}, err
	}
	if err := f.require("action"); err != nil {
		return reply{}, err
	}
	switch f.value("action") {
	case "sync", "cancel_sync":
		return noContent()
	}
	return reply{}, tuple("unknown", f.value("action"))
}

// healthQuorumCritical answers rabbit_mgmt_wm_health_check_node_is_quorum_critical:
// 503 naming the quorum queues that would lose their quorum if this node
// stopped; on a node alone, ok with the reason.
func (s *Server) healthQuorumCritical(r *request) (reply, *apiError) {
	single, critical := s.b.QuorumCritical()
	if single {
		return ok(item{"status": "ok", "reason": "single node cluster"})
	}
	if len(critical) == 0 {
		return ok(item{"status": "ok"})
	}
	queues := make([]item, len(critical))
	for i, q := range critical {
		queues[i] = item{"name": q.Name, "virtual_host": q.Vhost, "type": "quorum",
			"readable_name": fmt.Sprintf("queue '%s' in vhost '%s'", q.Name, q.Vhost)}
	}
	return reply{status: http.StatusServiceUnavailable, body: item{"status": "failed",
		"reason": "There are quorum queues that would lose their quorum if the target node is shut down",
		"queues": queues}}, nil
}

// featureFlags lists RabbitMQ 3.10's feature flags with the state a fresh
// 3.10 node has them in (every one enabled), so that a client or tool
// that checks for one (quorum_queue, user_limits …) finds it. Warren has
// no flags of its own to turn on: what they stand for is always there,
// except stream_queue, which it does not list.
func (s *Server) featureFlags(r *request) (reply, *apiError) {
	flags := []struct{ name, desc string }{
		{"classic_mirrored_queue_version", "Support setting version for classic mirrored queues"},
		{"classic_queue_type_delivery_support", "Bug fix for classic queue deliveries using mixed versions"},
		{"drop_unroutable_metric", "Count unroutable publishes to be dropped in stats"},
		{"empty_basic_get_metric", "Count AMQP `basic.get` on empty queues in stats"},
		{"implicit_default_bindings", "Default bindings are now implicit, instead of being stored in the database"},
		{"maintenance_mode_status", "Maintenance mode status"},
		{"quorum_queue", "Support queues of type `quorum`"},
		{"tracking_records_in_ets", "Store tracking records in ETS instead of Mnesia"},
		{"user_limits", "Configure connection and channel limits for a user"},
		{"virtual_host_metadata", "Virtual host metadata (description, tags, etc)"},
	}
	out := make([]item, len(flags))
	for i, f := range flags {
		out[i] = item{"name": f.name, "desc": f.desc, "doc_url": "", "stability": "stable",
			"provided_by": "rabbit", "state": "enabled"}
	}
	return ok(out)
}
