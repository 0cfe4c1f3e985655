package remote

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// homeDownText is RabbitMQ's text for queue q on a node that is down.
func homeDownText(q string) string {
	return "NOT_FOUND - home node '" + peerName + "' of durable queue '" + q + "' in vhost '/' is down or inaccessible"
}

// wantHomeDown checks err is the home-node-down 404 for queue q.
func wantHomeDown(t *testing.T, what string, err error, q string) {
	t.Helper()
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.NotFound || pe.Text != homeDownText(q) {
		t.Fatalf("%s: %v, want 404 %s", what, err, homeDownText(q))
	}
}

// TestLinkLossMidStream: when the home node stops answering and the link
// drops, the channel hears what RabbitMQ tells it about a queue whose node
// went down: its consumer is cancelled, its unconfirmed publishes are
// nacked, its waiting get and a waiting purge fail with the 404, and the
// queue is down. The home queue takes back what the consumer held, and
// the next use of the link dials again and works.
func TestLinkLossMidStream(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	home := h.declare("/", "q")
	l := h.link(t)
	pq := l.Queue("/", "q")

	o := newOwner()
	s := pq.NewSession(o)
	k := &consumer{tag: "k"}
	if _, err := s.Consume(k, queue.ConsumeOptions{Tag: "k"}, nil); err != nil {
		t.Fatal(err)
	}
	o.wait(t, queue.ActionConsumeOK, 1)
	s.Publish(message("held"), queue.Confirm{To: nopConfirmer{}, Seq: 1, Num: 1}, nil)
	o.wait(t, queue.ActionDeliver, 1)
	o.wait(t, queue.ActionSettled, 1)
	if ok, came := o.confirmed(1); !came || !ok {
		t.Fatalf("publish 1 before the loss: confirmed %v (came %v), want acked", ok, came)
	}

	// The home node stops reading: what follows is never answered.
	hc := h.lastConn()
	hc.held.Store(true)
	for seq := uint64(2); seq <= 4; seq++ {
		s.Publish(message("lost"), queue.Confirm{To: nopConfirmer{}, Seq: seq, Num: seq}, nil)
	}
	s.Get(false, nil)
	purged := make(chan error, 1)
	go func() {
		_, err := pq.Purge(context.Background())
		purged <- err
	}()
	eventually(t, "the purge to be sent", func() bool {
		lc := l.conn()
		lc.mu.Lock()
		defer lc.mu.Unlock()
		return len(lc.reqs) == 1
	})
	hc.Close()

	o.wait(t, queue.ActionQueueDown, 1)
	if c := o.kinds(queue.ActionCancelled); len(c) != 1 || c[0].Consumer != k {
		t.Fatalf("cancelled %v, want the consumer once", c)
	}
	for seq := uint64(2); seq <= 4; seq++ {
		if ok, came := o.confirmed(seq); !came || ok {
			t.Fatalf("publish %d: confirmed %v (came %v), want nacked", seq, ok, came)
		}
	}
	refused := o.kinds(queue.ActionRefused)
	if len(refused) != 1 || refused[0].Consumer != nil {
		t.Fatalf("refused %v, want the get once", refused)
	}
	wantHomeDown(t, "the get", refused[0].Err, "q")
	wantHomeDown(t, "the purge", <-purged, "q")

	// The down session answers locally.
	if _, err := s.Consume(&consumer{}, queue.ConsumeOptions{}, nil); err == nil {
		t.Fatal("a consume on a down session was accepted")
	}
	if acts := s.Publish(message("x"), queue.Confirm{To: nopConfirmer{}, Seq: 5}, nil); len(acts) != 1 || acts[0].Kind != queue.ActionRejected {
		t.Fatalf("a publish on a down session returned %v, want a nack", acts)
	}
	s.Close()

	// The home queue took the unacked message back.
	eventually(t, "the held message back in the home queue", func() bool {
		return home.Stats(context.Background()) == queue.Stats{Ready: 1}
	})

	// The next use redials.
	o2 := newOwner()
	s2 := pq.NewSession(o2)
	s2.Publish(message("after"), queue.Confirm{To: nopConfirmer{}, Seq: 1, Num: 1}, nil)
	o2.wait(t, queue.ActionSettled, 1)
	s2.Get(true, nil)
	g := o2.wait(t, queue.ActionGetOK, 1)[0]
	if string(g.Delivery.Message.Body) != "held" || !g.Delivery.Redelivered || g.Count != 1 {
		t.Fatalf("after the redial: get %q redelivered %v, %d left; want the held message, redelivered, 1 left",
			g.Delivery.Message.Body, g.Delivery.Redelivered, g.Count)
	}
	if st := pq.Stats(context.Background()); st != (queue.Stats{Ready: 1}) {
		t.Fatalf("stats after the redial: %+v", st)
	}
	s2.Close()
}

// TestClientVanishes: when the node that consumed goes away (its link
// closes), the home node closes its sessions: the consumer is gone and
// the messages it held unacked are back in the queue, redelivered next.
func TestClientVanishes(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	home := h.declare("/", "q")
	l := h.link(t)
	o := newOwner()
	s := l.Queue("/", "q").NewSession(o)
	for seq := uint64(1); seq <= 3; seq++ {
		s.Publish(message("m"), queue.Confirm{To: nopConfirmer{}, Seq: seq, Num: seq}, nil)
	}
	o.wait(t, queue.ActionSettled, 3)
	if _, err := s.Consume(&consumer{}, queue.ConsumeOptions{Tag: "k", Prefetch: 2}, nil); err != nil {
		t.Fatal(err)
	}
	o.wait(t, queue.ActionDeliver, 2)
	if st := home.Stats(context.Background()); st != (queue.Stats{Ready: 1, Unacked: 2, Consumers: 1}) {
		t.Fatalf("home queue while consumed remotely: %+v", st)
	}
	l.Close()
	eventually(t, "the consumer gone and its messages requeued", func() bool {
		return home.Stats(context.Background()) == queue.Stats{Ready: 3}
	})
	eventually(t, "the link to end", func() bool { return len(h.served()) == 1 })
	if err := h.served()[0]; err != nil {
		t.Fatalf("a link the peer closed ended with %v", err)
	}
	local := home.NewSession(newOwner())
	defer local.Close()
	acts := local.Get(true, nil)
	if len(acts) != 1 || acts[0].Kind != queue.ActionGetOK || !acts[0].Delivery.Redelivered {
		t.Fatalf("first get after the peer vanished: %+v, want a redelivered message", acts)
	}
}

// TestConsumeRefused: the home queue's refusal of a consume reaches the
// broker as the exception it returned, and a queue the home node does not
// have answers with its 404 and is down.
func TestConsumeRefused(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	h.declare("/", "q")
	l := h.link(t)
	excl := newOwner()
	es := l.Queue("/", "q").NewSession(excl)
	defer es.Close()
	if _, err := es.Consume(&consumer{}, queue.ConsumeOptions{Tag: "x", Exclusive: true}, nil); err != nil {
		t.Fatal(err)
	}
	excl.wait(t, queue.ActionConsumeOK, 1)

	o := newOwner()
	s := l.Queue("/", "q").NewSession(o)
	defer s.Close()
	k := &consumer{}
	if _, err := s.Consume(k, queue.ConsumeOptions{Tag: "k"}, nil); err != nil {
		t.Fatal(err)
	}
	r := o.wait(t, queue.ActionRefused, 1)[0]
	var pe *protocol.Error
	if r.Consumer != k || !errors.As(r.Err, &pe) || pe.Code != protocol.AccessRefused ||
		pe.Text != "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use" {
		t.Fatalf("refusal %+v, want 403 exclusive use for the consumer", r)
	}

	missing := newOwner()
	ms := l.Queue("/", "nope").NewSession(missing)
	defer ms.Close()
	missing.wait(t, queue.ActionQueueDown, 1)
	missing.Post(ms.Get(false, nil))
	r = missing.wait(t, queue.ActionRefused, 1)[0]
	if !errors.As(r.Err, &pe) || pe.Code != protocol.NotFound || pe.Text != "NOT_FOUND - no queue 'nope' in vhost '/'" {
		t.Fatalf("get on a missing queue: %v, want 404 no queue", r.Err)
	}
	if _, err := l.Queue("/", "nope").Purge(context.Background()); !errors.As(err, &pe) || pe.Code != protocol.NotFound {
		t.Fatalf("purge of a missing queue: %v, want 404", err)
	}
}

// nopConfirmer marks a publish as asking for a confirm; the proxy posts
// the outcome instead of calling it.
type nopConfirmer struct{}

func (nopConfirmer) Confirmed(uint64, bool) { panic("a proxy posts confirms") }

// TestCheckedStats: a proxy's CheckedStats, which the broker's passive
// declare and redeclare read, answers the counts of a queue it reaches,
// the home node's 404 for a queue that node does not have, and the
// home-node-down 404 when the node cannot be reached, where Stats would
// count nothing.
func TestCheckedStats(t *testing.T) {
	checkGoroutines(t)
	h := newHome(t)
	home := h.declare("/", "q")
	home.Publish(message("m"), queue.Confirm{})
	up := h.link(t)
	down := NewLink(LinkConfig{Peer: peerName, Log: testLog(t), Dial: func(context.Context) (net.Conn, error) {
		return nil, errors.New("connection refused")
	}})
	t.Cleanup(down.Close)
	type checked interface {
		CheckedStats(context.Context) (queue.Stats, error)
	}
	for _, tc := range []struct {
		name, queue string
		link        *Link
		want        queue.Stats
		code        uint16
		text        string
	}{
		{"reached", "q", up, queue.Stats{Ready: 1}, 0, ""},
		{"missing", "nope", up, queue.Stats{}, protocol.NotFound, "NOT_FOUND - no queue 'nope' in vhost '/'"},
		{"node down", "q", down, queue.Stats{}, protocol.NotFound, homeDownText("q")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := tc.link.Queue("/", tc.queue).(checked).CheckedStats(context.Background())
			var pe *protocol.Error
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("error %v, want none", err)
			case tc.code != 0 && (!errors.As(err, &pe) || pe.Code != tc.code || pe.Text != tc.text):
				t.Fatalf("error %v, want %d %q", err, tc.code, tc.text)
			case st != tc.want:
				t.Fatalf("stats %+v, want %+v", st, tc.want)
			}
		})
	}
}
