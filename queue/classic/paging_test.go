package classic

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
)

// A large backlog keeps only the window in memory, publishing and
// draining, and comes out complete and in order.
func TestPagingBoundsMemory(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	const window = 1000
	st := openTestStore(t, t.TempDir(), nil)
	h := newDurableHarness(t, st, nil, window, nil)
	body := make([]byte, 100)
	check := func(when string, i int) {
		m := h.q.Memory()
		if m.Window > window+1 || m.WindowBytes > int64(window*len(body)) || m.Tail != 0 {
			t.Fatalf("%s %d: memory %+v, window %d", when, i, m, window)
		}
	}
	for i := range n {
		m := h.pmsg("", "")
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
	if m := h.q.Memory(); m.Paged < n-window-1 {
		t.Fatalf("only %d of %d paged", m.Paged, n)
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
}

// Transient and persistent messages, requeues and restarts keep their
// order through paging: a model (a plain slice) says what the queue must
// hold at every step.
func TestPagingKeepsOrderModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			st := openTestStore(t, t.TempDir(), nil)
			h := newDurableHarness(t, st, nil, 1+rng.IntN(8), nil)
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
						if b[0] == 'p' {
							kept = append(kept, trim(b)+"*")
						}
					}
					model = kept
					slices.SortFunc(model, func(a, b string) int {
						return order[trim(a)] - order[trim(b)]
					})
					h.q.Close()
					h = newDurableHarness(t, st, nil, 1+rng.IntN(8), nil)
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

// Length limits count the paged messages.
func TestPagingLengthLimits(t *testing.T) {
	cases := []struct {
		name  string
		args  protocol.Table
		ready uint32
		head  string // after one more publish
	}{
		{"max-length drop-head", protocol.Table{"x-max-length": int32(10)}, 10, "p91"},
		{"max-length reject", protocol.Table{"x-max-length": int32(10), "x-overflow": "reject-publish"}, 10, "p0"},
		{"max-length-bytes", protocol.Table{"x-max-length-bytes": int32(30)}, 10, "p92"}, // p100 is 4 bytes
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := openTestStore(t, t.TempDir(), nil)
			h := newDurableHarness(t, st, c.args, 3, nil)
			for i := range 100 {
				h.publishMixed("p" + strconv.Itoa(i))
			}
			if s := h.q.Stats(bg); s.Ready != c.ready {
				t.Fatalf("ready %d, want %d", s.Ready, c.ready)
			}
			h.q.Close()
			h = newDurableHarness(t, st, c.args, 3, nil) // recovery counts bytes too
			if s := h.q.Stats(bg); s.Ready != c.ready {
				t.Fatalf("ready after restart %d, want %d", s.Ready, c.ready)
			}
			h.publishMixed("p100") // full: drops a head or is refused
			if d, _, _ := h.q.Get(true); string(d.Message.Body) != c.head {
				t.Fatalf("head %q, want %q", d.Message.Body, c.head)
			}
		})
	}
}
