package fifo

// UpdateConfig replaces the queue's configuration with Config, as a policy
// applied to the queue changes it (rabbit_fifo's update_config): length
// limits are enforced at once, dropping or dead-lettering the head as the
// overflow says; a new message TTL applies to messages enqueued from now
// on; x-expires counts from the queue's last use. The creation time and
// single active consumer stay as declared. A configuration equal to the
// current one changes nothing, so every node may propose the same one.
type UpdateConfig struct {
	Config Config
	Now    int64
}

// Op implements Command.
func (UpdateConfig) Op() Op { return OpUpdateConfig }

// Time implements Command.
func (c UpdateConfig) Time() int64 { return c.Now }

func (c UpdateConfig) encode(w *writer) {
	w.config(&c.Config)
	w.Varint(c.Now)
}

func (c *UpdateConfig) decode(r *reader) {
	c.Config = r.config()
	c.Now = r.Varint()
}

// SameConfig reports whether a and b configure a queue alike, whatever
// their creation times and single active consumer flags (which an update
// leaves as they are).
func SameConfig(a, b Config) bool {
	a.Created, a.SingleActive = b.Created, b.SingleActive
	return a == b
}

// updateConfig applies UpdateConfig. Leaving at-least-once dead-lettering
// drops the dead-lettered messages still waiting for their targets, as
// rabbit_fifo_dlx does when its strategy changes.
func (s *State) updateConfig(c Config) {
	if SameConfig(c, s.cfg) {
		return
	}
	c.Created, c.SingleActive = s.cfg.Created, s.cfg.SingleActive
	if s.cfg.DeadLetter == AtLeastOnce && c.DeadLetter != AtLeastOnce {
		s.left = append(s.left, s.dlxIndexes()...)
		clear(s.dlx)
		s.dlxBytes = 0
	}
	s.cfg = c
	s.dropHeads()
}
