package classic

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// A large backlog keeps only the window in memory, publishing and
// draining, and comes out complete and in order: persistent messages in a
// durable queue's log, transient ones (in a durable queue or not) in the
// spill log.
func TestPagingBoundsMemory(t *testing.T) {
	const window = 1000
	for _, tc := range []struct {
		name       string
		durable    bool
		persistent bool
		n          int
	}{
		{"durable queue, persistent", true, true, 200_000},
		{"durable queue, transient", true, false, 50_000},
		{"non-durable queue", false, false, 50_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			if testing.Short() {
				n = 20_000
			}
			var st *store.Store
			if tc.durable {
				st = openTestStore(t, t.TempDir(), nil)
			}
			sp := openSpillStore(t, t.TempDir())
			h := newPagingHarness(t, st, sp, tc.durable, nil, window, nil)
			body := make([]byte, 100)
			check := func(when string, i int) {
				m := h.q.Memory()
				if m.Window > window+1 || m.WindowBytes > int64(window*len(body)) || m.Tail != 0 {
					t.Fatalf("%s %d: memory %+v, window %d", when, i, m, window)
				}
			}
			for i := range n {
				m := h.msg("")
				if tc.persistent {
					m = h.pmsg("", "")
				}
				m.Body = strconv.AppendInt(body[:0:0], int64(i), 10)
				m.Body = append(m.Body, body[len(m.Body):]...)
				h.q.Publish(m, queue.Confirm{})
				if i%1000 == 0 {
					check("publishing", i)
				}
			}
			if s := h.q.Stats(bg); s.Ready != uint32(n) {
				t.Fatalf("stats %+v", s)
			}
			m := h.q.Memory()
			if m.Paged < n-window-1 {
				t.Fatalf("only %d of %d paged", m.Paged, n)
			}
			if spilled := !tc.persistent; spilled != (m.Spilled == m.Paged) {
				t.Fatalf("memory %+v: spilled %d of %d paged", m, m.Spilled, m.Paged)
			}
			for i := range n {
				d, remaining, ok := h.q.Get(true)
				if !ok || remaining != uint32(n-i-1) {
					t.Fatalf("get %d: ok=%v remaining=%d", i, ok, remaining)
				}
				want := strconv.Itoa(i)
				if string(d.Message.Body[:len(want)]) != want || d.Redelivered {
					t.Fatalf("get %d: body %q redelivered=%v", i, d.Message.Body[:8], d.Redelivered)
				}
				if i%1000 == 0 {
					check("draining", i)
				}
			}
			if m := h.q.Memory(); m != (MemoryStats{}) {
				t.Fatalf("memory after draining: %+v", m)
			}
		})
	}
}

// Transient and persistent messages, requeues and restarts keep their
// order through paging: a model (a plain slice) says what the queue must
// hold at every step.
func TestPagingKeepsOrderModel(t *testing.T) {
	for _, tc := range []struct {
		name           string
		durable, spill bool
	}{
		{"durable queue", true, false},
		{"durable queue, spill", true, true},
		{"non-durable queue, spill", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) { pagingModel(t, tc.durable, tc.spill) })
	}
}

// pagingModel runs the paging model on a durable queue or not, with a
// spill store or not.
func pagingModel(t *testing.T, durable, spill bool) {
	for seed := range uint64(4) {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			var st, sp *store.Store
			if durable {
				st = openTestStore(t, t.TempDir(), nil)
			}
			if spill {
				sp = openSpillStore(t, t.TempDir())
			}
			h := newPagingHarness(t, st, sp, durable, nil, 1+rng.IntN(8), nil)
			var model []string          // ready bodies in order; '*' marks redelivered
			held := map[uint64]string{} // delivery id → body
			order := map[string]int{}   // body → position number, for requeue
			next := 0
			for step := range 3000 {
				switch op := rng.IntN(10); {
				case op < 5: // publish
					kind := "t"
					if rng.IntN(3) > 0 {
						kind = "p"
					}
					b := kind + strconv.Itoa(next)
					order[b] = next
					next++
					h.publishMixed(b)
					model = append(model, b)
				case op < 7: // get with ack
					d, _, ok := h.q.Get(false)
					if ok != (len(model) > 0) {
						t.Fatalf("step %d: get ok=%v with %d ready", step, ok, len(model))
					}
					if !ok {
						continue
					}
					if got := mark(d); got != model[0] {
						t.Fatalf("step %d: got %q, want %q", step, got, model[0])
					}
					held[d.ID] = string(d.Message.Body)
					model = model[1:]
				case op < 8: // ack one
					for id := range held {
						h.q.Settle(queue.Ack, []uint64{id})
						delete(held, id)
						break
					}
				case op < 9: // requeue everything held
					var ids []uint64
					for id, b := range held {
						ids = append(ids, id)
						model = append(model, b+"*")
					}
					slices.SortFunc(model, func(a, b string) int {
						return order[trim(a)] - order[trim(b)]
					})
					h.q.Settle(queue.Requeue, ids)
					clear(held)
				default: // restart now and then: transient messages go, all else comes back redelivered
					if rng.IntN(10) > 0 {
						continue
					}
					for _, b := range held {
						model = append(model, b)
					}
					clear(held)
					kept := model[:0]
					for _, b := range model {
						if b[0] == 'p' && durable {
							kept = append(kept, trim(b)+"*")
						}
					}
					model = kept
					slices.SortFunc(model, func(a, b string) int {
						return order[trim(a)] - order[trim(b)]
					})
					h.q.Close()
					h = newPagingHarness(t, st, sp, durable, nil, 1+rng.IntN(8), nil)
				}
				if s := h.q.Stats(bg); int(s.Ready) != len(model) || int(s.Unacked) != len(held) {
					t.Fatalf("step %d: stats %+v, model %d ready %d held", step, s, len(model), len(held))
				}
			}
			var got []string
			for {
				d, _, ok := h.q.Get(true)
				if !ok {
					break
				}
				got = append(got, mark(d))
			}
			if !slices.Equal(got, model) {
				t.Fatalf("drained %q\nwant    %q", got, model)
			}
		})
	}
}

func mark(d queue.Delivery) string {
	if d.Redelivered {
		return string(d.Message.Body) + "*"
	}
	return string(d.Message.Body)
}

func trim(b string) string {
	if b[len(b)-1] == '*' {
		return b[:len(b)-1]
	}
	return b
}

// Length limits count the paged messages, persistent ones in a durable
// queue's log (across a restart too) and transient ones in the spill log;
// drop-head dead-letters what it drops, in order.
func TestPagingLengthLimits(t *testing.T) {
	cases := []struct {
		name  string
		args  protocol.Table
		ready uint32
		head  string // number of the head after one more publish
		dead  int    // messages dead-lettered by then
	}{
		{"max-length drop-head", protocol.Table{"x-max-length": int32(10), "x-dead-letter-exchange": "dlx"}, 10, "91", 91},
		{"max-length reject", protocol.Table{"x-max-length": int32(10), "x-overflow": "reject-publish"}, 10, "0", 0},
		{"max-length reject-publish-dlx", protocol.Table{"x-max-length": int32(10), "x-overflow": "reject-publish-dlx",
			"x-dead-letter-exchange": "dlx"}, 10, "0", 91},
		{"max-length-bytes", protocol.Table{"x-max-length-bytes": int32(30)}, 10, "92", 0}, // p100 is 4 bytes
	}
	kinds := []struct {
		name           string
		prefix         string
		durable, spill bool
	}{
		{"persistent", "p", true, false},
		{"transient, durable queue", "t", true, true},
		{"non-durable queue", "t", false, true},
	}
	for _, k := range kinds {
		for _, c := range cases {
			t.Run(k.name+"/"+c.name, func(t *testing.T) {
				var st, sp *store.Store
				if k.durable {
					st = openTestStore(t, t.TempDir(), nil)
				}
				if k.spill {
					sp = openSpillStore(t, t.TempDir())
				}
				h := newPagingHarness(t, st, sp, k.durable, c.args, 3, nil)
				for i := range 100 {
					h.publishMixed(k.prefix + strconv.Itoa(i))
				}
				if s := h.q.Stats(bg); s.Ready != c.ready {
					t.Fatalf("ready %d, want %d", s.Ready, c.ready)
				}
				if k.prefix == "p" {
					h.q.Close()
					h = newPagingHarness(t, st, sp, k.durable, c.args, 3, nil) // recovery counts bytes too
					if s := h.q.Stats(bg); s.Ready != c.ready {
						t.Fatalf("ready after restart %d, want %d", s.Ready, c.ready)
					}
				}
				h.publishMixed(k.prefix + "100") // full: drops a head or is refused
				if d, _, _ := h.q.Get(true); string(d.Message.Body) != k.prefix+c.head {
					t.Fatalf("head %q, want %q", d.Message.Body, k.prefix+c.head)
				}
				dead, _ := h.deadLettered()
				if k.prefix == "p" {
					return // the restart dropped the harness that recorded them
				}
				if len(dead) != c.dead {
					t.Fatalf("dead-lettered %d, want %d", len(dead), c.dead)
				}
				if c.args["x-overflow"] == nil {
					for i, b := range dead {
						if b != k.prefix+strconv.Itoa(i) {
							t.Fatalf("dead-lettered %q at %d, want them in queue order", b, i)
						}
					}
				}
			})
		}
	}
}

// A spilled message's TTL counts from its publish, not from when it is
// read back; purge drops spilled messages, and delete removes the spill
// log.
func TestPagingSpilledTTLPurgeDelete(t *testing.T) {
	for _, durable := range []bool{true, false} {
		t.Run("durable="+strconv.FormatBool(durable), func(t *testing.T) {
			var st *store.Store
			if durable {
				st = openTestStore(t, t.TempDir(), nil)
			}
			sp := openSpillStore(t, t.TempDir())
			h := newPagingHarness(t, st, sp, durable, protocol.Table{"x-message-ttl": int32(1000)}, 2, nil)
			for i := range 10 {
				h.publish("old" + strconv.Itoa(i))
			}
			h.clock.Advance(500 * time.Millisecond)
			for i := range 10 {
				h.publish("new" + strconv.Itoa(i))
			}
			if m := h.q.Memory(); m.Spilled != 18 {
				t.Fatalf("memory %+v, want 18 spilled", m)
			}
			h.clock.Advance(600 * time.Millisecond)
			got := h.drain()
			if len(got) != 10 || got[0] != "new0" || got[9] != "new9" {
				t.Fatalf("after the first batch's TTL: %q, want new0..new9", got)
			}

			for i := range 10 {
				h.publish("purged" + strconv.Itoa(i))
			}
			if n, _ := h.q.Purge(bg); n != 10 {
				t.Fatalf("purged %d, want 10", n)
			}
			if m := h.q.Memory(); m != (MemoryStats{}) {
				t.Fatalf("memory after purge %+v", m)
			}
			h.publish("a", "b", "c", "d")
			if got := h.drain(); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
				t.Fatalf("after purge: %q", got)
			}

			h.publish("1", "2", "3", "4")
			if ids, _ := sp.IDs(); len(ids) != 1 {
				t.Fatalf("spill logs %v, want the queue's", ids)
			}
			if _, err := h.q.Delete(bg, false, false); err != nil {
				t.Fatal(err)
			}
			if ids, _ := sp.IDs(); len(ids) != 0 {
				t.Fatalf("spill logs %v after delete, want none", ids)
			}
		})
	}
}
