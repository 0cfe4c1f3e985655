package quorum

import "sync"

// inflightQueue is the proposer's queue of in-flight batches, from its
// loop to its waiter, in order: at most maxInflight, the loop waiting
// for room beyond that. Unlike a buffered channel of that size, it holds
// no memory while empty, so an idle queue costs nothing for it.
type inflightQueue struct {
	mu     sync.Mutex
	items  []inflight
	head   int
	closed bool
	ready  chan struct{} // one token: items were added or the queue closed
	room   chan struct{} // one token: an item was taken
}

func newInflightQueue() *inflightQueue {
	return &inflightQueue{ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// push appends in, waiting while the queue is full; it reports false if
// stop closed first.
func (q *inflightQueue) push(in inflight, stop <-chan struct{}) bool {
	for {
		q.mu.Lock()
		if len(q.items)-q.head < maxInflight {
			if q.head > 0 && len(q.items) == cap(q.items) {
				// Reuse the room taken items left rather than grow.
				n := copy(q.items, q.items[q.head:])
				clear(q.items[n:])
				q.items, q.head = q.items[:n], 0
			}
			q.items = append(q.items, in)
			q.mu.Unlock()
			signal(q.ready)
			return true
		}
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-stop:
			return false
		}
	}
}

// close ends the queue: pop returns what is left, then reports false.
func (q *inflightQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.ready)
}

// pop takes the oldest batch, waiting for one when wait is set; ok is
// false when there is none (and, waiting, the queue is closed).
func (q *inflightQueue) pop(wait bool) (in inflight, ok bool) {
	for {
		q.mu.Lock()
		if q.head < len(q.items) {
			in = q.items[q.head]
			q.items[q.head] = inflight{}
			q.head++
			if q.head == len(q.items) {
				// Drained: the memory goes back.
				q.items, q.head = nil, 0
			}
			q.mu.Unlock()
			signal(q.room)
			return in, true
		}
		closed := q.closed
		q.mu.Unlock()
		if !wait || closed {
			return inflight{}, false
		}
		<-q.ready
	}
}

// signal leaves a token in ch unless one is there.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
