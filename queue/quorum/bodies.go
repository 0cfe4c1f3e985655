package quorum

import (
	"slices"

	"github.com/warrenmq/warren/queue"
)

// bodies holds the messages of a replica by the Raft index that enqueued
// them, in increasing index order: the state machine keeps only headers
// and refers to a body by its index. Bodies below the state's LiveFrom are
// dropped from the front; a body settled out of order stays until the
// front passes it.
type bodies struct {
	index []uint64
	msgs  []*queue.Message
	head  int
	bytes int64 // body bytes held
}

// put adds the message enqueued at index, which is above every index held.
func (b *bodies) put(index uint64, m *queue.Message) {
	b.index = append(b.index, index)
	b.msgs = append(b.msgs, m)
	b.bytes += int64(len(m.Body))
}

// get returns the message enqueued at index, or nil.
func (b *bodies) get(index uint64) *queue.Message {
	i, ok := slices.BinarySearch(b.index[b.head:], index)
	if !ok {
		return nil
	}
	return b.msgs[b.head+i]
}

// dropBelow drops every body enqueued below index.
func (b *bodies) dropBelow(index uint64) {
	for b.head < len(b.index) && b.index[b.head] < index {
		b.bytes -= int64(len(b.msgs[b.head].Body))
		b.msgs[b.head] = nil
		b.head++
	}
	if b.head == len(b.index) {
		b.index, b.msgs, b.head = b.index[:0], b.msgs[:0], 0
		return
	}
	if b.head > 1024 && b.head > len(b.index)/2 {
		n := copy(b.index, b.index[b.head:])
		copy(b.msgs, b.msgs[b.head:])
		clear(b.msgs[n:])
		b.index, b.msgs, b.head = b.index[:n], b.msgs[:n], 0
	}
}

// len returns how many bodies are held.
func (b *bodies) len() int { return len(b.index) - b.head }

// from returns copies of the indexes and messages held at or above index.
func (b *bodies) from(index uint64) ([]uint64, []*queue.Message) {
	i, _ := slices.BinarySearch(b.index[b.head:], index)
	i += b.head
	return slices.Clone(b.index[i:]), slices.Clone(b.msgs[i:])
}
