package quorum

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
	"github.com/warrenmq/warren/queue/quorum/internal/crashcopy"
)

// restartDecl is the queue the restart tests fill.
var restartDecl = queue.Declaration{VHost: "/", Name: "q", Durable: true}

// openDiskType opens a quorum type on dir, closed when the test ends.
func openDiskType(t *testing.T, dir string) *Type {
	t.Helper()
	typ, err := OpenType(Config{Node: "queuetest@node", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { typ.Close() })
	return typ
}

// declareQueue declares restartDecl on typ, closed when the test ends.
func declareQueue(t *testing.T, typ *Type) *Queue {
	t.Helper()
	q, err := typ.Declare(context.Background(), restartDecl, queue.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q.(*Queue)
}

// fill publishes n messages, numbered from 0, and waits until the
// replica applied them all and any snapshot they asked for is written.
func fill(t *testing.T, q *Queue, n int) {
	t.Helper()
	for i := range n {
		q.Publish(&queue.Message{Body: fmt.Appendf(nil, "m%d", i)}, queue.Confirm{})
	}
	waitReady(t, q, n)
	waitSnapshots(t, q)
}

// waitSnapshots waits until any snapshot the commands applied so far
// asked for is written.
func waitSnapshots(t *testing.T, q *Queue) {
	t.Helper()
	// Once a later command is applied, every Apply of the fill has
	// returned, so a snapshot any of them asked for is under way or was
	// taken; none is due once the last one ends.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := q.call(ctx, fifo.Touch{Now: now()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for q.snap.Load() || q.fsm.snapshotDue() {
		if time.Now().After(deadline) {
			t.Fatal("snapshot still running after 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitReady waits until the replica counts n ready messages.
func waitReady(t *testing.T, q *Queue, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for int(q.Stats(context.Background()).Ready) != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d ready, want %d", q.Stats(context.Background()).Ready, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkHead gets one message and checks it is the first published.
func checkHead(t *testing.T, q *Queue) {
	t.Helper()
	o := newTestOwner()
	s := q.NewSession(o)
	defer s.Close()
	s.Get(true, nil)
	a := o.waitGet(t)
	if a.Kind != queue.ActionGetOK || string(a.Delivery.Message.Body) != "m0" {
		t.Fatalf("basic.get after the restart: %+v", a)
	}
}

// A queue stopped gracefully comes back from the snapshot taken as it
// stopped: once its declare returns it holds every message, with nothing
// left to replay before it serves.
func TestRestartAfterCloseRestoresSnapshot(t *testing.T) {
	dir := t.TempDir()
	typ := openDiskType(t, dir)
	q := declareQueue(t, typ)
	const n = 3000 // above closeSnapshotMin, below snapshotEvery
	fill(t, q, n)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := typ.Close(); err != nil {
		t.Fatal(err)
	}

	q = declareQueue(t, openDiskType(t, dir))
	if got := q.Stats(context.Background()).Ready; got != n {
		t.Fatalf("declared after a graceful stop: %d ready, want all %d restored", got, n)
	}
	checkHead(t, q)
}

// A queue that only grows snapshots each time it doubles, so after a
// crash (a copy of its files, as kill -9 leaves them) it restores at least
// half its messages from a snapshot and replays the rest, never the whole
// queue; it keeps only its latest snapshot on disk. The fewest entries
// between snapshots is lowered to 256.
func TestGrowingQueueSnapshotsAsItDoubles(t *testing.T) {
	dir := t.TempDir()
	typ := openDiskType(t, dir)
	typ.snapshotEvery = 256
	q := declareQueue(t, typ)
	const n = 5000
	fill(t, q, n)
	waitUntil(t, "only the latest snapshot kept", func() bool {
		snaps, err := os.ReadDir(filepath.Join(typ.snapDir(q.group), "snapshots"))
		return err == nil && len(snaps) == 1
	})
	crashed := t.TempDir()
	crashcopy.Copy(t, dir, crashed)

	typ = openDiskType(t, crashed)
	typ.snapshotEvery = 256
	q = declareQueue(t, typ)
	if got := q.Stats(context.Background()).Ready; got < n/2 || got > n {
		t.Fatalf("declared after a crash: %d ready from the snapshot, want at least %d", got, n/2)
	}
	waitReady(t, q, n)
	checkHead(t, q)
}
