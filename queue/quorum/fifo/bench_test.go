package fifo

import "testing"

// BenchmarkEnqueueDeliverSettle applies, per message, an Enqueue (delivered
// at once to a consumer with credit) and the Settle of its delivery: the
// steady state of a queue keeping up. The commands are built before the
// timer starts, as a replica gets them decoded, so the allocations
// reported are Apply's own, per message.
func BenchmarkEnqueueDeliverSettle(b *testing.B) {
	s := NewState(Config{DeliveryLimit: DefaultDeliveryLimit})
	c := cid(chA, "c")
	s.Apply(1, Checkout{Consumer: c, Prefetch: 1000})
	cmds := make([]Command, 0, 2*b.N)
	for i := range b.N {
		cmds = append(cmds, Enqueue{From: pubA, Seq: uint64(i + 1), Size: 16, TTL: -1, Now: int64(i)},
			Settle{Consumer: c, IDs: []uint64{uint64(i)}, Now: int64(i)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		idx := uint64(2*i + 2)
		_, effs := s.Apply(idx, cmds[2*i])
		if len(effs) != 1 || effs[0].Deliveries[0].ID != uint64(i) {
			b.Fatalf("effects %v", effs)
		}
		s.Apply(idx+1, cmds[2*i+1])
	}
	b.StopTimer()
	if s.CheckedOut() != 0 || s.Ready() != 0 {
		b.Fatalf("left: %d checked out, %d ready", s.CheckedOut(), s.Ready())
	}
}

// BenchmarkEnqueueBacklog applies Enqueues to a queue without consumers:
// the cost of building a backlog (the ring buffer's growth included).
func BenchmarkEnqueueBacklog(b *testing.B) {
	s := NewState(Config{DeliveryLimit: DefaultDeliveryLimit})
	cmds := make([]Command, b.N)
	for i := range cmds {
		cmds[i] = Enqueue{From: pubA, Seq: uint64(i + 1), Size: 16, TTL: -1, Now: int64(i)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i, cmd := range cmds {
		s.Apply(uint64(i+1), cmd)
	}
}
