package classic

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// windowConfirmer is a publisher's confirm window: Publish takes a slot,
// the confirm gives it back.
type windowConfirmer struct {
	slots chan struct{}
	bad   chan uint64
}

func (w *windowConfirmer) Confirmed(seq uint64, ok bool) {
	if !ok {
		select {
		case w.bad <- seq:
		default:
		}
	}
	<-w.slots
}

// takingConsumer takes every delivery; the benchmark acks what it took.
type takingConsumer struct {
	mu  sync.Mutex
	ids []uint64
}

func (c *takingConsumer) Deliver(d queue.Delivery) {
	c.mu.Lock()
	c.ids = append(c.ids, d.ID)
	c.mu.Unlock()
}

func (c *takingConsumer) Cancelled() {}

func (c *takingConsumer) take(buf []uint64) []uint64 {
	c.mu.Lock()
	buf = append(buf[:0], c.ids...)
	c.ids = c.ids[:0]
	c.mu.Unlock()
	return buf
}

func persistentMsg(size int) *queue.Message {
	return &queue.Message{Exchange: "x", RoutingKey: "k", Body: make([]byte, size), Timestamp: time.Now(),
		Props: protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 2}}
}

// BenchmarkDurablePublishConfirm is one publisher with a confirm window of
// 1000 publishing persistent messages into a durable queue on a real disk,
// a consumer taking them inline and acking every one: each message is
// appended, fsynced (group commit), confirmed and settled.
func BenchmarkDurablePublishConfirm(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			st := openTestStore(b, b.TempDir(), nil)
			q, err := New("bench", Options{VHost: "/", Durable: true}, Env{Store: st})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			c := &takingConsumer{}
			if err := q.Consume(c, queue.ConsumeOptions{Tag: "c"}); err != nil {
				b.Fatal(err)
			}
			w := &windowConfirmer{slots: make(chan struct{}, 1000), bad: make(chan uint64, 1)}
			m := persistentMsg(size)
			var ids []uint64
			var seq uint64
			b.ReportAllocs()
			b.SetBytes(int64(size))
			start := time.Now()
			for b.Loop() {
				seq++
				w.slots <- struct{}{}
				q.Publish(m, queue.Confirm{To: w, Seq: seq})
				if seq%16 == 0 {
					ids = c.take(ids)
					q.Settle(queue.Ack, ids)
				}
			}
			for range cap(w.slots) {
				w.slots <- struct{}{}
			}
			b.ReportMetric(float64(seq)/time.Since(start).Seconds(), "msg/s")
			q.Settle(queue.Ack, c.take(ids))
			select {
			case s := <-w.bad:
				b.Fatalf("publish %d nacked", s)
			default:
			}
			if s := q.Stats(bg); s.Ready != 0 || s.Unacked != 0 {
				b.Fatalf("stats after the run: %+v", s)
			}
		})
	}
}

// TestBacklogMemory publishes a large backlog of 1 KiB persistent messages
// with no consumer, reports heap and RSS, then drains it with acks and
// reports the rate. It writes the whole backlog to disk, so it runs only
// when WARREN_BACKLOG gives the message count:
//
//	WARREN_BACKLOG=1000000 go test -run BacklogMemory -v ./queue/classic/
func TestBacklogMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WARREN_BACKLOG"))
	if n <= 0 {
		t.Skip("set WARREN_BACKLOG to the number of messages")
	}
	dir := os.Getenv("WARREN_BACKLOG_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	q, err := New("backlog", Options{VHost: "/", Durable: true}, Env{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	w := &windowConfirmer{slots: make(chan struct{}, 1000), bad: make(chan uint64, 1)}
	start := time.Now()
	for i := range n {
		w.slots <- struct{}{}
		q.Publish(persistentMsg(1024), queue.Confirm{To: w, Seq: uint64(i + 1)}) // a new message each, as the broker's

	}
	for range cap(w.slots) {
		w.slots <- struct{}{}
	}
	pub := time.Since(start)
	heap, rss := memory()
	t.Logf("published %d x 1 KiB confirmed in %v: %.0f msg/s; heap in use %d MiB, RSS %d MiB; memory %+v",
		n, pub.Round(time.Millisecond), float64(n)/pub.Seconds(), heap>>20, rss>>20, q.Memory())
	if rss > 512<<20 {
		t.Errorf("RSS %d MiB over 512 MiB", rss>>20)
	}

	start = time.Now()
	ids := make([]uint64, 0, 100)
	var maxRSS uint64
	for i := range n {
		d, _, ok := q.Get(false)
		if !ok {
			t.Fatalf("queue empty after %d", i)
		}
		ids = append(ids, d.ID)
		if len(ids) == cap(ids) {
			q.Settle(queue.Ack, ids)
			ids = ids[:0]
		}
		if i%(n/10+1) == 0 {
			_, r := memory()
			maxRSS = max(maxRSS, r)
		}
	}
	q.Settle(queue.Ack, ids)
	drain := time.Since(start)
	t.Logf("drained with acks in %v: %.0f msg/s; max RSS while draining %d MiB; disk left %d bytes",
		drain.Round(time.Millisecond), float64(n)/drain.Seconds(), maxRSS>>20, q.dlog.DiskSize())
	q.Close()
}

// memory returns the heap in use after a GC and the process's RSS.
func memory() (heap, rss uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f, err := os.Open("/proc/self/status")
	if err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapInuse, rss
}
