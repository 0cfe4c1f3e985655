package fifo

// checkout applies a Checkout at index.
func (s *State) checkout(index uint64, cmd Checkout) Result {
	s.lastActive = s.now
	if c, ok := s.consumers[cmd.Consumer]; ok {
		if c.status != statusCancelled || c.oneShot {
			return Result{Outcome: ConsumerExists}
		}
		// A tag reused while the cancelled consumer still holds
		// messages: it comes back with them.
		c.prefetch, c.priority, c.autoSettle = cmd.Prefetch, cmd.Priority, cmd.AutoSettle
		c.status = s.joinStatus()
		return Result{}
	}
	s.addConsumer(&consumer{
		key: index, id: cmd.Consumer, prefetch: cmd.Prefetch, priority: cmd.Priority,
		autoSettle: cmd.AutoSettle, status: s.joinStatus(), checked: make(map[uint64]msg),
	})
	return Result{}
}

// joinStatus is the status of a consumer that joins: with single active
// consumer it waits until activate picks it.
func (s *State) joinStatus() consumerStatus {
	if s.cfg.SingleActive {
		return statusWaiting
	}
	return statusUp
}

// cancel stops deliveries to a consumer, which keeps its messages.
func (s *State) cancel(id ConsumerID) Result {
	c, ok := s.consumers[id]
	if !ok {
		return Result{Outcome: UnknownConsumer}
	}
	s.lastActive = s.now
	c.status = statusCancelled
	s.tidy(c)
	return Result{}
}

// tidy removes a cancelled or one-shot consumer that holds nothing.
func (s *State) tidy(c *consumer) {
	if len(c.checked) == 0 && (c.status == statusCancelled || c.oneShot) {
		s.dropConsumer(c)
	}
}

// endConsumers ends every consumer for which match holds, returning its
// unsettled messages (not counted as failed deliveries).
func (s *State) endConsumers(match func(*consumer) bool) {
	var gone []*consumer
	for _, c := range s.order {
		if match(c) {
			gone = append(gone, c)
		}
	}
	for _, c := range gone {
		s.endConsumer(c, false)
	}
}

// endConsumer removes c and returns its messages in delivery order;
// failed counts them as failed deliveries.
func (s *State) endConsumer(c *consumer, failed bool) {
	s.lastActive = s.now
	for _, id := range c.sortedIDs() {
		m := c.checked[id]
		delete(c.checked, id)
		s.requeue(m, failed)
	}
	s.dropConsumer(c)
}

// channelDown ends a channel's consumers and forgets it as a publisher.
func (s *State) channelDown(cmd ChannelDown) {
	s.endConsumers(func(c *consumer) bool { return c.id.Chan == cmd.Chan })
	delete(s.publishers, cmd.Chan)
}

// consumerTimeout cancels one consumer, returns its messages and tells it.
func (s *State) consumerTimeout(id ConsumerID) Result {
	c, ok := s.consumers[id]
	if !ok {
		return Result{Outcome: UnknownConsumer}
	}
	// A delivery that timed out failed: it counts towards the limit.
	s.endConsumer(c, true)
	s.effect(Effect{Kind: EffectConsumerCancelled, Consumer: id})
	return Result{}
}

// get applies a Get at index: one message, checked out to a one-shot
// consumer unless AutoSettle.
func (s *State) get(index uint64, cmd Get) Result {
	if s.cfg.SingleActive {
		return Result{Outcome: GetUnsupported}
	}
	s.lastActive = s.now
	c, ok := s.consumers[cmd.Consumer]
	if ok && !c.oneShot {
		return Result{Outcome: ConsumerExists}
	}
	s.expireReady()
	if s.Ready() == 0 {
		return Result{Outcome: Empty}
	}
	if !ok {
		c = &consumer{key: index, id: cmd.Consumer, oneShot: true, autoSettle: cmd.AutoSettle,
			checked: make(map[uint64]msg)}
		s.addConsumer(c)
	}
	c.autoSettle = cmd.AutoSettle
	d := s.handOut(c, s.takeNext())
	s.tidy(c)
	return Result{Get: d, Ready: uint64(s.Ready())}
}

// serve hands ready messages to consumers with credit, highest priority
// first and round robin among equals, after expiring the ready messages
// whose TTL ran out; then it enforces drop-head.
func (s *State) serve() {
	s.activate()
	s.expireReady()
	for s.Ready() > 0 {
		c := s.nextConsumer()
		if c == nil {
			break
		}
		m := s.takeNext()
		if s.now >= m.expiry {
			s.deadLetter(deadExpired, m)
			continue
		}
		s.addDelivery(c, s.handOut(c, m))
	}
	s.dropHeads()
}

// nextConsumer returns the consumer to serve next: of those up with
// credit, the highest priority, then the one served least recently, then
// the oldest.
func (s *State) nextConsumer() *consumer {
	var best *consumer
	for _, c := range s.order {
		if c.status != statusUp || c.oneShot || c.unreachable || !c.hasCredit() {
			continue
		}
		if best == nil || c.priority > best.priority ||
			(c.priority == best.priority && c.served < best.served) {
			best = c
		}
	}
	return best
}

// handOut gives m to c and returns the delivery.
func (s *State) handOut(c *consumer, m msg) Delivery {
	id := c.nextID
	c.nextID++
	s.serveSeq++
	c.served = s.serveSeq
	d := Delivery{ID: id, Index: m.index, Size: m.size, DeliveryCount: m.count, Redelivered: m.acquired > 0}
	if c.autoSettle {
		d.Settled = true
		s.left = append(s.left, m.index)
	} else {
		c.checked[id] = m
	}
	return d
}

// activate keeps single active consumer in step: with no active consumer
// the waiting one of highest priority (the oldest among equals) becomes
// active; an active one with a waiting consumer of higher priority
// quiesces (takes nothing new) and steps down once it holds nothing, as
// in RabbitMQ 4.
func (s *State) activate() {
	if !s.cfg.SingleActive {
		return
	}
	var active, best *consumer
	for _, c := range s.order {
		if c.unreachable {
			if c.status == statusUp || c.status == statusQuiescing {
				s.setActive(c, false) // gives way until it is reachable
			}
			continue
		}
		switch c.status {
		case statusUp, statusQuiescing:
			active = c
		case statusWaiting:
			if best == nil || c.priority > best.priority {
				best = c
			}
		}
	}
	switch {
	case active == nil:
		if best != nil {
			s.setActive(best, true)
		}
	case best != nil && best.priority > active.priority:
		active.status = statusQuiescing
		if len(active.checked) == 0 {
			s.setActive(active, false)
			s.setActive(best, true)
		}
	default:
		active.status = statusUp
	}
}

// setActive makes c the active consumer, or a waiting one, and tells it.
func (s *State) setActive(c *consumer, active bool) {
	c.status = statusWaiting
	if active {
		c.status = statusUp
	}
	s.effect(Effect{Kind: EffectConsumerActive, Consumer: c.id, Active: active})
}
