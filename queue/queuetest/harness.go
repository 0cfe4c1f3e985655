package queuetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// waitFor bounds every wait for a queue's answer.
const waitFor = 5 * time.Second

var queueSeq atomic.Uint64

// harness is one case's queue and the channels (owners) using it. It
// collects what the queue reports, whether it returns actions, posts
// them, or calls the Consumer and Confirmer directly.
type harness struct {
	t   *testing.T
	typ queue.Type
	q   queue.Queue

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every event
}

func newHarness(t *testing.T, typ queue.Type) *harness {
	h := &harness{t: t, typ: typ, changed: make(chan struct{})}
	caps := typ.Capabilities()
	name := "queuetest-" + strconv.FormatUint(queueSeq.Add(1), 10)
	q, err := typ.Declare(context.Background(), queue.Declaration{VHost: "/", Name: name, Durable: !caps.NonDurable}, queue.Hooks{})
	if err != nil {
		t.Fatalf("declare %s: %v", name, err)
	}
	h.q = q
	t.Cleanup(func() { q.Close() })
	return h
}

// notifyLocked wakes the waiters. The caller holds h.mu.
func (h *harness) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// wait polls cond, under h.mu, until it holds, failing the test after
// waitFor.
func (h *harness) wait(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.NewTimer(waitFor)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond) // Stats change without events
	defer tick.Stop()
	for {
		h.mu.Lock()
		ok := cond()
		ch := h.changed
		h.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-tick.C:
		case <-deadline.C:
			h.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitStats waits until the queue's counters are want. Stats is called
// without h.mu held: a queue on another node waits for its answer, and
// what that node posts meanwhile takes h.mu (Post).
func (h *harness) waitStats(want queue.Stats) {
	h.t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		got := h.q.Stats(context.Background())
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for stats %+v (last %+v)", want, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// owner is one channel: a queue.SessionOwner with its session.
type owner struct {
	h   *harness
	pub queue.Publisher
	s   queue.Session
	num uint64 // publishes made

	// guarded by h.mu
	confirms map[uint64]int // seq → 1 acked, -1 nacked; 2+ means told twice
	gets     []queue.Action
	down     bool
	blocked  bool
}

var ownerSeq atomic.Uint64

func (h *harness) newOwner() *owner {
	o := &owner{h: h, confirms: make(map[uint64]int)}
	o.pub = queue.Publisher{Node: "queuetest@node", Conn: ownerSeq.Add(1), Channel: 1}
	o.s = h.q.NewSession(o)
	h.t.Cleanup(o.s.Close) // before the queue's Close, registered earlier
	return o
}

// Publisher implements queue.SessionOwner.
func (o *owner) Publisher() *queue.Publisher { return &o.pub }

// Post implements queue.SessionOwner.
func (o *owner) Post(acts []queue.Action) {
	o.h.mu.Lock()
	for _, a := range acts {
		o.applyLocked(a)
	}
	o.h.notifyLocked()
	o.h.mu.Unlock()
}

// returned carries out what an operation returned.
func (o *owner) returned(acts []queue.Action) {
	if len(acts) > 0 {
		o.Post(acts)
	}
}

func (o *owner) applyLocked(a queue.Action) {
	switch a.Kind {
	case queue.ActionDeliver:
		a.Consumer.(*consumer).deliverLocked(a.Delivery)
	case queue.ActionSettled:
		o.confirmLocked(a.Seq, true)
	case queue.ActionRejected:
		o.confirmLocked(a.Seq, false)
	case queue.ActionConsumeOK:
		a.Consumer.(*consumer).ok = true
	case queue.ActionCancelled:
		a.Consumer.(*consumer).cancelled = true
	case queue.ActionGetOK, queue.ActionGetEmpty:
		o.gets = append(o.gets, a)
	case queue.ActionQueueDown:
		o.down = true
	case queue.ActionBlock:
		o.blocked = true
	case queue.ActionUnblock:
		o.blocked = false
	}
}

func (o *owner) confirmLocked(seq uint64, ok bool) {
	switch {
	case o.confirms[seq] != 0:
		o.confirms[seq] = 2
	case ok:
		o.confirms[seq] = 1
	default:
		o.confirms[seq] = -1
	}
}

// Confirmed implements queue.Confirmer, for types that confirm directly.
func (o *owner) Confirmed(seq uint64, ok bool) {
	o.h.mu.Lock()
	o.confirmLocked(seq, ok)
	o.h.notifyLocked()
	o.h.mu.Unlock()
}

// publish publishes body, asking for a confirm numbered by the owner's
// publish count.
func (o *owner) publish(body string) {
	o.num++
	// Persistent, so that a durable queue confirms after its fsync.
	m := &queue.Message{RoutingKey: o.h.q.Name(), Body: []byte(body), Timestamp: time.Now(),
		Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}}
	c := queue.Confirm{To: o, Seq: o.num, From: &o.pub, Num: o.num}
	o.returned(o.s.Publish(m, c, nil))
}

// consume subscribes a consumer with prefetch (0: unlimited).
func (o *owner) consume(tag string, prefetch uint16) *consumer {
	o.h.t.Helper()
	k := &consumer{o: o, tag: tag}
	acts, err := o.s.Consume(k, queue.ConsumeOptions{Tag: tag, Prefetch: prefetch}, nil)
	if err != nil {
		o.h.t.Fatalf("consume %s: %v", tag, err)
	}
	o.returned(acts)
	o.h.wait("consume-ok for "+tag, func() bool { return k.ok })
	return k
}

// get sends basic.get and waits for its answer.
func (o *owner) get(noAck bool) queue.Action {
	o.h.t.Helper()
	o.h.mu.Lock()
	n := len(o.gets)
	o.h.mu.Unlock()
	o.returned(o.s.Get(noAck, nil))
	var a queue.Action
	o.h.wait("basic.get answer", func() bool {
		if len(o.gets) > n {
			a = o.gets[n]
			return true
		}
		return false
	})
	return a
}

func (o *owner) settle(s queue.Settlement, ids ...uint64) {
	o.returned(o.s.Settle(s, ids, nil))
}

// waitConfirms waits until publishes 1..n are confirmed, each once, and
// fails if any was nacked.
func (o *owner) waitConfirms(n uint64) {
	o.h.t.Helper()
	o.h.wait(fmt.Sprintf("%d confirms", n), func() bool {
		for i := uint64(1); i <= n; i++ {
			if o.confirms[i] == 0 {
				return false
			}
		}
		return true
	})
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	for seq, v := range o.confirms {
		if v != 1 {
			o.h.t.Fatalf("publish %d: confirm state %d, want one ack", seq, v)
		}
	}
}

// consumer is a queue.Consumer recording what it is handed.
type consumer struct {
	o   *owner
	tag string

	// guarded by o.h.mu
	ok        bool
	cancelled bool
	got       []queue.Delivery
}

// Deliver implements queue.Consumer.
func (k *consumer) Deliver(d queue.Delivery) {
	k.o.h.mu.Lock()
	k.deliverLocked(d)
	k.o.h.notifyLocked()
	k.o.h.mu.Unlock()
}

func (k *consumer) deliverLocked(d queue.Delivery) {
	k.got = append(k.got, d)
}

// Cancelled implements queue.Consumer.
func (k *consumer) Cancelled() {
	k.o.h.mu.Lock()
	k.cancelled = true
	k.o.h.notifyLocked()
	k.o.h.mu.Unlock()
}

// waitGot waits until k has been handed n deliveries and returns them.
func (k *consumer) waitGot(n int) []queue.Delivery {
	k.o.h.t.Helper()
	var got []queue.Delivery
	k.o.h.wait(fmt.Sprintf("%d deliveries to %s", n, k.tag), func() bool {
		got = append([]queue.Delivery(nil), k.got...)
		return len(got) >= n
	})
	if len(got) != n {
		k.o.h.t.Fatalf("%s was handed %d deliveries, want %d", k.tag, len(got), n)
	}
	return got
}

// count returns how many deliveries k has been handed.
func (k *consumer) count() int {
	k.o.h.mu.Lock()
	defer k.o.h.mu.Unlock()
	return len(k.got)
}

// bodies returns the bodies of ds.
func bodies(ds []queue.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Message.Body)
	}
	return out
}
