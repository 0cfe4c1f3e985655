package mgmt

import (
	"encoding/json"
	"io"
	"net/http"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// Definitions: rabbit_mgmt_wm_definitions. GET exports the node's (or one
// vhost's) definitions as RabbitMQ writes them, POST imports a document
// through the broker's importer. Administrator only.

func (s *Server) definitionRoutes() {
	s.on("GET", "/api/definitions", admin, s.getDefinitions)
	s.on("POST", "/api/definitions", admin, s.postDefinitions)
	s.on("GET", "/api/definitions/{vhost}", admin, s.getDefinitions)
	s.on("POST", "/api/definitions/{vhost}", admin, s.postDefinitions)
}

// vhostDefinitions is the per-vhost document: no users, vhosts or
// permissions.
type vhostDefinitions struct {
	RabbitVersion   string                `json:"rabbit_version,omitempty"`
	RabbitMQVersion string                `json:"rabbitmq_version,omitempty"`
	ProductName     string                `json:"product_name,omitempty"`
	ProductVersion  string                `json:"product_version,omitempty"`
	Parameters      []broker.DefParameter `json:"parameters"`
	Policies        []broker.DefPolicy    `json:"policies"`
	Queues          []broker.DefQueue     `json:"queues"`
	Exchanges       []broker.DefExchange  `json:"exchanges"`
	Bindings        []broker.DefBinding   `json:"bindings"`
}

func (s *Server) getDefinitions(r *request) (reply, *apiError) {
	d := s.b.Snapshot()
	vh := r.path("vhost")
	if vh == "" {
		return definitionsReply(r, d)
	}
	if !hasVhost(d, vh) {
		return reply{}, notFound()
	}
	out := vhostDefinitions{RabbitVersion: d.RabbitVersion, RabbitMQVersion: d.RabbitMQVersion,
		ProductName: d.ProductName, ProductVersion: d.ProductVersion,
		Parameters: []broker.DefParameter{}, Policies: []broker.DefPolicy{}, Queues: []broker.DefQueue{},
		Exchanges: []broker.DefExchange{}, Bindings: []broker.DefBinding{}}
	for _, p := range d.Parameters {
		if p.Vhost == vh {
			out.Parameters = append(out.Parameters, p)
		}
	}
	for _, p := range d.Policies {
		if p.Vhost == vh {
			out.Policies = append(out.Policies, p)
		}
	}
	for _, q := range d.Queues {
		if q.Vhost == vh {
			out.Queues = append(out.Queues, q)
		}
	}
	for _, x := range d.Exchanges {
		if x.Vhost == vh {
			out.Exchanges = append(out.Exchanges, x)
		}
	}
	for _, b := range d.Bindings {
		if b.Vhost == vh {
			out.Bindings = append(out.Bindings, b)
		}
	}
	return definitionsReply(r, out)
}

// definitionsReply writes a document, as an attachment when asked
// (?download=name).
func definitionsReply(r *request, doc any) (reply, *apiError) {
	if name := r.URL.Query().Get("download"); name != "" {
		r.w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	return reply{status: http.StatusOK, body: doc}, nil
}

func (s *Server) postDefinitions(r *request) (reply, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return reply{}, badRequest("Exceeded HTTP request body size limit")
	}
	d, err := broker.ParseDefinitions(body)
	if err != nil {
		return reply{}, badRequest("failed_to_parse_json")
	}
	if vh := r.path("vhost"); vh != "" {
		if !hasVhost(s.b.Snapshot(), vh) {
			return reply{}, notFound()
		}
		d = onlyVhost(d, vh)
	}
	doc, err := json.Marshal(d)
	if err != nil {
		return reply{}, internalError(err.Error())
	}
	if err := s.b.ImportDefinitions(r.Context(), doc); err != nil {
		s.log.Warn("definitions import refused", zap.Error(err))
		return reply{}, badRequest(err.Error())
	}
	return noContent()
}

// onlyVhost keeps a document's vhost objects, moved into vh, as a
// per-vhost import does.
func onlyVhost(d *broker.Definitions, vh string) *broker.Definitions {
	out := &broker.Definitions{Parameters: d.Parameters, Policies: d.Policies, Queues: d.Queues,
		Exchanges: d.Exchanges, Bindings: d.Bindings}
	for i := range out.Parameters {
		out.Parameters[i].Vhost = vh
	}
	for i := range out.Policies {
		out.Policies[i].Vhost = vh
	}
	for i := range out.Queues {
		out.Queues[i].Vhost = vh
	}
	for i := range out.Exchanges {
		out.Exchanges[i].Vhost = vh
	}
	for i := range out.Bindings {
		out.Bindings[i].Vhost = vh
	}
	return out
}
