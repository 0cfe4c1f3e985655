package quorum

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/internal/crashcopy"
	"github.com/warrenmq/warren/queue/store"
)

// testWindow is the window the paging tests give a replica.
const testWindow = 64

// openPagingType opens a quorum type on dir with a window of testWindow
// bodies and snapshots every snapEvery entries.
func openPagingType(t *testing.T, dir string, snapEvery uint64) *Type {
	t.Helper()
	typ := openDiskType(t, dir)
	typ.window = testWindow
	typ.snapshotEvery = snapEvery
	return typ
}

// pagingBody is the body of message i, long enough that a mix-up shows.
func pagingBody(i int) string { return fmt.Sprintf("m%d-%0100d", i, i) }

// publishN publishes messages from..to-1; those for which high holds with
// priority 9.
func publishN(q *Queue, from, to int, high func(int) bool) {
	for i := from; i < to; i++ {
		m := &queue.Message{Body: []byte(pagingBody(i))}
		if high != nil && high(i) {
			m.Props.Priority = 9
		}
		q.Publish(m, queue.Confirm{})
	}
}

// checkWindow fails unless the replica holds at most the window's bodies
// in memory and the others in its page log, want in all.
func checkWindow(t *testing.T, q *Queue, want int) {
	t.Helper()
	mem, _, paged, _ := q.fsm.bodyStats()
	if mem > testWindow || mem+paged != want {
		t.Fatalf("%d bodies in memory (window %d) and %d paged; want %d in all", mem, testWindow, paged, want)
	}
}

// drainAll consumes n messages with prefetch 10, acking each, checking
// after every delivery that memory stays within the window, and returns
// the bodies in delivery order.
func drainAll(t *testing.T, q *Queue, n int) []string {
	t.Helper()
	o := newTestOwner()
	s := q.NewSession(o)
	t.Cleanup(s.Close)
	if _, err := s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "c", Prefetch: 10}, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	deadline := time.Now().Add(20 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered", len(got), n)
		}
		o.mu.Lock()
		acts := o.acts
		o.acts = nil
		o.mu.Unlock()
		var ids []uint64
		for _, a := range acts {
			if a.Kind == queue.ActionDeliver {
				got = append(got, string(a.Delivery.Message.Body))
				ids = append(ids, a.Delivery.ID)
			}
		}
		if len(ids) == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		if mem, _, _, _ := q.fsm.bodyStats(); mem > testWindow+10 {
			t.Fatalf("%d bodies in memory while draining, window %d and prefetch 10", mem, testWindow)
		}
		s.Settle(queue.Ack, ids, nil)
	}
	return got
}

// inOrder returns the bodies of from..to-1, high ones first.
func inOrder(from, to int, high func(int) bool) []string {
	var hi, lo []string
	for i := from; i < to; i++ {
		if high != nil && high(i) {
			hi = append(hi, pagingBody(i))
		} else {
			lo = append(lo, pagingBody(i))
		}
	}
	return append(hi, lo...)
}

// TestPagedBacklogDeliversInOrder: a backlog far past the window keeps
// at most the window in memory and the rest in the page log, and
// delivers every body in order with its content: high-priority messages,
// all past the window, first; a basic.get of one of them, read from the
// log, then requeued, comes back first.
func TestPagedBacklogDeliversInOrder(t *testing.T) {
	q := declareQueue(t, openPagingType(t, t.TempDir(), snapshotEvery))
	const n = 2000
	high := func(i int) bool { return i%97 == 50 }
	publishN(q, 0, n, high)
	waitReady(t, q, n)
	checkWindow(t, q, n)

	o := newTestOwner()
	s := q.NewSession(o)
	s.Get(false, nil)
	a := o.waitGet(t)
	if a.Kind != queue.ActionGetOK || string(a.Delivery.Message.Body) != pagingBody(50) {
		t.Fatalf("basic.get: %+v, want the first high-priority message", a)
	}
	s.Settle(queue.Requeue, []uint64{a.Delivery.ID}, nil)
	s.Close()
	waitReady(t, q, n)

	got := drainAll(t, q, n)
	if want := inOrder(0, n, high); !slices.Equal(got, want) {
		t.Fatalf("delivered out of order or damaged: first difference at %d", firstDiff(got, want))
	}
	deadline := time.Now().Add(5 * time.Second)
	for st := q.fsm.counts(); st.Unacked != 0; st = q.fsm.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("after acking everything: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	checkWindow(t, q, 0)
}

// firstDiff returns the first position where a and b differ.
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestPagedSnapshotRestore: snapshots taken while most bodies are paged
// carry them all: after a graceful stop the queue restores the window
// into memory and the rest into a fresh page log, and after a crash (a
// copy of its files) it restores the last snapshot and replays the log;
// either way every body comes back in order.
func TestPagedSnapshotRestore(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(map[bool]string{false: "graceful", true: "crash"}[crash], func(t *testing.T) {
			dir := t.TempDir()
			typ := openPagingType(t, dir, 256)
			q := declareQueue(t, typ)
			const n = 3000
			publishN(q, 0, n, nil)
			waitReady(t, q, n)
			waitSnapshots(t, q)
			checkWindow(t, q, n)
			if crash {
				crashed := t.TempDir()
				crashcopy.Copy(t, dir, crashed)
				dir = crashed
			} else {
				q.Close()
				typ.Close()
			}
			q = declareQueue(t, openPagingType(t, dir, 256))
			waitReady(t, q, n)
			checkWindow(t, q, n)
			if got, want := drainAll(t, q, n), inOrder(0, n, nil); !slices.Equal(got, want) {
				t.Fatalf("restored bodies out of order or damaged: first difference at %d", firstDiff(got, want))
			}
		})
	}
}

// TestOldUnackedPinsNothing: one message delivered and never acked, with
// thousands published and acked after it, leaves neither memory nor the
// page log's disk growing: each body goes as its message does.
func TestOldUnackedPinsNothing(t *testing.T) {
	old := pageSegmentSize
	pageSegmentSize = 256 << 10
	t.Cleanup(func() { pageSegmentSize = old })
	q := declareQueue(t, openPagingType(t, t.TempDir(), snapshotEvery))

	o := newTestOwner()
	s := q.NewSession(o)
	t.Cleanup(s.Close)
	if _, err := s.Consume(nopConsumer{}, queue.ConsumeOptions{Tag: "c", Prefetch: 1000}, nil); err != nil {
		t.Fatal(err)
	}
	publishN(q, 0, 1, nil)
	o.waitDelivered(t, pagingBody(0)) // m0 stays unacked
	o.mu.Lock()
	o.acts = nil
	o.mu.Unlock()

	const rounds, per = 20, 500 // 10,000 bodies of ~110 bytes through a window of 64
	var maxDisk int64
	acked := 0
	for r := range rounds {
		publishN(q, 1+r*per, 1+(r+1)*per, nil)
		deadline := time.Now().Add(20 * time.Second)
		for acked < (r+1)*per {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d acked", r, acked)
			}
			o.mu.Lock()
			acts := o.acts
			o.acts = nil
			o.mu.Unlock()
			var ids []uint64
			for _, a := range acts {
				if a.Kind == queue.ActionDeliver {
					ids = append(ids, a.Delivery.ID)
				}
			}
			acked += len(ids)
			s.Settle(queue.Ack, ids, nil)
			mem, _, _, disk := q.fsm.bodyStats()
			maxDisk = max(maxDisk, disk)
			if mem > testWindow {
				t.Fatalf("%d bodies in memory, window %d", mem, testWindow)
			}
			if len(ids) == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := q.fsm.counts(); st.Unacked != 1 || st.Ready != 0; st = q.fsm.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("after acking all but the first: %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	mem, memBytes, paged, disk := q.fsm.bodyStats()
	if mem != 1 || memBytes != int64(len(pagingBody(0))) || paged != 0 {
		t.Fatalf("one unacked message left: %d bodies (%d bytes) in memory, %d paged", mem, memBytes, paged)
	}
	// 10,000 bodies of ~110 bytes are 1.1 MB: the log never held more
	// than a few of its 256 KiB segments.
	if maxDisk > 1<<20 || disk > 512<<10 {
		t.Fatalf("page log took up to %d bytes on disk, %d at the end", maxDisk, disk)
	}
	t.Logf("page log: at most %d bytes on disk, %d at the end", maxDisk, disk)
}

// TestSnapshotKeepsBodiesSettledWhilePersisting: bodies that leave the
// queue, or are read back into the window, after a snapshot was taken and
// before it is written are still in it: the page log holds their settles
// back until the snapshot is released, and the forward Reader skips the
// held records of bodies gone.
func TestSnapshotKeepsBodiesSettledWhilePersisting(t *testing.T) {
	st, err := openPages(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	next := 0
	open := func() (*store.Log, error) {
		next++
		l, _, err := st.OpenLog(fmt.Sprint("p-", next), store.LogOptions{})
		return l, err
	}
	b := newBodies(open, zap.NewNop())
	b.maxMsgs = 4
	const n = 20
	for i := range n {
		b.put(uint64(i+1)<<10, &queue.Message{Body: []byte(pagingBody(i))})
	}
	b.refill()
	if len(b.mem) != 4 || b.pl.paged != n-4 {
		t.Fatalf("%d in memory, %d paged; want 4 and %d", len(b.mem), b.pl.paged, n-4)
	}
	take := func() *snapshot {
		s := &snapshot{state: &memSpool{}}
		s.index, s.msgs = b.window()
		pl := b.pl
		s.paged = &pagedView{pl: pl, from: pl.fwd.Position(), end: pl.end, n: pl.paged, skip: pl.hold()}
		return s
	}
	s := take()
	// While it persists: the first two leave, two paged ones leave, and
	// the window refills from the log.
	b.drop([]uint64{1 << 10, 2 << 10, 10 << 10, 11 << 10})
	b.refill()
	if len(b.mem) != 4 || b.pl.paged != n-4-2-2 {
		t.Fatalf("after the drops: %d in memory, %d paged", len(b.mem), b.pl.paged)
	}
	s2 := take() // a second snapshot, while the first holds the settles
	var buf bytes.Buffer
	if err := s.write(&buf); err != nil {
		t.Fatal(err)
	}
	s.Release()
	var buf2 bytes.Buffer
	if err := s2.write(&buf2); err != nil {
		t.Fatal(err)
	}
	s2.Release()
	for _, c := range []struct {
		buf  *bytes.Buffer
		want []int
	}{
		{&buf, seq(0, n)},
		{&buf2, slices.DeleteFunc(seq(0, n), func(i int) bool { return i < 2 || i == 9 || i == 10 })},
	} {
		got := readBodies(t, c.buf.Bytes())
		var want []string
		for _, i := range c.want {
			want = append(want, pagingBody(i))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("snapshot holds %d bodies %q…, want %d", len(got), got[:min(3, len(got))], len(want))
		}
	}
	// Released, the held settles are written: the forward Reader and
	// the log agree on what is left.
	for b.pl.paged > 0 {
		b.maxMsgs += 4
		b.refill()
	}
	if len(b.mem) != n-4 {
		t.Fatalf("%d bodies in memory at the end, want %d", len(b.mem), n-4)
	}
	b.close()
}

// seq returns from..to-1.
func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// readBodies decodes the bodies of a snapshot with an empty state.
func readBodies(t *testing.T, snap []byte) []string {
	t.Helper()
	br := byteReader{r: bufio.NewReader(bytes.NewReader(snap))}
	br.field() // the state
	var out []string
	for n := br.uvarint(); n > 0 && br.err == nil; n-- {
		br.uvarint()
		m, err := queue.DecodeMessage(br.field())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(m.Body))
	}
	if br.err != nil {
		t.Fatal(br.err)
	}
	return out
}
