package mgmt

import (
	"encoding/json"

	"github.com/warrenmq/warren/broker"
)

// Virtual hosts: rabbit_mgmt_wm_vhosts and rabbit_mgmt_wm_vhost. The list
// shows a user the vhosts it may see (all of them to monitors and
// administrators); one vhost, and its changes, need administrator, as in
// RabbitMQ 3.10.

func (s *Server) vhostRoutes() {
	s.on("GET", "/api/vhosts", anyUser, s.listVhosts)
	s.on("GET", "/api/vhosts/{vhost}", admin, s.getVhost)
	s.on("PUT", "/api/vhosts/{vhost}", admin, s.putVhost)
	s.on("DELETE", "/api/vhosts/{vhost}", admin, s.deleteVhost)
}

// vhostItem is a vhost as RabbitMQ 3.10 lists it, with its message
// counts summed over its queues.
func (s *Server) vhostItem(r *request, v broker.DefVhost) item {
	md := broker.DefMetadata{}
	if v.Metadata != nil {
		md = *v.Metadata
	}
	dqt := md.DefaultQueueType
	if dqt == "" {
		dqt = "undefined"
	}
	tags := tagList(md.Tags)
	var ready, unacked uint64
	for _, q := range s.b.Queues(r.Context(), v.Name) {
		ready += uint64(q.Stats.Ready)
		unacked += uint64(q.Stats.Unacked)
	}
	return item{
		"name": v.Name, "description": md.Description, "tags": tags, "default_queue_type": dqt,
		"metadata": item{"description": md.Description, "tags": tags}, "tracing": false,
		"cluster_state":           item{s.b.NodeName(): "running"},
		"messages":                ready + unacked,
		"messages_ready":          ready,
		"messages_unacknowledged": unacked,
	}
}

func (s *Server) listVhosts(r *request) (reply, *apiError) {
	visible := map[string]bool{}
	for _, v := range s.loginVhosts(r.user, true) {
		visible[v] = true
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	var out []item
	for _, v := range s.b.Snapshot().Vhosts {
		if visible[v.Name] {
			out = append(out, s.vhostItem(r, v))
		}
	}
	s.stats.view(func() {
		for _, it := range out {
			s.stats.putVhostStats(it, it["name"].(string), rg)
		}
	})
	return list(r, out, "name")
}

// findVhost returns a vhost of the definitions.
func findVhost(d *broker.Definitions, name string) (broker.DefVhost, bool) {
	for _, v := range d.Vhosts {
		if v.Name == name {
			return v, true
		}
	}
	return broker.DefVhost{}, false
}

func (s *Server) getVhost(r *request) (reply, *apiError) {
	v, found := findVhost(s.b.Snapshot(), r.path("vhost"))
	if !found {
		return reply{}, notFound()
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	it := s.vhostItem(r, v)
	s.stats.view(func() { s.stats.putVhostStats(it, v.Name, rg) })
	return ok(it)
}

// vhostBody is PUT /api/vhosts/{vhost}'s body.
type vhostBody struct {
	Description      *string         `json:"description"`
	Tags             json.RawMessage `json:"tags"`
	DefaultQueueType string          `json:"default_queue_type"`
}

func (s *Server) putVhost(r *request) (reply, *apiError) {
	var b vhostBody
	if err := r.decode(&b); err != nil {
		return reply{}, err
	}
	name := r.path("vhost")
	old, existed := findVhost(s.b.Snapshot(), name)
	// As RabbitMQ 3.10, a PUT replaces the description and tags; the
	// default queue type stays unless given.
	m := broker.VhostMetadata{Tags: []string{}}
	if existed && old.Metadata != nil {
		m.DefaultQueueType = old.Metadata.DefaultQueueType
	}
	if b.Description != nil {
		m.Description = *b.Description
	}
	if len(b.Tags) > 0 && string(b.Tags) != "null" {
		var tags broker.DefTags
		if err := json.Unmarshal(b.Tags, &tags); err != nil {
			return reply{}, badRequest("tags must be a comma-separated string or a list of strings")
		}
		m.Tags = cleanTags(tags)
	}
	if b.DefaultQueueType != "" && b.DefaultQueueType != "undefined" {
		m.DefaultQueueType = b.DefaultQueueType
	}
	if err := s.b.PutVhost(r.Context(), name, m); err != nil {
		return reply{}, fromBroker(err)
	}
	if !existed {
		// As rabbit_mgmt_wm_vhost, the user who creates a vhost may use it.
		all := broker.Permission{Configure: ".*", Write: ".*", Read: ".*"}
		if err := s.b.SetPermissions(r.Context(), r.user.Name, name, all); err != nil {
			return reply{}, fromBroker(err)
		}
	}
	return createdOrNot(!existed)
}

func (s *Server) deleteVhost(r *request) (reply, *apiError) {
	if _, found := findVhost(s.b.Snapshot(), r.path("vhost")); !found {
		return reply{}, notFound()
	}
	if err := s.b.DeleteVhost(r.Context(), r.path("vhost")); err != nil {
		return reply{}, fromBroker(err)
	}
	return noContent()
}
