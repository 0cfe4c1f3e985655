package classic

import (
	"testing"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/queuetest"
)

// TestConformance runs the queue-type conformance suite against classic
// queues kept in memory and on the store, and against classic queues
// reached as if on another node (queuetest.Late), which proves the suite
// waits for late answers rather than expecting them at once.
func TestConformance(t *testing.T) {
	t.Run("in memory", func(t *testing.T) {
		typ, err := OpenType(TypeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		queuetest.Run(t, typ)
	})
	t.Run("answering late", func(t *testing.T) {
		typ, err := OpenType(TypeConfig{})
		if err != nil {
			t.Fatal(err)
		}
		queuetest.Run(t, &queuetest.Late{Inner: typ})
	})
	t.Run("durable", func(t *testing.T) {
		typ, err := OpenType(TypeConfig{Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		// Queues close (harness cleanups) before their type.
		t.Cleanup(func() { typ.Close() })
		queuetest.Run(t, durableOnly{typ})
	})
}

// durableOnly declares every queue durable, so that persistent state goes
// through the store.
type durableOnly struct{ *Type }

func (d durableOnly) Capabilities() queue.Capabilities {
	c := d.Type.Capabilities()
	c.NonDurable = false
	return c
}
