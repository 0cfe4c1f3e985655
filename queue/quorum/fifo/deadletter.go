package fifo

import (
	"slices"

	"github.com/warrenmq/warren/queue"
)

// deadExpired is the dead-letter reason of an expired message.
const deadExpired = queue.Expired

// deadLetter disposes of m, which left the queue for reason, by the
// queue's strategy: dropped, handed to the leader at once (at most once),
// or held until DeadLetterSettled (at least once).
func (s *State) deadLetter(reason queue.Reason, m msg) {
	d := DeadMessage{Index: m.index, Size: m.size, DeliveryCount: m.count, Reason: reason}
	switch s.cfg.DeadLetter {
	case AtMostOnce:
		s.addDead(d, false)
	case AtLeastOnce:
		s.dlx[d.Index] = d
		s.dlxBytes += uint64(d.Size)
		s.addDead(d, true)
		return
	}
	s.left = append(s.left, m.index)
}

// deadLetterSettled drops the at-least-once dead-letters at indexes.
func (s *State) deadLetterSettled(indexes []uint64) {
	for _, idx := range indexes {
		if d, ok := s.dlx[idx]; ok {
			delete(s.dlx, idx)
			s.dlxBytes -= uint64(d.Size)
			s.left = append(s.left, idx)
		}
	}
}

// dlxIndexes returns the indexes of the pending dead-letters, sorted.
func (s *State) dlxIndexes() []uint64 {
	idx := make([]uint64, 0, len(s.dlx))
	for i := range s.dlx {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}
