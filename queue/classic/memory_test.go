package classic

import (
	"runtime"
	"testing"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// liveHeap is the heap in use after two collections.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// brokerRaw are the raw properties every brokerMessage shares.
var brokerRaw = (&protocol.Properties{Flags: protocol.FlagDeliveryMode, DeliveryMode: 1}).Append(nil)

// brokerMessage builds a transient message as the broker's publish path
// does for a publisher that repeats its properties (delivery mode 1): the
// raw properties shared, the body in a buffer of its own, exchange and
// routing key shared by every message.
func brokerMessage(size int) *queue.Message {
	m := &queue.Message{Exchange: "", RoutingKey: "q", RawProps: brokerRaw, Body: make([]byte, size)}
	m.Props.Decode(m.RawProps)
	return m
}

// TestQueuedMessageMemory measures what a queued transient 1 KiB message
// costs the heap in a queue without consumers, message included, through
// the queue API, and keeps it within its bound.
func TestQueuedMessageMemory(t *testing.T) {
	const n, size, window = 20_000, 1024, 1000
	for _, tc := range []struct {
		name    string
		durable bool
		store   bool
		max     int64 // bytes per message
	}{
		// In memory: the message (288 bytes), its body, and its entry in
		// the ready ring (40 bytes, in a ring up to twice as long).
		{"in memory", true, false, size + 400},
		// Past the window, a message is a spill record on disk.
		{"non-durable, node with a data dir", false, true, size*window/n + 256},
		{"durable, node with a data dir", true, true, size*window/n + 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st, sp *store.Store
			if tc.store {
				st = openTestStore(t, t.TempDir(), nil)
				sp = openSpillStore(t, t.TempDir())
			}
			q, err := New("q", Options{VHost: "/", Durable: tc.durable}, Env{Store: st, Spill: sp, WindowMessages: window})
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			before := liveHeap()
			for range n {
				q.Publish(brokerMessage(size), queue.Confirm{})
			}
			per := (liveHeap() - before) / int64(n)
			runtime.KeepAlive(q)
			if s := q.Stats(bg); s.Ready != uint32(n) {
				t.Fatalf("stats %+v, want %d ready", s, n)
			}
			t.Logf("%s: %d bytes of heap per queued transient %d B message (window %d of %d)", tc.name, per, size, window, n)
			if per > tc.max {
				t.Errorf("a queued %d B message costs %d bytes, want <= %d", size, per, tc.max)
			}
		})
	}
}
