package broker

import (
	"context"
	"errors"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/classic"
)

// refusingType is classic reached as a queue on another node reports
// refusals: a consume the queue refuses, and every basic.get, are
// answered with ActionRefused, posted during the call or later from
// another goroutine, never returned.
type refusingType struct {
	queue.Type
	later bool
	wg    sync.WaitGroup
}

// Name registers the type as quorum, whose declares it serves.
func (t *refusingType) Name() string { return queue.TypeQuorum }

// errHomeDown is what a get on a queue whose node is down is refused with.
var errHomeDown = protocol.NewError(protocol.NotFound,
	"home node 'warren@gone' of durable queue 'refusing' in vhost '/' is down or inaccessible")

func (t *refusingType) Declare(ctx context.Context, d queue.Declaration, h queue.Hooks) (queue.Queue, error) {
	d.Args.Type = ""
	q, err := t.Type.Declare(ctx, d, h)
	if err != nil {
		return nil, err
	}
	return &refusingQueue{Queue: q, t: t}, nil
}

type refusingQueue struct {
	queue.Queue
	t *refusingType
}

func (q *refusingQueue) NewSession(o queue.SessionOwner) queue.Session {
	return &refusingSession{Session: q.Queue.NewSession(o), o: o, t: q.t}
}

type refusingSession struct {
	queue.Session
	o queue.SessionOwner
	t *refusingType
}

func (s *refusingSession) post(a queue.Action) {
	if !s.t.later {
		s.o.Post([]queue.Action{a})
		return
	}
	s.t.wg.Go(func() { s.o.Post([]queue.Action{a}) })
}

func (s *refusingSession) Consume(c queue.Consumer, o queue.ConsumeOptions, out []queue.Action) ([]queue.Action, error) {
	out, err := s.Session.Consume(c, o, out)
	if err != nil {
		s.post(queue.Action{Kind: queue.ActionRefused, Consumer: c, Err: err})
	}
	return out, nil
}

func (s *refusingSession) Get(noAck bool, out []queue.Action) []queue.Action {
	s.post(queue.Action{Kind: queue.ActionRefused, Err: errHomeDown})
	return out
}

// TestQueueRefusalPosted: a refusal a queue posts (ActionRefused) reaches
// the client as the channel error the queue sent, naming the method,
// whether it came during the call or later; the connection and the
// queue's other consumers go on, and the refused consumer's tag is free.
func TestQueueRefusalPosted(t *testing.T) {
	for _, later := range []bool{false, true} {
		name := map[bool]string{false: "during the call", true: "later"}[later]
		t.Run(name, func(t *testing.T) {
			inner, err := classic.OpenType(classic.TypeConfig{})
			if err != nil {
				t.Fatal(err)
			}
			rt := &refusingType{Type: inner, later: later}
			t.Cleanup(rt.wg.Wait)
			s := startServer(t, func(c *Config) { c.extraTypes = []queue.Type{rt} })
			c := dial(t, s)
			args := amqp.Table{"x-queue-type": queue.TypeQuorum}
			owner := openChannel(t, c)
			if _, err := owner.QueueDeclare("refusing", true, false, false, false, args); err != nil {
				t.Fatal(err)
			}
			if _, err := owner.Consume("refusing", "excl", false, true, false, false, nil); err != nil {
				t.Fatal(err)
			}

			ch := openChannel(t, c)
			_, err = ch.Consume("refusing", "k", false, false, false, false, nil)
			wantChannelError(t, "consume", err, protocol.AccessRefused,
				"ACCESS_REFUSED - queue 'refusing' in vhost '/' in exclusive use")

			ch = openChannel(t, c)
			_, _, err = ch.Get("refusing", false)
			wantChannelError(t, "get", err, protocol.NotFound, errHomeDown.Text)

			ch = openChannel(t, c)
			q, err := ch.QueueDeclarePassive("refusing", true, false, false, false, args)
			if err != nil || q.Consumers != 1 {
				t.Fatalf("after the refusals: %+v, %v; want the exclusive consumer alone", q, err)
			}
		})
	}
}

// wantChannelError checks err is the channel exception code with text.
func wantChannelError(t *testing.T, what string, err error, code int, text string) {
	t.Helper()
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Code != code || ae.Reason != text {
		t.Fatalf("%s: %v, want %d %s", what, err, code, text)
	}
}
