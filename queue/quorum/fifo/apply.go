package fifo

// Apply applies the command committed at Raft index index (indexes
// increase from one call to the next) and returns the answer to its
// proposer and the effects the leader carries out, in order. Apply is
// pure and deterministic: it reads only the state and the command (time
// included), so every replica reaches the same state. The effects and
// their slices are valid until the next Apply.
func (s *State) Apply(index uint64, cmd Command) (Result, []Effect) {
	s.begin(index, cmd.Time())
	var res Result
	switch c := cmd.(type) {
	case Enqueue:
		res = s.enqueue(index, c)
	case Checkout:
		res = s.checkout(index, c)
	case Cancel:
		res = s.cancel(c.Consumer)
	case Settle:
		res = s.settle(c.Consumer, c.IDs)
	case Return:
		res = s.giveBack(c.Consumer, c.IDs)
	case Discard:
		res = s.discard(c.Consumer, c.IDs)
	case Get:
		res = s.get(index, c)
	case ChannelDown:
		s.channelDown(c)
	case NodeDown:
		s.endConsumers(func(k *consumer) bool { return k.id.Chan.Node == c.Node })
	case ConsumerTimeout:
		res = s.consumerTimeout(c.Consumer)
	case Purge:
		res.Purged = s.purge()
	case Tick:
		s.tick()
	case DeadLetterSettled:
		s.deadLetterSettled(c.Indexes)
	case LeaderElected:
		s.leaderElected()
	case PublisherGone:
		delete(s.publishers, c.From)
	case Touch:
		s.lastActive = s.now
	case Resend:
		s.resend(c)
	case UpdateConfig:
		s.updateConfig(c.Config)
	case Unreachable:
		s.unreachable(c)
	}
	s.serve()
	s.timers()
	return res, s.finish()
}

// begin starts applying the command at index stamped with time now.
func (s *State) begin(index uint64, now int64) {
	s.applied = index
	s.now = max(s.now, now)
	if s.lastActive == 0 {
		// A queue configured without its creation time is created by
		// its first command.
		s.lastActive = s.now
	}
	s.effects = s.effects[:0]
	s.deliveries = s.deliveries[:0]
	s.dead = s.dead[:0]
	s.left = s.left[:0]
}

// finish points the effects' slices into the buffers they were built in.
func (s *State) finish() []Effect {
	if len(s.effects) == 0 {
		return nil
	}
	for i := range s.effects {
		e := &s.effects[i]
		switch e.Kind {
		case EffectDeliver:
			e.Deliveries = s.deliveries[e.from:e.to:e.to]
		case EffectDeadLetter:
			e.Dead = s.dead[e.from:e.to:e.to]
		}
	}
	return s.effects
}

// addDelivery adds d for c to the effects, joining the effect before it
// when that delivers to c too.
func (s *State) addDelivery(c *consumer, d Delivery) {
	s.deliveries = append(s.deliveries, d)
	if n := len(s.effects); n > 0 {
		e := &s.effects[n-1]
		if e.Kind == EffectDeliver && e.Consumer == c.id && e.to == len(s.deliveries)-1 {
			e.to++
			return
		}
	}
	s.effects = append(s.effects, Effect{Kind: EffectDeliver, Consumer: c.id,
		from: len(s.deliveries) - 1, to: len(s.deliveries)})
}

// addDead adds d to the dead-letter effects, joining the effect before it
// when it has the same strategy.
func (s *State) addDead(d DeadMessage, atLeastOnce bool) {
	s.dead = append(s.dead, d)
	if n := len(s.effects); n > 0 {
		e := &s.effects[n-1]
		if e.Kind == EffectDeadLetter && e.AtLeastOnce == atLeastOnce && e.to == len(s.dead)-1 {
			e.to++
			return
		}
	}
	s.effects = append(s.effects, Effect{Kind: EffectDeadLetter, AtLeastOnce: atLeastOnce,
		from: len(s.dead) - 1, to: len(s.dead)})
}

func (s *State) effect(e Effect) { s.effects = append(s.effects, e) }
