package queue

import (
	mrand "math/rand/v2"
	"sync"
)

// Resumer is told that a Limiter which held deliveries back lets them
// through again. A queue implements it to deliver to the consumers it
// paused.
type Resumer interface {
	// Resume is called without any of the limiter's locks held, so it may
	// call back into the limiter.
	Resume()
}

// Limiter is a channel's limit on deliveries shared by all its consumers,
// in the shape of RabbitMQ's rabbit_limiter: the channel-wide prefetch
// (basic.qos with global set) and a pause the connection sets while its
// output is backed up. The channel owns it and hands it to every consume;
// a queue asks it before each delivery (Take) and, when refused, is
// resumed once the channel can take deliveries again. Queues of types
// without Capabilities.GlobalQoS are never given a limit, only pauses.
//
// A queue answering from another node would do the same with messages:
// the channel's session tells it "no credit" when Take would fail and
// "credit again" on Resume. A Limiter is safe for concurrent use; its lock
// is a leaf.
type Limiter struct {
	mu      sync.Mutex
	limit   uint32 // channel-wide prefetch; 0: none
	held    uint32 // deliveries with acks counted against limit
	paused  bool
	waiting []Resumer
}

// Take asks for one delivery to a consumer of the channel; ack says the
// consumer acknowledges, so the delivery holds credit until Return. A
// no-ack delivery takes none but is still held back while the limit is
// reached, as RabbitMQ's limiter does. When Take refuses, r is resumed
// later, once.
func (l *Limiter) Take(ack bool, r Resumer) bool {
	l.mu.Lock()
	if l.paused || (l.limit != 0 && l.held >= l.limit) {
		l.waitLocked(r)
		l.mu.Unlock()
		return false
	}
	if ack {
		l.held++
	}
	l.mu.Unlock()
	return true
}

func (l *Limiter) waitLocked(r Resumer) {
	for _, w := range l.waiting {
		if w == r {
			return
		}
	}
	l.waiting = append(l.waiting, r)
}

// Return gives back the credit of n settled deliveries taken with ack,
// and resumes the queues waiting if that frees some.
func (l *Limiter) Return(n int) {
	if n == 0 {
		return
	}
	l.mu.Lock()
	l.held -= min(l.held, uint32(n))
	l.resumeUnlock()
}

// SetLimit sets the channel-wide prefetch (0: none).
func (l *Limiter) SetLimit(n uint16) {
	l.mu.Lock()
	l.limit = uint32(n)
	l.resumeUnlock()
}

// Limit returns the channel-wide prefetch (0: none).
func (l *Limiter) Limit() uint16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint16(l.limit)
}

// Pause holds every delivery back until Unpause: the connection's output
// is backed up.
func (l *Limiter) Pause() {
	l.mu.Lock()
	l.paused = true
	l.mu.Unlock()
}

// Unpause ends Pause and resumes the queues waiting.
func (l *Limiter) Unpause() {
	l.mu.Lock()
	l.paused = false
	l.resumeUnlock()
}

// Reset forgets every delivery held (the channel requeued them all).
func (l *Limiter) Reset() {
	l.mu.Lock()
	l.held = 0
	l.resumeUnlock()
}

// resumeUnlock unlocks and, when deliveries may flow, resumes the waiting
// queues, starting at a random one: the first resumed may take all the
// credit freed, so a fixed order would starve the others (RabbitMQ's
// limiter notifies its queues in random order for the same reason).
func (l *Limiter) resumeUnlock() {
	var ws []Resumer
	if len(l.waiting) > 0 && !l.paused && (l.limit == 0 || l.held < l.limit) {
		ws = l.waiting
		l.waiting = nil
	}
	l.mu.Unlock()
	if len(ws) == 0 {
		return
	}
	start := mrand.IntN(len(ws))
	for i := range ws {
		ws[(start+i)%len(ws)].Resume()
	}
}
