package fifo

import (
	"bytes"
	"io"
	"runtime"
	"testing"
)

// TestDequeMatchesSlice: pushes and pops across chunk boundaries keep
// every header field, as a plain slice does, including after clear.
func TestDequeMatchesSlice(t *testing.T) {
	var d deque
	var model []msg
	next := uint64(1)
	push := func() {
		m := msg{index: next, size: uint32(next % 977), expiry: never}
		switch next % 5 {
		case 1:
			m.expiry = int64(next) * 3
		case 2:
			m.count, m.acquired, m.high = uint32(next%4), uint32(next%3)+1, true
		}
		next++
		d.push(m)
		model = append(model, m)
	}
	check := func(when string) {
		t.Helper()
		if d.len() != len(model) {
			t.Fatalf("%s: len %d, want %d", when, d.len(), len(model))
		}
		for i, want := range model {
			if got := d.at(i); got != want {
				t.Fatalf("%s: at(%d) = %+v, want %+v", when, i, got, want)
			}
		}
	}
	for round := range 3 {
		for range 3*chunkLen + 17 {
			push()
		}
		check("after pushes")
		for range chunkLen + 5 + round*chunkLen {
			if got := d.pop(); got != model[0] {
				t.Fatalf("pop = %+v, want %+v", got, model[0])
			}
			model = model[1:]
		}
		check("after pops")
	}
	for d.len() > 0 {
		if got := d.pop(); got != model[0] {
			t.Fatalf("pop = %+v, want %+v", got, model[0])
		}
		model = model[1:]
	}
	if len(d.chunks) != 0 {
		t.Fatalf("an empty deque keeps %d chunks", len(d.chunks))
	}
	for range 10 {
		push()
	}
	d.clear()
	model = nil
	push()
	check("after clear")
}

// TestHeaderMemory: a backlog of plain messages costs about 12 bytes of
// heap a message in the state (index and size), with no doubling slack.
func TestHeaderMemory(t *testing.T) {
	const n = 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewState(defaultCfg())
	for i := uint64(1); i <= n; i++ {
		s.Apply(i, Enqueue{Size: 1024, TTL: -1, Now: 1})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes of heap per message", per)
	if s.Ready() != n || per > 13 {
		t.Fatalf("%d messages ready, %.1f bytes each; want %d at most 13", s.Ready(), per, n)
	}
	runtime.KeepAlive(s)
}

// TestWriteSnapshotLarge: a state much larger than WriteSnapshot's buffer
// streams to the same bytes as Snapshot, through a writer that takes a
// few bytes at a time, and restores.
func TestWriteSnapshotLarge(t *testing.T) {
	q := newQ(t, Config{DeliveryLimit: 5, DeadLetter: AtLeastOnce})
	c := cid(chA, "c")
	q.do(Checkout{Consumer: c, Prefetch: 100, Now: 1})
	for i := range 3 * chunkLen * 10 {
		q.do(Enqueue{Size: uint32(i), TTL: int64(i%3) - 1, Priority: uint8(i % 9), Now: 2})
	}
	q.do(Return{Consumer: c, IDs: []uint64{3, 4, 5}, Now: 3})
	want := q.s.Snapshot()
	if len(want) < 4*snapshotChunk {
		t.Fatalf("snapshot of %d bytes is too small for the test", len(want))
	}
	var got bytes.Buffer
	n, err := q.s.WriteSnapshot(smallWriter{&got})
	if err != nil || n != int64(len(want)) || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("WriteSnapshot: %d bytes, %v; differs from Snapshot's %d", n, err, len(want))
	}
	r, err := Restore(got.Bytes())
	if err != nil || !bytes.Equal(r.Snapshot(), want) {
		t.Fatalf("restore: %v", err)
	}
	if _, err := q.s.WriteSnapshot(failWriter{}); err != io.ErrShortWrite {
		t.Fatalf("a failing writer: %v", err)
	}
}

// smallWriter writes what it is given in pieces of at most 1000 bytes.
type smallWriter struct{ w io.Writer }

func (s smallWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 1000)
		m, err := s.w.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }
