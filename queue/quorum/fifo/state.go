package fifo

import (
	"math"
	"slices"

	"github.com/warrenmq/warren/queue"
)

// never is the expiry of a message without a TTL.
const never = math.MaxInt64

// consumerStatus is where a consumer stands.
type consumerStatus uint8

const (
	// statusUp: delivered to within its credit (with single active
	// consumer, the active one).
	statusUp consumerStatus = iota
	// statusWaiting: single active consumer, waiting for its turn.
	statusWaiting
	// statusQuiescing: single active consumer, active while one of higher
	// priority waits: no new deliveries, and it steps down once it holds
	// nothing.
	statusQuiescing
	// statusCancelled: no new deliveries; it goes once it holds nothing.
	statusCancelled
)

// consumer is one consumer's state. Its key is the Raft index of the
// Checkout (or Get) that made it, so consumers are ordered by arrival.
type consumer struct {
	key        uint64
	id         ConsumerID
	prefetch   uint32 // 0: unlimited
	priority   int32
	autoSettle bool
	oneShot    bool // made by basic.get: never served, gone once it holds nothing
	status     consumerStatus
	nextID     uint64         // the id of its next delivery
	served     uint64         // State.serveSeq at its last delivery, for round robin
	checked    map[uint64]msg // unsettled deliveries by id

	// unreachable: its node is unreachable (Unreachable); never served
	// while it is, nor active with single active consumer.
	unreachable bool
}

// hasCredit reports whether the consumer may take one more delivery.
func (c *consumer) hasCredit() bool {
	return c.autoSettle || c.prefetch == 0 || uint64(len(c.checked)) < uint64(c.prefetch)
}

// State is one quorum queue as of the last applied command. Only Apply
// and Restore change it; it is not safe for concurrent use (a replica
// applies commands one at a time).
type State struct {
	cfg     Config
	applied uint64
	// now is the latest command time seen: command times are the
	// leaders' clocks, which may step back at a leader change.
	now         int64
	lastActive  int64 // when the queue was last in use (x-expires)
	expiryTimer int64 // the message expiry timer last asked for, or never
	queueTimer  int64 // the x-expires timer last asked for, or 0
	serveSeq    uint64

	// Ready messages: returns are served first, then high priority, then
	// normal. high and normal hold increasing indexes.
	returns, high, normal deque
	readyBytes            uint64

	publishers map[queue.Publisher]uint64 // last sequence seen per publisher
	consumers  map[ConsumerID]*consumer
	order      []*consumer // consumers by key

	dlx      map[uint64]DeadMessage // at-least-once dead-letters pending, by index
	dlxBytes uint64

	// The current Apply's output; valid until the next Apply.
	effects    []Effect
	deliveries []Delivery
	dead       []DeadMessage
	left       []uint64
}

// NewState returns the empty queue of configuration cfg.
func NewState(cfg Config) *State {
	return &State{
		cfg:         cfg,
		lastActive:  cfg.Created,
		now:         cfg.Created,
		expiryTimer: never,
		publishers:  make(map[queue.Publisher]uint64),
		consumers:   make(map[ConsumerID]*consumer),
		dlx:         make(map[uint64]DeadMessage),
	}
}

// Config returns the queue's configuration.
func (s *State) Config() Config { return s.cfg }

// Applied returns the index of the last command applied.
func (s *State) Applied() uint64 { return s.applied }

// Ready returns how many messages wait to be delivered.
func (s *State) Ready() int { return s.returns.len() + s.high.len() + s.normal.len() }

// ReadyBytes returns the body bytes of the ready messages.
func (s *State) ReadyBytes() uint64 { return s.readyBytes }

// CheckedOut returns how many messages are delivered and not settled.
func (s *State) CheckedOut() int {
	n := 0
	for _, c := range s.order {
		n += len(c.checked)
	}
	return n
}

// Left returns the indexes of the messages that left the queue in the
// last Apply: settled, delivered to a consumer that settles on delivery,
// dead-lettered (at least once: once DeadLetterSettled), dropped or
// purged; a message enqueued and gone in the same Apply included. Their
// bodies are no longer needed once the Apply's effects are carried out.
// The slice is valid until the next Apply.
func (s *State) Left() []uint64 { return s.left }

// DeadLetterPending returns how many at-least-once dead-lettered messages
// wait for DeadLetterSettled.
func (s *State) DeadLetterPending() int { return len(s.dlx) }

// Consumers returns how many consumers the queue has, not counting
// cancelled ones or those basic.get made.
func (s *State) Consumers() int {
	n := 0
	for _, c := range s.order {
		if c.status != statusCancelled && !c.oneShot {
			n++
		}
	}
	return n
}

// LiveFrom returns the lowest Raft index the state still refers to: the
// Enqueue of the oldest message it holds (ready, checked out or waiting to
// be dead-lettered), whose body is in the log there. The log from
// LiveFrom on must be kept alongside a snapshot; with no message held it
// is the index after the last applied.
func (s *State) LiveFrom() uint64 {
	low := s.applied + 1
	for _, d := range []*deque{&s.high, &s.normal} {
		if d.len() > 0 {
			low = min(low, d.front().index)
		}
	}
	for i := range s.returns.len() {
		low = min(low, s.returns.at(i).index)
	}
	for _, c := range s.order {
		for _, m := range c.checked {
			low = min(low, m.index)
		}
	}
	for idx := range s.dlx {
		low = min(low, idx)
	}
	return low
}

// unused reports whether the queue has no consumer (for x-expires).
func (s *State) unused() bool { return s.Consumers() == 0 }

// addConsumer appends c, whose key is the highest yet.
func (s *State) addConsumer(c *consumer) {
	s.consumers[c.id] = c
	s.order = append(s.order, c)
}

// dropConsumer removes c from the state.
func (s *State) dropConsumer(c *consumer) {
	delete(s.consumers, c.id)
	i, found := slices.BinarySearchFunc(s.order, c.key, func(e *consumer, k uint64) int {
		switch {
		case e.key < k:
			return -1
		case e.key > k:
			return 1
		}
		return 0
	})
	if found {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// sortedIDs returns c's unsettled delivery ids in increasing order.
func (c *consumer) sortedIDs() []uint64 {
	ids := make([]uint64, 0, len(c.checked))
	for id := range c.checked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
