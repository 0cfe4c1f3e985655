package mgmt

import (
	"bytes"
	"encoding/json"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// A message's basic properties as the API reads and writes them
// (rabbit_mgmt_format:to_basic_properties and basic_properties): the
// properties that are set, by their AMQP field names; delivery_mode,
// priority and timestamp integers, headers a table, the rest strings.

// decodeFields reads a JSON object into f (null or absent is empty).
func decodeFields(raw json.RawMessage, f *fields) error {
	*f = fields{}
	if !present(raw) {
		return nil
	}
	return json.Unmarshal(raw, f)
}

// stringProps are the string properties and where they go.
func stringProps(m *amqp.Publishing) map[string]*string {
	return map[string]*string{"content_type": &m.ContentType, "content_encoding": &m.ContentEncoding,
		"correlation_id": &m.CorrelationId, "reply_to": &m.ReplyTo, "expiration": &m.Expiration,
		"message_id": &m.MessageId, "type": &m.Type, "user_id": &m.UserId, "app_id": &m.AppId}
}

// into sets m's properties from f, refusing values of the wrong type as
// to_basic_properties does (["not_int","priority"], ["not_string","type"]).
func (f fields) into(m *amqp.Publishing) *apiError {
	for k, dst := range stringProps(m) {
		if !f.has(k) {
			continue
		}
		if json.Unmarshal(f[k], dst) != nil {
			return tuple("not_string", k)
		}
	}
	ints := map[string]func(int64){
		"delivery_mode": func(n int64) { m.DeliveryMode = uint8(n) },
		"priority":      func(n int64) { m.Priority = uint8(n) },
		"timestamp":     func(n int64) { m.Timestamp = time.Unix(n, 0) },
	}
	for k, set := range ints {
		if !f.has(k) {
			continue
		}
		var n int64
		if bytes.HasPrefix(f[k], []byte(`"`)) || json.Unmarshal(f[k], &n) != nil || n < 0 || (k != "timestamp" && n > 255) {
			return tuple("not_int", k)
		}
		set(n)
	}
	h, aerr := f.table("headers")
	if aerr != nil {
		return aerr
	}
	m.Headers = h
	return nil
}

// propertiesItem is a delivery's set properties; none is [], as
// RabbitMQ encodes an empty property list.
func propertiesItem(d amqp.Delivery) any {
	it := item{}
	for k, v := range map[string]string{"content_type": d.ContentType, "content_encoding": d.ContentEncoding,
		"correlation_id": d.CorrelationId, "reply_to": d.ReplyTo, "expiration": d.Expiration,
		"message_id": d.MessageId, "type": d.Type, "user_id": d.UserId, "app_id": d.AppId} {
		if v != "" {
			it[k] = v
		}
	}
	if d.DeliveryMode != 0 {
		it["delivery_mode"] = d.DeliveryMode
	}
	if d.Priority != 0 {
		it["priority"] = d.Priority
	}
	if !d.Timestamp.IsZero() {
		it["timestamp"] = d.Timestamp.Unix()
	}
	if d.Headers != nil {
		it["headers"] = table(tableOf(d.Headers))
	}
	if len(it) == 0 {
		return []any{}
	}
	return it
}
