package mgmt

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Messages through the API, as rabbit_mgmt_wm_exchange_publish,
// rabbit_mgmt_wm_queue_get and rabbit_mgmt_wm_aliveness_test handle
// them: on the user's own connection (direct.go), refusals answered as
// with_channel answers them. Each needs access to the vhost.

func (s *Server) messageRoutes() {
	s.on("POST", "/api/exchanges/{vhost}/{name}/publish", vhostUser, s.publish)
	s.on("POST", "/api/queues/{vhost}/{name}/get", vhostUser, s.getMessages)
	s.on("GET", "/api/aliveness-test/{vhost}", vhostUser, s.aliveness)
}

// publish publishes one message with mandatory set and in confirm mode,
// and answers whether it was routed: {"routed": bool}. As in RabbitMQ,
// a missing exchange is not checked first: the broker closes the
// channel, and every such close is 400 "CODE TEXT".
func (s *Server) publish(r *request) (reply, *apiError) {
	if !s.vhostExists(r.path("vhost")) {
		return reply{}, notFound()
	}
	f, aerr := r.fields()
	if aerr == nil {
		aerr = f.require("routing_key", "properties", "payload", "payload_encoding")
	}
	if aerr != nil {
		return reply{}, aerr
	}
	msg, aerr := readMessage(f)
	if aerr != nil {
		return reply{}, aerr
	}
	key, aerr := f.str("routing_key", "")
	if aerr != nil {
		return reply{}, aerr
	}
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		routed, err := publishConfirmed(r, ch, exchangeName(r.path("name")), key, msg)
		if err != nil {
			return reply{}, err
		}
		return ok(item{"routed": routed})
	})
}

// readMessage reads a publish's payload, its encoding and properties.
func readMessage(f fields) (amqp.Publishing, *apiError) {
	var msg amqp.Publishing
	payload, aerr := f.str("payload", "")
	if aerr != nil {
		return msg, badRequest("payload_not_string")
	}
	enc, aerr := f.str("payload_encoding", "")
	if aerr != nil {
		return msg, aerr
	}
	switch enc {
	case "string":
		msg.Body = []byte(payload)
	case "base64":
		b, err := base64.StdEncoding.DecodeString(payload)
		if err != nil {
			return msg, badRequest("not_base64")
		}
		msg.Body = b
	default:
		return msg, tuple("unsupported_encoding", f.value("payload_encoding"))
	}
	var props fields
	if err := decodeFields(f["properties"], &props); err != nil {
		return msg, badRequest("properties should be an object, actually was " + f.term("properties"))
	}
	if aerr := props.into(&msg); aerr != nil {
		return msg, aerr
	}
	return msg, nil
}

// publishConfirmed publishes and waits for the broker's confirm, and for
// its return first when the message was not routed.
func publishConfirmed(r *request, ch *amqp.Channel, exchange, key string, msg amqp.Publishing) (bool, *apiError) {
	if err := ch.Confirm(false); err != nil {
		return false, channelError(err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 1))
	closed := ch.NotifyClose(make(chan *amqp.Error, 1))
	if err := ch.PublishWithContext(r.Context(), exchange, key, true, false, msg); err != nil {
		return false, channelError(err)
	}
	select {
	case c, open := <-confirms:
		if !open {
			return false, publishClosed(closed)
		}
		if !c.Ack {
			return false, badRequest("rejected Unable to publish message. Check queue limits.")
		}
		select {
		case <-returns:
			return false, nil
		default:
			return true, nil
		}
	case err := <-closed:
		return false, publishError(err)
	case <-r.Context().Done():
		return false, internalError("timed out waiting for the broker's confirm")
	}
}

// publishClosed is the reason the channel closed during a publish, once
// it has.
func publishClosed(closed chan *amqp.Error) *apiError {
	select {
	case err := <-closed:
		if err != nil {
			return publishError(err)
		}
	case <-time.After(time.Second):
	}
	return internalError("the channel closed")
}

// publishError is rabbit_mgmt_wm_exchange_publish's answer to a channel
// the broker closed: 400 "CODE TEXT" whatever the code.
func publishError(err *amqp.Error) *apiError {
	if err == nil {
		return internalError("the channel closed")
	}
	return badRequest(fmt.Sprintf("%d %s", err.Code, err.Reason))
}

// The ack modes of a get: whether the message is fetched with no_ack,
// and whether it is then rejected (and requeued).
var ackModes = map[string]struct{ noAck, reject, requeue bool }{
	"ack_requeue_true":     {},
	"ack_requeue_false":    {noAck: true},
	"reject_requeue_true":  {reject: true, requeue: true},
	"reject_requeue_false": {reject: true},
}

// getOptions is a get's body.
type getOptions struct {
	count    int64
	ack      struct{ noAck, reject, requeue bool }
	base64   bool
	truncate int64 // -1 for none
}

func readGetOptions(f fields) (getOptions, *apiError) {
	o := getOptions{truncate: -1}
	if aerr := f.require("ackmode", "count", "encoding"); aerr != nil {
		return o, aerr
	}
	mode, aerr := f.str("ackmode", "")
	if aerr != nil {
		return o, aerr
	}
	var known bool
	if o.ack, known = ackModes[mode]; !known {
		return o, badRequest("Unsupported ackmode. Please use ack_requeue_true, ack_requeue_false, reject_requeue_true or reject_requeue_false.")
	}
	if o.count, aerr = f.integer("count"); aerr != nil {
		return o, aerr
	}
	switch enc, _ := f.str("encoding", ""); enc {
	case "auto":
	case "base64":
		o.base64 = true
	default:
		return o, badRequest("Unsupported encoding. Please use auto or base64.")
	}
	if f.has("truncate") {
		if o.truncate, aerr = f.integer("truncate"); aerr != nil {
			return o, aerr
		}
	}
	return o, nil
}

// getMessages fetches up to count messages with basic.get, then rejects
// them if asked; those fetched for ack_requeue_true are requeued when
// the channel closes. A missing queue is the broker's 404 (the whole
// reply text), as with_channel answers it.
func (s *Server) getMessages(r *request) (reply, *apiError) {
	if !s.vhostExists(r.path("vhost")) {
		return reply{}, notFound()
	}
	f, aerr := r.fields()
	if aerr != nil {
		return reply{}, aerr
	}
	o, aerr := readGetOptions(f)
	if aerr != nil {
		return reply{}, aerr
	}
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		out := []item{}
		var tags []uint64
		for range o.count {
			d, got, err := ch.Get(r.path("name"), o.ack.noAck)
			if err != nil {
				return reply{}, channelError(err)
			}
			if !got {
				break
			}
			out = append(out, deliveryItem(d, o))
			tags = append(tags, d.DeliveryTag)
		}
		if o.ack.reject {
			for _, tag := range tags {
				if err := ch.Reject(tag, o.ack.requeue); err != nil {
					return reply{}, channelError(err)
				}
			}
		}
		return ok(out)
	})
}

// deliveryItem is a fetched message as basic_get formats it.
func deliveryItem(d amqp.Delivery, o getOptions) item {
	body := d.Body
	if o.truncate >= 0 && int64(len(body)) > o.truncate {
		body = body[:o.truncate]
	}
	it := item{"payload_bytes": len(d.Body), "redelivered": d.Redelivered, "exchange": d.Exchange,
		"routing_key": d.RoutingKey, "message_count": d.MessageCount, "properties": propertiesItem(d)}
	if !o.base64 && utf8.Valid(body) {
		it["payload"], it["payload_encoding"] = string(body), "string"
	} else {
		it["payload"], it["payload_encoding"] = base64.StdEncoding.EncodeToString(body), "base64"
	}
	return it
}

// alivenessQueue is the queue the aliveness test declares and leaves.
const alivenessQueue = "aliveness-test"

// aliveness declares the aliveness-test queue, publishes a message to it
// and gets it back: {"status":"ok"}, or 503 with the reason.
func (s *Server) aliveness(r *request) (reply, *apiError) {
	if !s.vhostExists(r.path("vhost")) {
		return reply{}, notFound()
	}
	return s.withDirect(r, func(ch *amqp.Channel) (reply, *apiError) {
		if _, err := ch.QueueDeclare(alivenessQueue, false, false, false, false, nil); err != nil {
			return reply{}, channelError(err)
		}
		if _, err := publishConfirmed(r, ch, "", alivenessQueue, amqp.Publishing{Body: []byte("test_message")}); err != nil {
			return reply{}, err
		}
		_, got, err := ch.Get(alivenessQueue, true)
		if err != nil {
			return reply{}, channelError(err)
		}
		if !got {
			return reply{status: http.StatusServiceUnavailable,
				body: item{"status": "failed", "reason": "aliveness-test queue is empty"}}, nil
		}
		return ok(item{"status": "ok"})
	})
}
