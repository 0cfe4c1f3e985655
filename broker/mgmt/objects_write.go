package mgmt

import (
	"fmt"
	"net/http"
	"net/url"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Exchanges, queues and bindings declared and deleted through the API,
// as rabbit_mgmt_wm_exchange, rabbit_mgmt_wm_queue,
// rabbit_mgmt_wm_queue_purge, rabbit_mgmt_wm_bindings and
// rabbit_mgmt_wm_binding do them: one AMQP method on the user's own
// connection (direct.go), its refusal answered as direct_request answers
// it. Each needs access to the vhost; the broker checks the user's
// permissions on the object.

func (s *Server) objectWriteRoutes() {
	s.on("PUT", "/api/exchanges/{vhost}/{name}", vhostUser, s.putExchange)
	s.on("DELETE", "/api/exchanges/{vhost}/{name}", vhostUser, s.deleteExchange)
	s.on("PUT", "/api/queues/{vhost}/{name}", vhostUser, s.putQueue)
	s.on("DELETE", "/api/queues/{vhost}/{name}", vhostUser, s.deleteQueue)
	s.on("DELETE", "/api/queues/{vhost}/{name}/contents", vhostUser, s.purgeQueue)
	for _, d := range []string{"q", "e"} {
		s.on("POST", "/api/bindings/{vhost}/e/{source}/"+d+"/{destination}", vhostUser, s.postBinding(d))
		s.on("DELETE", "/api/bindings/{vhost}/e/{source}/"+d+"/{destination}/{props}", vhostUser, s.deleteBinding(d))
	}
}

// vhostNotFound is with_vhost_and_props' answer for a missing vhost.
func vhostNotFound() *apiError {
	return &apiError{status: http.StatusNotFound, kind: "not_found", reason: "vhost_not_found"}
}

// exchangeName is the path's exchange, "amq.default" being "".
func exchangeName(name string) string {
	if name == "amq.default" {
		return ""
	}
	return name
}

// flags reads the boolean keys of a declare.
func (f fields) flags(keys ...string) ([]bool, *apiError) {
	out := make([]bool, len(keys))
	for i, k := range keys {
		b, err := f.boolean(k)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (s *Server) putExchange(r *request) (reply, *apiError) {
	if !s.vhostExists(r.path("vhost")) {
		return reply{}, vhostNotFound()
	}
	f, aerr := r.fields()
	if aerr != nil {
		return reply{}, aerr
	}
	kind, aerr := f.str("type", "direct")
	if aerr != nil {
		return reply{}, aerr
	}
	b, aerr := f.flags("durable", "auto_delete", "internal")
	if aerr != nil {
		return reply{}, aerr
	}
	args, aerr := f.table("arguments")
	if aerr != nil {
		return reply{}, aerr
	}
	_, existed := s.findExchange(r.path("vhost"), r.path("name"))
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		if err := ch.ExchangeDeclare(exchangeName(r.path("name")), kind, b[0], b[1], b[2], false, args); err != nil {
			return reply{}, directError(err)
		}
		return createdOrNot(!existed)
	})
}

func (s *Server) deleteExchange(r *request) (reply, *apiError) {
	if _, found := s.findExchange(r.path("vhost"), r.path("name")); !found {
		return reply{}, notFound()
	}
	ifUnused := r.URL.Query().Get("if-unused") == "true"
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		if err := ch.ExchangeDelete(exchangeName(r.path("name")), ifUnused, false); err != nil {
			return reply{}, directError(err)
		}
		return noContent()
	})
}

// maxQueueName is the longest queue name AMQP 0-9-1 carries.
const maxQueueName = 255

func (s *Server) putQueue(r *request) (reply, *apiError) {
	name := r.path("name")
	if len(name) > maxQueueName {
		return reply{}, badRequest(fmt.Sprintf("queue should be less than 255 bytes, actually was %d\n", len(name)))
	}
	if !s.vhostExists(r.path("vhost")) {
		return reply{}, vhostNotFound()
	}
	f, aerr := r.fields()
	if aerr != nil {
		return reply{}, aerr
	}
	b, aerr := f.flags("durable", "auto_delete", "exclusive")
	if aerr != nil {
		return reply{}, aerr
	}
	args, aerr := f.table("arguments")
	if aerr != nil {
		return reply{}, aerr
	}
	_, existed := s.findQueue(r)
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		if _, err := ch.QueueDeclare(name, b[0], b[1], b[2], false, args); err != nil {
			return reply{}, directError(err)
		}
		return createdOrNot(!existed)
	})
}

func (s *Server) deleteQueue(r *request) (reply, *apiError) {
	if _, found := s.findQueue(r); !found {
		return reply{}, notFound()
	}
	q := r.URL.Query()
	ifUnused, ifEmpty := q.Get("if-unused") == "true", q.Get("if-empty") == "true"
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		if _, err := ch.QueueDelete(r.path("name"), ifUnused, ifEmpty, false); err != nil {
			return reply{}, directError(err)
		}
		return noContent()
	})
}

func (s *Server) purgeQueue(r *request) (reply, *apiError) {
	if _, found := s.findQueue(r); !found {
		return reply{}, notFound()
	}
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		if _, err := ch.QueuePurge(r.path("name"), false); err != nil {
			return reply{}, directError(err)
		}
		return noContent()
	})
}

// bind binds or unbinds the path's source and destination.
func bind(ch *amqp.Channel, d string, unbind bool, src, dst, key string, args amqp.Table) error {
	switch {
	case d == "q" && !unbind:
		return ch.QueueBind(dst, key, src, false, args)
	case d == "q":
		return ch.QueueUnbind(dst, key, src, args)
	case !unbind:
		return ch.ExchangeBind(dst, key, src, false, args)
	}
	return ch.ExchangeUnbind(dst, key, src, false, args)
}

// postBinding binds as rabbit_mgmt_wm_bindings does: 201 with the new
// binding's location relative to the request's path.
func (s *Server) postBinding(d string) handlerFunc {
	return func(r *request) (reply, *apiError) {
		if !s.vhostExists(r.path("vhost")) {
			return reply{}, vhostNotFound()
		}
		f, aerr := r.fields()
		if aerr != nil {
			return reply{}, aerr
		}
		key, aerr := f.str("routing_key", "")
		if aerr != nil {
			return reply{}, aerr
		}
		args, aerr := f.table("arguments")
		if aerr != nil {
			return reply{}, aerr
		}
		src, dst := exchangeName(r.path("source")), r.path("destination")
		return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
			if err := bind(ch, d, false, src, dst, key, args); err != nil {
				return reply{}, directError(err)
			}
			// Relative to the request's path, the key escaped once more,
			// as RabbitMQ writes it.
			r.w.Header().Set("Location", url.PathEscape(dst)+"/"+url.PathEscape(propertiesKey(key, tableOf(args))))
			return reply{status: http.StatusCreated}, nil
		})
	}
}

// deleteBinding removes the binding the path's properties key names.
func (s *Server) deleteBinding(d string) handlerFunc {
	return func(r *request) (reply, *apiError) {
		b, found := s.findBinding(r, d)
		if !found {
			return reply{}, notFound()
		}
		args := amqpTable(b.Args)
		return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
			if err := bind(ch, d, true, b.Source, b.Destination, b.RoutingKey, args); err != nil {
				return reply{}, directError(err)
			}
			return noContent()
		})
	}
}
