package fifo

import "github.com/warrenmq/warren/queue"

// SeqBase is the size of a base of Contiguous publish numbers: a base is
// a multiple of SeqBase, and its numbers are base+1 to base+SeqBase-1.
const SeqBase = 1 << 32

// baseOf returns the base of publish number seq.
func baseOf(seq uint64) uint64 { return seq &^ (SeqBase - 1) }

// enqueue applies an Enqueue at index: a duplicate of a publish seen
// already is answered Duplicate, a Contiguous one out of sequence
// OutOfSequence, one that would overflow a reject-publish queue Rejected;
// none of them is enqueued. The sequence of a rejected one is not
// recorded: a resend is judged again, and the publisher's next ones are
// out of sequence until it is enqueued or the publisher starts a new
// base, as its session does once a publish was refused.
func (s *State) enqueue(index uint64, c Enqueue) Result {
	tracked := c.From != (queue.Publisher{})
	if tracked {
		if o := s.judge(c); o != OK {
			return Result{Outcome: o}
		}
	}
	if s.cfg.Overflow == queue.RejectPublish && s.wouldOverflow(c.Size) {
		return Result{Outcome: Rejected}
	}
	if tracked {
		s.publishers[c.From] = c.Seq
	}
	m := msg{index: index, size: c.Size, high: c.Priority > 4, expiry: s.expiryOf(c.TTL)}
	if m.high {
		s.high.push(m)
	} else {
		s.normal.push(m)
	}
	s.readyBytes += uint64(m.size)
	return Result{}
}

// judge returns how a tracked enqueue stands against its publisher's
// last recorded number: Duplicate at or below it, OK for the next one. A
// Contiguous enqueue is the next one only if it follows the last in its
// base, or is the first of a base above the last's (a new session, or
// a publisher not seen: a new one, or one forgotten by ChannelDown or
// PublisherGone); anything else is OutOfSequence, an older base's
// included, whose numbers the state no longer knows.
func (s *State) judge(c Enqueue) Outcome {
	last, known := s.publishers[c.From]
	if !c.Contiguous {
		if known && c.Seq <= last {
			return Duplicate
		}
		return OK
	}
	base := baseOf(c.Seq)
	same := known && base == baseOf(last)
	switch {
	case same && c.Seq <= last:
		return Duplicate
	case same && c.Seq == last+1:
		return OK
	case (!known || base > baseOf(last)) && c.Seq == base+1:
		return OK
	}
	return OutOfSequence
}

// expiryOf returns the expiry of a message with the per-message TTL ttl
// (-1 none) enqueued now: the lower of it and x-message-ttl.
func (s *State) expiryOf(ttl int64) int64 {
	if s.cfg.HasMessageTTL && (ttl < 0 || s.cfg.MessageTTL < ttl) {
		ttl = s.cfg.MessageTTL
	}
	if ttl < 0 {
		return never
	}
	return later(s.now, ttl)
}

// later returns t plus d milliseconds (d >= 0), or never past the range.
func later(t, d int64) int64 {
	if t > 0 && d >= never-t {
		return never
	}
	return t + d
}

// limited returns the count and bytes the length limits apply to: ready
// messages and those held for at-least-once dead-lettering.
func (s *State) limited() (n, bytes uint64) {
	return uint64(s.Ready()) + uint64(len(s.dlx)), s.readyBytes + s.dlxBytes
}

// wouldOverflow reports whether a message of size bytes would take the
// queue past x-max-length or x-max-length-bytes.
func (s *State) wouldOverflow(size uint32) bool {
	n, b := s.limited()
	return (s.cfg.HasMaxLength && int64(n+1) > s.cfg.MaxLength) ||
		(s.cfg.HasMaxBytes && int64(b+uint64(size)) > s.cfg.MaxBytes)
}

// overLimit reports whether the queue is past a length limit.
func (s *State) overLimit() bool {
	n, b := s.limited()
	return (s.cfg.HasMaxLength && int64(n) > s.cfg.MaxLength) ||
		(s.cfg.HasMaxBytes && int64(b) > s.cfg.MaxBytes)
}

// dropHeads enforces drop-head: the messages that would be delivered next
// are dead-lettered (reason maxlen) until the queue is within its limits.
func (s *State) dropHeads() {
	for s.cfg.Overflow == queue.DropHead && s.Ready() > 0 && s.overLimit() {
		s.deadLetter(queue.MaxLen, s.takeNext())
	}
}

// takeNext removes and returns the next ready message: returns first,
// then high priority, then normal.
func (s *State) takeNext() msg {
	var m msg
	switch {
	case s.returns.len() > 0:
		m = s.returns.pop()
	case s.high.len() > 0:
		m = s.high.pop()
	default:
		m = s.normal.pop()
	}
	s.readyBytes -= uint64(m.size)
	return m
}

// purge drops every ready message and returns how many.
func (s *State) purge() uint64 {
	n := uint64(s.Ready())
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		for i := range d.len() {
			s.left = append(s.left, d.at(i).index)
		}
	}
	s.returns.clear()
	s.high.clear()
	s.normal.clear()
	s.readyBytes = 0
	return n
}
