package quorum

import (
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/queue"
)

// testOwner is a channel's side of sessions in tests: it records what is
// posted.
type testOwner struct {
	pub  queue.Publisher
	mu   sync.Mutex
	acts []queue.Action
}

func newTestOwner() *testOwner {
	return &testOwner{pub: queue.Publisher{Node: "queuetest@node", Conn: 1, Channel: 1}}
}

// Publisher implements queue.SessionOwner.
func (o *testOwner) Publisher() *queue.Publisher { return &o.pub }

// Post implements queue.SessionOwner.
func (o *testOwner) Post(acts []queue.Action) {
	o.mu.Lock()
	o.acts = append(o.acts, acts...)
	o.mu.Unlock()
}

// waitGet waits for the answer to a basic.get.
func (o *testOwner) waitGet(t *testing.T) queue.Action {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		for i, a := range o.acts {
			if a.Kind == queue.ActionGetOK || a.Kind == queue.ActionGetEmpty {
				o.acts = append(o.acts[:i], o.acts[i+1:]...)
				o.mu.Unlock()
				return a
			}
		}
		o.mu.Unlock()
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no answer to basic.get")
	return queue.Action{}
}
