package fifo

// leaderElected re-issues what a new leader owes, since the old one may
// have died before carrying out its effects: every unsettled delivery of
// every consumer (sessions drop the ids they have seen), the active
// consumer of a single active consumer queue, every pending at-least-once
// dead-letter, and both timers.
func (s *State) leaderElected() {
	for _, c := range s.order {
		if c.oneShot {
			continue
		}
		if s.cfg.SingleActive && (c.status == statusUp || c.status == statusQuiescing) {
			s.effect(Effect{Kind: EffectConsumerActive, Consumer: c.id, Active: true})
		}
		for _, id := range c.sortedIDs() {
			m := c.checked[id]
			s.addDelivery(c, Delivery{ID: id, Index: m.index, Size: m.size, DeliveryCount: m.count,
				Redelivered: m.acquired > 0})
		}
	}
	for _, idx := range s.dlxIndexes() {
		s.addDead(s.dlx[idx], true)
	}
	// Forgetting the timers asked for makes Apply ask for them again.
	s.expiryTimer, s.queueTimer = never, 0
}

// resend re-issues the unsettled deliveries of a consumer with ids in
// cmd's range, in order; a consumer gone, or ids settled or returned
// meanwhile, re-issue nothing.
func (s *State) resend(cmd Resend) {
	c, ok := s.consumers[cmd.Consumer]
	if !ok || c.oneShot {
		return
	}
	for _, id := range c.sortedIDs() {
		if id < cmd.From || id > cmd.To {
			continue
		}
		m := c.checked[id]
		s.addDelivery(c, Delivery{ID: id, Index: m.index, Size: m.size, DeliveryCount: m.count,
			Redelivered: m.acquired > 0})
	}
}
