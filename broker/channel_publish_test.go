package broker

import (
	"testing"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// publishRecorder is a queue that records what each publish carried.
type publishRecorder struct {
	queue.Queue
	got []queue.Confirm
}

func (q *publishRecorder) NewSession(queue.SessionOwner) queue.Session { return recorderSession{q} }

// recorderSession records the publishes made through it.
type recorderSession struct {
	*publishRecorder
}

func (s recorderSession) Publish(_ *queue.Message, c queue.Confirm, out []queue.Action) []queue.Action {
	s.got = append(s.got, c)
	return out
}
func (recorderSession) Consume(queue.Consumer, queue.ConsumeOptions, []queue.Action) ([]queue.Action, error) {
	return nil, nil
}
func (recorderSession) Cancel(_ queue.Consumer, out []queue.Action) []queue.Action { return out }
func (recorderSession) Get(_ bool, out []queue.Action) []queue.Action              { return out }
func (recorderSession) Settle(_ queue.Settlement, _ []uint64, out []queue.Action) []queue.Action {
	return out
}
func (recorderSession) Close() {}

// TestPublishCarriesPublisher: every publish names its node, connection
// and channel and is numbered on its channel from 1, confirmed or not, so
// that a replicated queue can drop a resend.
func TestPublishCarriesPublisher(t *testing.T) {
	c := &conn{srv: &Server{cfg: Config{NodeName: "warren@h"}}, id: 7, log: zap.NewNop()}
	ch := newChannel(c, 3)
	q := &publishRecorder{}
	for range 3 {
		ch.enqueue(&queue.Message{}, &exchangeCounters{}, false, []queue.Queue{q}, nil)
	}
	want := queue.Publisher{Node: "warren@h", Conn: 7, Channel: 3}
	for i, got := range q.got {
		if got.From == nil || *got.From != want || got.Num != uint64(i+1) {
			t.Fatalf("publish %d carried %+v (from %+v), want from %+v numbered %d", i, got, got.From, want, i+1)
		}
		if got.To != nil {
			t.Fatalf("publish %d asks for a confirm outside confirm mode", i)
		}
	}
	if len(q.got) != 3 {
		t.Fatalf("%d publishes reached the queue, want 3", len(q.got))
	}
}
