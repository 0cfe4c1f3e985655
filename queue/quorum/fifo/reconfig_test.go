package fifo

import (
	"testing"
	"time"

	"github.com/warrenmq/warren/queue"
)

// TestUpdateConfig: a new configuration applies at once and the same one
// again changes nothing: a lower max-length drops the head (dead-lettered
// with a dead-letter exchange), a message TTL applies to what is enqueued
// after it, and lifting the limit lets the queue grow again.
func TestUpdateConfig(t *testing.T) {
	q := newQ(t, defaultCfg())
	for i := range 5 {
		q.put(10, int64(i))
	}
	args := queue.Args{Type: queue.TypeQuorum, MaxLength: 2, HasMaxLength: true,
		DeadLetterExchange: "dlx", HasDeadLetterExchange: true}
	cfg := ConfigFromArgs(args, "", 99)
	_, effs := q.do(UpdateConfig{Config: cfg, Now: 10})
	if dead := deadOf(effs); len(dead) != 3 || dead[0].Index != 1 || dead[0].Reason != queue.MaxLen {
		t.Fatalf("dead-lettered %+v, want the three oldest", dead)
	}
	if q.s.Ready() != 2 || q.s.Config().Created != 0 || q.s.Config().MaxLength != 2 {
		t.Fatalf("ready %d, config %+v", q.s.Ready(), q.s.Config())
	}
	if _, effs := q.do(UpdateConfig{Config: cfg, Now: 11}); len(effs) != 0 || q.s.Ready() != 2 {
		t.Fatalf("the same config again: %+v", effs)
	}
	args.MessageTTL, args.HasMessageTTL = 5*time.Millisecond, true
	q.do(UpdateConfig{Config: ConfigFromArgs(args, "", 0), Now: 12})
	q.do(Purge{Now: 13})
	q.put(1, 20)
	if _, effs := q.do(Tick{Now: 30}); len(deadOf(effs)) != 1 || q.s.Ready() != 0 {
		t.Fatalf("after the TTL: ready %d, effects %+v", q.s.Ready(), effs)
	}
	q.do(UpdateConfig{Config: defaultCfg(), Now: 31})
	for i := range 4 {
		q.put(1, int64(40+i))
	}
	if q.s.Ready() != 4 {
		t.Fatalf("without the limit: ready %d", q.s.Ready())
	}
}

// TestUpdateConfigLeavesAtLeastOnce: dead-lettered messages waiting for
// their targets are dropped when the strategy is no longer at least once.
func TestUpdateConfigLeavesAtLeastOnce(t *testing.T) {
	args := queue.Args{Type: queue.TypeQuorum, MaxLength: 1, HasMaxLength: true, Overflow: queue.RejectPublish,
		DeadLetterExchange: "dlx", HasDeadLetterExchange: true}
	q := newQ(t, ConfigFromArgs(args, "at-least-once", 0))
	q.put(3, 3)
	id := cid(chA, "c")
	q.do(Checkout{Consumer: id, Now: 4})
	q.do(Discard{Consumer: id, IDs: []uint64{0}, Now: 5})
	if len(q.s.dlx) != 1 {
		t.Fatalf("pending dead-letters %d", len(q.s.dlx))
	}
	q.do(UpdateConfig{Config: ConfigFromArgs(args, "at-most-once", 0), Now: 6})
	if len(q.s.dlx) != 0 || q.s.dlxBytes != 0 || q.s.Config().DeadLetter != AtMostOnce {
		t.Fatalf("pending %d (%d bytes), strategy %v", len(q.s.dlx), q.s.dlxBytes, q.s.Config().DeadLetter)
	}
}
