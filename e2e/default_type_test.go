//go:build !e2e_nowarren

package e2e

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/broker"
)

// TestVhostDefaultQueueType: a vhost's default_queue_type is the type of
// a queue declared in it without x-queue-type, as RabbitMQ's
// augment_declare_args makes it: quorum for a durable queue, classic for
// an exclusive or auto-delete one (which a quorum queue cannot be); a
// redeclare without a type matches the queue whatever its type, so a
// classic queue declared before the default was set keeps working.
func TestVhostDefaultQueueType(t *testing.T) {
	var srv *broker.Server
	url := ownBroker(t, warrenOptions{Started: func(s any) { srv = s.(*broker.Server) }})
	ctx := context.Background()
	mustOK(t, srv.PutVhost(ctx, "dq", broker.VhostMetadata{}), "add vhost")
	mustOK(t, srv.SetPermissions(ctx, "guest", "dq", broker.Permission{Configure: ".*", Write: ".*", Read: ".*"}), "permissions")
	u, err := amqp.ParseURI(url)
	mustOK(t, err, "parse url")
	u.Vhost = "dq"
	ch := dialURL(t, u.String(), amqp.Config{}).channel(t)
	_, err = ch.QueueDeclare("before", true, false, false, false, nil)
	mustOK(t, err, "declare before the default is set")
	mustOK(t, srv.PutVhost(ctx, "dq", broker.VhostMetadata{DefaultQueueType: "quorum"}), "set default queue type")

	_, err = ch.QueueDeclare("durable", true, false, false, false, nil)
	mustOK(t, err, "declare durable")
	_, err = ch.QueueDeclare("excl", true, false, true, false, nil)
	mustOK(t, err, "declare exclusive")
	_, err = ch.QueueDeclare("auto", true, true, false, false, nil)
	mustOK(t, err, "declare auto-delete")
	_, err = ch.QueueDeclare("durable", true, false, false, false, nil)
	mustOK(t, err, "redeclare the quorum queue without a type")
	_, err = ch.QueueDeclare("before", true, false, false, false, nil)
	mustOK(t, err, "redeclare the classic queue declared before the default")

	types := map[string]string{}
	for _, q := range srv.Queues(ctx, "dq") {
		types[q.Name] = q.Type
	}
	want := map[string]string{"durable": "quorum", "excl": "classic", "auto": "classic", "before": "classic"}
	for q, typ := range want {
		if types[q] != typ {
			t.Errorf("queue %s is %q, want %q (all: %v)", q, types[q], typ, types)
		}
	}
}
