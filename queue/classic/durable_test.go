package classic

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// windows runs a test with paging off (a window bigger than the test) and
// with a window so small that nearly everything is paged.
var windows = []struct {
	name   string
	window int
}{{"in memory", 1000}, {"paged", 2}}

// Restart: exactly the persistent messages not settled come back, in their
// order, redelivered; acked, no-ack-delivered and transient ones do not.
func TestDurableRestartRecoversUnsettledPersistent(t *testing.T) {
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openTestStore(t, dir, nil)
			h := newDurableHarness(t, st, nil, w.window, nil)
			h.publishMixed("p1", "t1", "p2", "p3", "t2", "p4", "p5", "t3", "p6")
			var ids []uint64
			for range 4 { // p1 t1 p2 p3
				d, _, ok := h.q.Get(false)
				if !ok {
					t.Fatal("get failed")
				}
				ids = append(ids, d.ID)
			}
			h.q.Settle(queue.Ack, ids[:2]) // p1, t1; p2 and p3 stay unacked
			for _, want := range []string{"t2", "p4"} {
				if d, _, _ := h.q.Get(true); string(d.Message.Body) != want {
					t.Fatalf("no-ack get %q, want %s", d.Message.Body, want)
				}
			}
			h.stats(3, 2, 0) // p5 t3 p6 ready
			if err := h.q.Close(); err != nil {
				t.Fatal(err)
			}
			st.Close()

			st = openTestStore(t, dir, nil)
			h = newDurableHarness(t, st, nil, w.window, nil)
			h.stats(4, 0, 0)
			if got, want := h.drain(), []string{"p2*", "p3*", "p5*", "p6*"}; !slices.Equal(got, want) {
				t.Fatalf("recovered %q, want %q", got, want)
			}
			// Nothing acked comes back, however often the queue restarts.
			h.q.Close()
			h = newDurableHarness(t, st, nil, w.window, nil)
			if got := h.drain(); len(got) != 0 {
				t.Fatalf("after draining and restarting: %q", got)
			}
		})
	}
}

// Messages that expired or were dead-lettered (rejected, or dropped by
// x-max-length) are settled in the log: they do not come back.
func TestDurableExpiredAndDeadLetteredDoNotComeBack(t *testing.T) {
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openTestStore(t, dir, nil)
			args := protocol.Table{"x-dead-letter-exchange": "dlx", "x-max-length": int32(5)}
			h := newDurableHarness(t, st, args, w.window, nil)
			h.q.Publish(h.pmsg("dropped", ""), queue.Confirm{})
			h.q.Publish(h.pmsg("rejected", ""), queue.Confirm{})
			h.q.Publish(h.pmsg("expires", "1000"), queue.Confirm{})
			h.q.Publish(h.pmsg("keep1", ""), queue.Confirm{})
			h.q.Publish(h.pmsg("keep2", ""), queue.Confirm{})
			h.q.Publish(h.pmsg("keep3", ""), queue.Confirm{}) // drops "dropped" (drop-head)
			d, _, _ := h.q.Get(false)
			if string(d.Message.Body) != "rejected" {
				t.Fatalf("got %q", d.Message.Body)
			}
			h.q.Settle(queue.Reject, []uint64{d.ID})
			h.clock.Advance(2 * time.Second) // "expires" is at the head now
			bodies, reasons := h.deadLettered()
			if !slices.Equal(bodies, []string{"dropped", "rejected", "expires"}) ||
				!slices.Equal(reasons, []string{"maxlen", "rejected", "expired"}) {
				t.Fatalf("dead-lettered %q for %q", bodies, reasons)
			}
			h.q.Close()

			h = newDurableHarness(t, st, args, w.window, nil)
			if got, want := h.drain(), []string{"keep1*", "keep2*", "keep3*"}; !slices.Equal(got, want) {
				t.Fatalf("recovered %q, want %q", got, want)
			}
		})
	}
}

// A TTL counts from the publish, across a restart and for paged messages:
// the expiry is read from the record when the message reaches the head.
func TestDurableTTLFromRecord(t *testing.T) {
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			st := openTestStore(t, t.TempDir(), nil)
			clock := newClock()
			args := protocol.Table{"x-dead-letter-exchange": "dlx"}
			h := newDurableHarness(t, st, args, w.window, clock)
			h.q.Publish(h.pmsg("a", ""), queue.Confirm{})
			h.q.Publish(h.pmsg("b", ""), queue.Confirm{})
			for i := range 5 {
				h.q.Publish(h.pmsg("short"+strconv.Itoa(i), "1000"), queue.Confirm{})
			}
			h.q.Publish(h.pmsg("long", "60000"), queue.Confirm{})
			h.q.Close()
			clock.Jump(2 * time.Second) // down for two seconds

			h = newDurableHarness(t, st, args, w.window, clock)
			clock.Advance(0) // the timer armed at recovery
			if got, want := h.drain(), []string{"a*", "b*", "long*"}; !slices.Equal(got, want) {
				t.Fatalf("after 2 s: %q, want %q", got, want)
			}
			if bodies, _ := h.deadLettered(); len(bodies) != 5 {
				t.Fatalf("dead-lettered %q", bodies)
			}
		})
	}
}

// Purge settles every ready message in the log, paged or not (delivered
// ones stay); delete removes the log's directory.
func TestDurablePurgeAndDeleteRemoveData(t *testing.T) {
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			dir := t.TempDir()
			st := openTestStore(t, dir, nil)
			h := newDurableHarness(t, st, nil, w.window, nil)
			for i := range 100 {
				h.q.Publish(h.pmsg("m"+strconv.Itoa(i), ""), queue.Confirm{})
			}
			d, _, _ := h.q.Get(false) // m0 stays unacked
			if n, _ := h.q.Purge(bg); n != 99 {
				t.Fatalf("purged %d, want 99", n)
			}
			h.q.Publish(h.pmsg("after", ""), queue.Confirm{})
			h.q.Close()

			h = newDurableHarness(t, st, nil, w.window, nil)
			if got, want := h.drain(), []string{"m0*", "after*"}; !slices.Equal(got, want) {
				t.Fatalf("after purge and restart: %q, want %q (delivery %d)", got, want, d.ID)
			}
			h.publishMixed("p1", "p2")
			logDir := filepath.Join(dir, store.LogID("/", "q"))
			if _, err := os.Stat(logDir); err != nil {
				t.Fatal(err)
			}
			if _, err := h.q.Delete(bg, false, false); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(logDir); !os.IsNotExist(err) {
				t.Fatalf("log directory after delete: %v", err)
			}
			h = newDurableHarness(t, st, nil, w.window, nil)
			h.stats(0, 0, 0)
		})
	}
}

// Transient messages and in-memory queues confirm inside Publish; a
// persistent message in a durable queue only later, from the store.
func TestDurableConfirmPaths(t *testing.T) {
	st := openTestStore(t, t.TempDir(), nil)
	cases := []struct {
		name       string
		durable    bool
		persistent bool
		atOnce     bool
	}{
		{"transient into durable", true, false, true},
		{"persistent into durable", true, true, false},
		{"persistent into non-durable", false, true, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "q" + strconv.Itoa(i)
			q, err := New(name, Options{VHost: "/", Durable: c.durable}, Env{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			cf := &confirms{}
			m := &queue.Message{Body: []byte("x"), Timestamp: time.Now()}
			if c.persistent {
				m.Props.Flags, m.Props.DeliveryMode = protocol.FlagDeliveryMode, 2
			}
			q.Publish(m, queue.Confirm{To: cf, Seq: 1})
			if _, found := cf.has(1); found != c.atOnce {
				t.Fatalf("confirmed inside Publish: %v, want %v", found, c.atOnce)
			}
			waitFor(t, "the confirm", func() bool { ok, found := cf.has(1); return found && ok })
		})
	}
}

// A consumer with acks gets a persistent message straight from Publish,
// before it is durable; its ack settles it (in whichever order the
// append's sync and the settle reach the disk, the log applies the settle
// after the append), and a no-ack consumer's messages never touch the log.
func TestDurableInlineDeliveryIsLoggedAndSettled(t *testing.T) {
	for _, noAck := range []bool{false, true} {
		t.Run("noAck="+strconv.FormatBool(noAck), func(t *testing.T) {
			st := openTestStore(t, t.TempDir(), nil)
			h := newDurableHarness(t, st, nil, 10, nil)
			c := newConsumer(-1)
			if err := h.q.Consume(c, queue.ConsumeOptions{Tag: "c", NoAck: noAck}); err != nil {
				t.Fatal(err)
			}
			cf := &confirms{}
			for i := range 20 {
				h.q.Publish(h.pmsg("m"+strconv.Itoa(i), ""), queue.Confirm{To: cf, Seq: uint64(i + 1)})
			}
			want := int64(20)
			if noAck {
				want = 0
			}
			if n := int64(h.q.dlog.Len()); n != want {
				t.Fatalf("records in the log: %d, want %d", n, want)
			}
			if !noAck {
				h.q.Settle(queue.Ack, c.ids())
			}
			waitFor(t, "20 confirms", func() bool { n, _ := cf.count(); return n == 20 })
			if _, nacks := cf.count(); nacks != 0 {
				t.Fatalf("%d nacks", nacks)
			}
			h.q.Close()
			h = newDurableHarness(t, st, nil, 10, nil)
			h.stats(0, 0, 0)
		})
	}
}

// When the disk fails, publishes waiting for it are nacked, later ones are
// nacked at once (and kept in memory, still delivered), and nothing
// confirmed is lost.
func TestDurableDiskFailureNacks(t *testing.T) {
	fs := &failFS{}
	dir := t.TempDir()
	st := openTestStore(t, dir, fs)
	h := newDurableHarness(t, st, nil, 1000, nil)
	cf := &confirms{}
	h.q.Publish(h.pmsg("before", ""), queue.Confirm{To: cf, Seq: 1})
	waitFor(t, "the first confirm", func() bool { _, found := cf.has(1); return found })
	fs.setFail(true)
	h.q.Publish(h.pmsg("during", ""), queue.Confirm{To: cf, Seq: 2})
	waitFor(t, "the nack", func() bool { _, found := cf.has(2); return found })
	h.q.Publish(h.pmsg("after", ""), queue.Confirm{To: cf, Seq: 3})
	for seq, want := range map[uint64]bool{1: true, 2: false, 3: false} {
		if ok, found := cf.has(seq); !found || ok != want {
			t.Errorf("confirm %d: ok=%v found=%v, want ok=%v", seq, ok, found, want)
		}
	}
	if got, want := h.drain(), []string{"before", "during", "after"}; !slices.Equal(got, want) {
		t.Fatalf("served %q, want %q", got, want)
	}
	fs.setFail(false)
	h.q.Close()
}

// Deleting a queue acks the confirms still waiting for its log, as RabbitMQ
// confirms publishes to a queue that was deleted.
func TestDurableDeleteConfirmsWaiting(t *testing.T) {
	st := openTestStore(t, t.TempDir(), nil)
	h := newDurableHarness(t, st, nil, 1000, nil)
	cf := &confirms{}
	for i := range 200 {
		h.q.Publish(h.pmsg("m", ""), queue.Confirm{To: cf, Seq: uint64(i + 1)})
	}
	if _, err := h.q.Delete(bg, false, false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every confirm", func() bool { n, _ := cf.count(); return n == 200 })
	if _, nacks := cf.count(); nacks != 0 {
		t.Fatalf("%d nacks", nacks)
	}
}

// Publishers, a consumer acking and the store's goroutine confirming all at
// once: every publish is confirmed exactly once (confirms panics on a
// second), the consumer sees each publisher's messages in order, and
// nothing comes back after a restart.
func TestDurableConcurrentPublishConsumeAck(t *testing.T) {
	st := openTestStore(t, t.TempDir(), nil)
	h := newDurableHarness(t, st, nil, 64, nil)
	const publishers, each = 4, 2000
	var mu sync.Mutex
	var got []queue.Delivery
	c := &funcConsumer{deliver: func(d queue.Delivery) {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	}}
	if err := h.q.Consume(c, queue.ConsumeOptions{Tag: "c"}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		for {
			mu.Lock()
			batch := make([]uint64, len(got))
			for i, d := range got {
				batch[i] = d.ID
			}
			got = got[:0]
			mu.Unlock()
			h.q.Settle(queue.Ack, batch)
			select {
			case <-stop:
				if len(batch) == 0 {
					return
				}
			default:
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	cfs := make([]*confirms, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		cfs[p] = &confirms{}
		wg.Go(func() {
			for i := range each {
				m := h.pmsg(strconv.Itoa(p)+"/"+strconv.Itoa(i), "")
				if i%3 == 0 {
					m.Props.DeliveryMode = 1
				}
				h.q.Publish(m, queue.Confirm{To: cfs[p], Seq: uint64(i + 1)})
			}
		})
	}
	wg.Wait()
	for p := range publishers {
		waitFor(t, "confirms", func() bool { n, _ := cfs[p].count(); return n == each })
		if _, nacks := cfs[p].count(); nacks != 0 {
			t.Fatalf("publisher %d: %d nacks", p, nacks)
		}
	}
	waitFor(t, "the queue to drain", func() bool { s := h.q.Stats(bg); return s.Ready == 0 && s.Unacked == 0 })
	close(stop)
	<-acked
	h.q.Close()
	h = newDurableHarness(t, st, nil, 64, nil)
	h.stats(0, 0, 0)
}

// funcConsumer delivers to a function.
type funcConsumer struct{ deliver func(queue.Delivery) }

func (f *funcConsumer) Deliver(d queue.Delivery) { f.deliver(d) }
func (f *funcConsumer) Cancelled()               {}
