package quorum

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// TestAtLeastOnceSettlesAfterTargetsConfirm: with the at-least-once
// strategy a rejected message stays in the source queue, counted against
// its length, until the dead-letter targets confirmed it; a refusal is
// retried rather than dropped.
func TestAtLeastOnceSettlesAfterTargetsConfirm(t *testing.T) {
	typ, err := OpenType(Config{Node: "queuetest@node"})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var dones []func(bool)
	hooks := queue.Hooks{DeadLetterConfirmed: func(ms []*queue.Message, done func(bool)) {
		mu.Lock()
		dones = append(dones, done)
		mu.Unlock()
	}}
	args, err := queue.ParseArgs(protocol.Table{"x-queue-type": "quorum", "x-dead-letter-exchange": "dlx",
		"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}, "src", "/")
	if err != nil {
		t.Fatal(err)
	}
	q, err := typ.Declare(context.Background(), queue.Declaration{VHost: "/", Name: "src", Durable: true, Args: args}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	qq := q.(*Queue)
	o := newTestOwner()
	s := q.NewSession(o)
	s.Publish(&queue.Message{Body: []byte("x")}, queue.Confirm{}, nil)
	s.Get(false, nil)
	got := o.waitGet(t)
	s.Settle(queue.Reject, []uint64{got.Delivery.ID}, nil)
	takeDone := func() func(bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			if len(dones) > 0 {
				d := dones[0]
				dones = dones[1:]
				mu.Unlock()
				return d
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatal("the message was not dead-lettered")
		return nil
	}
	pending := func() int {
		qq.fsm.mu.Lock()
		defer qq.fsm.mu.Unlock()
		return qq.fsm.state.DeadLetterPending()
	}
	takeDone()(false) // a target refused: retried, still pending
	if n := pending(); n != 1 {
		t.Fatalf("after a refusal %d pending, want 1", n)
	}
	takeDone()(true)
	deadline := time.Now().Add(5 * time.Second)
	for pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("confirmed dead-letter still pending in the source")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
