package broker

import (
	"context"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// TestDeclareQueueTypes: classic queues are declared through the registry;
// quorum and stream, which RabbitMQ has and Warren does not run yet, keep
// rabbit_queue_type_util's property checks in RabbitMQ's order and are
// then refused with 406; arguments are checked before either.
func TestDeclareQueueTypes(t *testing.T) {
	s := startServer(t)
	c := dial(t, s)
	const v = "' in vhost '/'"
	for _, tc := range []struct {
		name                           string
		durable, autoDelete, exclusive bool
		args                           amqp.Table
		text                           string // "" means declared
	}{
		{"classic", false, true, false, amqp.Table{"x-queue-type": "classic", "x-max-priority": int32(3)}, ""},
		{"classic by default", false, false, true, nil, ""},
		{"quorum auto-delete", false, true, true, amqp.Table{"x-queue-type": "quorum"},
			"PRECONDITION_FAILED - invalid property 'auto-delete' for queue 'quorum auto-delete" + v},
		{"quorum exclusive", true, false, true, amqp.Table{"x-queue-type": "quorum"},
			"PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'quorum exclusive" + v},
		{"quorum non-durable", false, false, false, amqp.Table{"x-queue-type": "quorum"},
			"PRECONDITION_FAILED - invalid property 'non-durable' for queue 'quorum non-durable" + v},
		{"quorum", true, false, false, amqp.Table{"x-queue-type": "quorum"}, ""},
		{"stream", true, false, false, amqp.Table{"x-queue-type": "stream"},
			"PRECONDITION_FAILED - queue type 'stream' is not supported by Warren yet; declare a classic queue"},
		{"quorum priority", false, true, false, amqp.Table{"x-queue-type": "quorum", "x-max-priority": int32(3)},
			"PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'quorum priority" + v + " of queue type rabbit_quorum_queue"},
		{"unknown", true, false, false, amqp.Table{"x-queue-type": "fancy"},
			`PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue 'unknown` + v + `: "unsupported queue type 'fancy'"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := openChannel(t, c)
			_, err := ch.QueueDeclare(tc.name, tc.durable, tc.autoDelete, tc.exclusive, false, tc.args)
			if tc.text == "" {
				if err != nil {
					t.Fatalf("declare: %v", err)
				}
				if _, err := ch.QueueDelete(tc.name, false, false, false); err != nil {
					t.Fatalf("delete: %v", err)
				}
				return
			}
			e, ok := err.(*amqp.Error)
			if !ok || e.Code != int(protocol.PreconditionFailed) || e.Reason != tc.text {
				t.Fatalf("declare: %v, want 406 %q", err, tc.text)
			}
		})
	}
}

// fakeType is a registered queue type with chosen capabilities; it
// declares nothing.
type fakeType struct {
	name string
	caps queue.Capabilities
}

func (f fakeType) Name() string                               { return f.name }
func (f fakeType) Capabilities() queue.Capabilities           { return f.caps }
func (f fakeType) Recover(context.Context, []queue.Ref) error { return nil }
func (f fakeType) Close() error                               { return nil }
func (f fakeType) Declare(context.Context, queue.Declaration, queue.Hooks) (queue.Queue, error) {
	return nil, protocol.NewError(protocol.NotImplemented, "fake")
}

// TestDeclareChecksReadCapabilities: the broker's declare checks come from
// the registered type's capabilities, not from knowing the type: a type
// registered under "quorum" that allows only durable queues and no
// x-max-priority gets the same refusals as RabbitMQ's, and a classic type
// stating fewer arguments refuses the others.
func TestDeclareChecksReadCapabilities(t *testing.T) {
	reg, err := queue.NewRegistry(
		fakeType{queue.TypeClassic, queue.Capabilities{NonDurable: true, Args: []string{"x-queue-type", "x-expires"}}},
		fakeType{queue.TypeQuorum, queue.Capabilities{Args: queue.TypeArgs(queue.TypeQuorum)}},
	)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{types: reg}
	_, err = s.parseQueueArgs(protocol.Table{"x-max-priority": int32(2)}, "q", "/")
	wantErr(t, "x-max-priority on a classic type without it", err,
		"PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 'q' in vhost '/' of queue type rabbit_classic_queue")
	if _, err := s.parseQueueArgs(protocol.Table{"x-expires": int32(10)}, "q", "/"); err != nil {
		t.Errorf("x-expires, which the classic type states: %v", err)
	}
	quorum := reg.Lookup(queue.TypeQuorum)
	wantErr(t, "non-durable quorum", checkDeclarable(quorum, queue.TypeQuorum, queueDef{Name: "q"}, "/"),
		"PRECONDITION_FAILED - invalid property 'non-durable' for queue 'q' in vhost '/'")
	if err := checkDeclarable(quorum, queue.TypeQuorum, queueDef{Name: "q", Durable: true}, "/"); err != nil {
		t.Errorf("durable queue of a registered quorum type: %v", err)
	}
	wantErr(t, "exclusive classic without the capability",
		checkDeclarable(reg.Lookup(queue.TypeClassic), queue.TypeClassic, queueDef{Name: "q", Exclusive: true}, "/"),
		"PRECONDITION_FAILED - invalid property 'exclusive-owner' for queue 'q' in vhost '/'")
}

func wantErr(t *testing.T, what string, err error, text string) {
	t.Helper()
	if err == nil || err.Error() != text {
		t.Errorf("%s: %v, want %q", what, err, text)
	}
}
