package fifo

// expireReady dead-letters (reason expired) the ready messages at the
// heads of the queues whose TTL has run out by the command's time. As in
// RabbitMQ, a message expires when it reaches a head: one with a short
// per-message TTL behind a longer one waits for it.
func (s *State) expireReady() {
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		for d.len() > 0 && s.now >= d.front().expiry {
			m := d.pop()
			s.readyBytes -= uint64(m.size)
			s.deadLetter(deadExpired, m)
		}
	}
}

// nextExpiry returns the earliest expiry among the heads, or never.
func (s *State) nextExpiry() int64 {
	next := int64(never)
	for _, d := range []*deque{&s.returns, &s.high, &s.normal} {
		if d.len() > 0 {
			next = min(next, d.front().expiry)
		}
	}
	return next
}

// tick reports a queue unused for its x-expires; expiry of messages is
// done by every command.
func (s *State) tick() {
	if s.cfg.Expires > 0 && s.unused() && s.now >= later(s.lastActive, s.cfg.Expires) {
		s.effect(Effect{Kind: EffectDeleteQueue})
	}
}

// timers asks the leader for the timers the state needs when they
// changed: the next message expiry and the x-expires lease.
func (s *State) timers() {
	if next := s.nextExpiry(); next != s.expiryTimer {
		s.expiryTimer = next
		if next != never {
			s.effect(Effect{Kind: EffectExpiryTimer, At: next})
		}
	}
	var lease int64
	if s.cfg.Expires > 0 && s.unused() {
		lease = later(s.lastActive, s.cfg.Expires)
	}
	if lease != s.queueTimer {
		s.queueTimer = lease
		if lease != 0 {
			s.effect(Effect{Kind: EffectQueueTimer, At: lease})
		}
	}
}
