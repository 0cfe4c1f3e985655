package quorum

import (
	"testing"

	"github.com/warrenmq/warren/queue/queuetest"
)

// TestConformance runs the queue-type conformance suite against quorum
// queues kept in memory and on a WAL: groups of one on this node.
func TestConformance(t *testing.T) {
	t.Run("in memory", func(t *testing.T) {
		typ, err := OpenType(Config{Node: "queuetest@node"})
		if err != nil {
			t.Fatal(err)
		}
		queuetest.Run(t, typ)
	})
	t.Run("on disk", func(t *testing.T) {
		typ, err := OpenType(Config{Node: "queuetest@node", Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { typ.Close() })
		queuetest.Run(t, typ)
	})
}
