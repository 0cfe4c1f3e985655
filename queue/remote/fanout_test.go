package remote

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/warrenmq/warren/queue"
)

// TestFanoutCrossesOnce: a 64 KiB message routed to ten queues on one
// node crosses the link once (the other nine publishes are references),
// while ten different messages cross ten times; every queue gets the
// whole message either way.
func TestFanoutCrossesOnce(t *testing.T) {
	const size, queues = 64 << 10, 10
	for _, tc := range []struct {
		name   string
		shared bool
		check  func(read int64) bool
		want   string
	}{
		{"one message to ten queues", true, func(n int64) bool { return n < 2*size }, "under 2 copies"},
		{"ten messages to ten queues", false, func(n int64) bool { return n >= queues*size }, "at least 10 copies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			h := newHome(t)
			l := h.link(t)
			o := newOwner()
			homes := make([]queue.Queue, queues)
			sessions := make([]queue.Session, queues)
			for i := range queues {
				name := "fan-" + strconv.Itoa(i)
				homes[i] = h.declare("/", name)
				sessions[i] = l.Queue("/", name).NewSession(o)
				defer sessions[i].Close()
			}
			// Make sure the sessions are open before counting.
			sessions[0].Get(true, nil)
			o.wait(t, queue.ActionGetEmpty, 1)
			before := h.read.Load()

			body := bytes.Repeat([]byte("x"), size)
			m := message(string(body))
			for i, s := range sessions {
				if !tc.shared {
					m = message(string(body))
				}
				s.Publish(m, queue.Confirm{To: nopConfirmer{}, Seq: uint64(i + 1), Num: 1}, nil)
			}
			o.wait(t, queue.ActionSettled, queues)
			if read := h.read.Load() - before; !tc.check(read) {
				t.Fatalf("%d octets crossed the link for %d publishes of %d octets, want %s", read, queues, size, tc.want)
			}
			for i, q := range homes {
				local := q.NewSession(newOwner())
				acts := local.Get(true, nil)
				local.Close()
				if len(acts) != 1 || acts[0].Kind != queue.ActionGetOK || !bytes.Equal(acts[0].Delivery.Message.Body, body) {
					t.Fatalf("queue %d did not get the whole message", i)
				}
			}
		})
	}
}

// TestSessionlessPublish: a dead-lettered copy published without a
// session reaches the home queue and is confirmed to its Confirmer; one
// to a queue the home node does not have is nacked.
func TestSessionlessPublish(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	home := h.declare("/", "dlq")
	l := h.link(t)
	c := make(chan bool, 2)
	l.Queue("/", "dlq").Publish(message("dead"), queue.Confirm{To: chanConfirmer(c), Seq: 7})
	if ok := <-c; !ok {
		t.Fatal("a session-less publish was nacked")
	}
	if st := home.Stats(context.Background()); st != (queue.Stats{Ready: 1}) {
		t.Fatalf("home queue after the publish: %+v", st)
	}
	l.Queue("/", "missing").Publish(message("dead"), queue.Confirm{To: chanConfirmer(c), Seq: 8})
	if ok := <-c; ok {
		t.Fatal("a publish to a missing queue was acked")
	}
}

// chanConfirmer sends each outcome to its channel.
type chanConfirmer chan bool

func (c chanConfirmer) Confirmed(_ uint64, ok bool) { c <- ok }
