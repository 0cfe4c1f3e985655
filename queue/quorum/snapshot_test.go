package quorum

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// A snapshot's bodies read back as written, each its own copy (Restore
// reads every body through one buffer), and a damaged body count fails
// the restore rather than allocating what it claims.
func TestSnapshotBodiesRoundTrip(t *testing.T) {
	st := fifo.NewState(fifo.Config{})
	state := st.Snapshot()
	s := snapshot{state: &memSpool{}, stateLen: int64(len(state))}
	s.state.Write(state)
	for i, size := range []int{3000, 10, 0, 70000, 5} {
		s.index = append(s.index, uint64(i+1)<<10)
		s.msgs = append(s.msgs, &queue.Message{Exchange: "x", RoutingKey: fmt.Sprint(i),
			Body: bytes.Repeat([]byte{byte('a' + i)}, size)})
	}
	var buf bytes.Buffer
	if err := s.write(&buf); err != nil {
		t.Fatal(err)
	}
	b := newBodies(nil, zap.NewNop())
	_, err := readSnapshot(bytes.NewReader(buf.Bytes()), b)
	if err != nil {
		t.Fatal(err)
	}
	if b.len() != len(s.msgs) {
		t.Fatalf("%d bodies restored, want %d", b.len(), len(s.msgs))
	}
	for i, idx := range s.index {
		got, want := b.get(idx), s.msgs[i]
		if got == nil || !bytes.Equal(got.Body, want.Body) || got.RoutingKey != want.RoutingKey {
			t.Fatalf("body at %d: %+v, want %+v", idx, got, want)
		}
	}

	// The same state claiming 2^60 bodies, and holding none.
	bad := binary.AppendUvarint(nil, uint64(len(state)))
	bad = append(bad, state...)
	bad = binary.AppendUvarint(bad, 1<<60)
	if _, err := readSnapshot(bytes.NewReader(bad), newBodies(nil, zap.NewNop())); !errors.Is(err, fifo.ErrCorrupt) {
		t.Fatalf("snapshot claiming 2^60 bodies: %v, want ErrCorrupt", err)
	}
}
