package perf

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Failover: a run may kill a broker process (Config.KillPID, a cluster
// node) in the middle of its window. Each producer's confirms and each
// consumer's deliveries are a stream of events, and a gapTracker per
// stream finds the pause the kill caused: the longest interval between two
// consecutive events that ends after the kill and begins less than
// killSpan after it. A confirm or delivery already under way when the
// process died may still arrive just after the kill; the pause that
// follows it is the one the failover costs. For a client of the killed
// node the tracker also times its reconnection and, for a producer, the
// first confirm (ack or nack) and the first ack on the new connection.

// killSpan bounds when the pause a kill causes may begin.
const killSpan = time.Second

// Failover is what a run measured around the kill of a broker process.
type Failover struct {
	// PID is the process killed.
	PID int `json:"pid"`
	// KilledAtSeconds is when SIGKILL was sent, in seconds into the window.
	KilledAtSeconds float64 `json:"killed_at_s"`
	// Error is why the kill failed, if it did.
	Error string `json:"error,omitempty"`
	// Producers are the producers' confirm streams, by producer id.
	Producers []StreamFailover `json:"producers"`
	// Consumers are the consumers' delivery streams, by consumer id.
	Consumers []StreamFailover `json:"consumers"`
}

// StreamFailover is one producer's confirms, or one consumer's
// deliveries, around the kill. Times are milliseconds relative to the
// kill: negative before it, positive after.
type StreamFailover struct {
	// ID is the producer's or consumer's id.
	ID int `json:"id"`
	// URL is where it was connected when the process was killed.
	URL string `json:"url"`
	// Resumed tells whether any event came after the kill.
	Resumed bool `json:"resumed"`
	// GapMillis is the pause the kill caused: the longest between two
	// events that ended after the kill and began less than a second
	// after it.
	GapMillis float64 `json:"gap_ms"`
	// GapStartMillis is when that pause began (the last event before it).
	GapStartMillis float64 `json:"gap_start_ms"`
	// ResumedMillis is when that pause ended: events resumed.
	ResumedMillis float64 `json:"resumed_ms"`
	// MaxGapAfterMillis is the longest pause that ended after the kill,
	// whenever it began.
	MaxGapAfterMillis float64 `json:"max_gap_after_ms"`
	// MaxGapBeforeMillis is the longest pause before the kill, for scale.
	MaxGapBeforeMillis float64 `json:"max_gap_before_ms"`
	// LastBeforeMillis is the last event before the kill, if any.
	LastBeforeMillis *float64 `json:"last_before_ms,omitempty"`
	// FirstAfterMillis is the first event after the kill, if any (it may
	// be one already under way when the process died).
	FirstAfterMillis *float64 `json:"first_after_ms,omitempty"`
	// EventsAfter counts the events after the kill.
	EventsAfter uint64 `json:"events_after"`
	// Reconnects counts the connections it opened again after losing one.
	Reconnects int `json:"reconnects"`
	// LostMillis is when it first lost its connection after the kill.
	LostMillis *float64 `json:"connection_lost_ms,omitempty"`
	// ReconnectedMillis is when its first new connection after the kill
	// was ready (channel open, confirms selected or consumer registered).
	ReconnectedMillis *float64 `json:"reconnected_ms,omitempty"`
	// FirstAfterReconnectMillis is when its first event on that new
	// connection came: a confirm (ack or nack), or a delivery.
	FirstAfterReconnectMillis *float64 `json:"first_after_reconnect_ms,omitempty"`
	// FirstAckAfterReconnectMillis is, for a producer, when its first ack
	// on that new connection came.
	FirstAckAfterReconnectMillis *float64 `json:"first_ack_after_reconnect_ms,omitempty"`
	// AcksAfter and NacksAfter count a producer's acks and nacks after
	// the kill.
	AcksAfter  uint64 `json:"acks_after"`
	NacksAfter uint64 `json:"nacks_after"`
	// Resent counts the messages published again after a lost
	// connection (producers).
	Resent uint64 `json:"resent"`
}

// gapTracker follows one stream of events around a kill. The stream's
// own goroutine reports events, connection losses and reconnections; the
// run's goroutine reports the kill.
type gapTracker struct {
	mu         sync.Mutex
	last       time.Duration // the previous event on the run's clock
	have       bool          // an event has happened
	killed     bool
	killAt     time.Duration
	maxBefore  time.Duration // longest gap ending before the kill
	maxAfter   time.Duration // longest gap ending after the kill
	gap        time.Duration // the pause the kill caused
	gapStart   time.Duration
	after      uint64
	lastBefore *time.Duration // last event before the kill
	firstAfter *time.Duration // first event after the kill
	lost       *time.Duration // first connection loss after the kill
	reconn     *time.Duration // first reconnection after the kill
	firstRe    *time.Duration // first event after that reconnection
	firstAckRe *time.Duration // first ack after that reconnection
	reconnects int
	acksAfter  uint64
	nacksAfter uint64
	resent     uint64
	url        string // the current connection's URL, passwords hidden
}

// event records an event at t on the run's clock.
func (g *gapTracker) event(t time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.have {
		d := t - g.last
		switch {
		case !g.killed || t <= g.killAt:
			g.maxBefore = max(g.maxBefore, d)
		default:
			g.maxAfter = max(g.maxAfter, d)
			if d > g.gap && g.last < g.killAt+killSpan {
				g.gap, g.gapStart = d, g.last
			}
		}
	}
	if g.killed && t > g.killAt {
		g.after++
		if g.firstAfter == nil {
			g.firstAfter = &t
		}
		if g.reconn != nil && g.firstRe == nil {
			g.firstRe = &t
		}
	}
	g.last, g.have = t, true
}

// ack records that the event at t was an ack (producers).
func (g *gapTracker) ack(t time.Duration) {
	g.mu.Lock()
	if g.killed && t > g.killAt {
		g.acksAfter++
		if g.reconn != nil && g.firstAckRe == nil {
			g.firstAckRe = &t
		}
	}
	g.mu.Unlock()
}

// kill records that the process was killed at t.
func (g *gapTracker) kill(t time.Duration) {
	g.mu.Lock()
	g.killed, g.killAt = true, t
	if g.have {
		last := g.last
		g.lastBefore = &last
	}
	g.mu.Unlock()
}

// connectionLost records that the stream lost its connection at t.
func (g *gapTracker) connectionLost(t time.Duration) {
	g.mu.Lock()
	if g.killed && g.lost == nil && t >= g.killAt {
		g.lost = &t
	}
	g.mu.Unlock()
}

// reconnected records a new connection to url, ready at t.
func (g *gapTracker) reconnected(t time.Duration, url string) {
	g.mu.Lock()
	g.reconnects++
	g.url = url
	if g.killed && g.reconn == nil && t >= g.killAt {
		g.reconn = &t
	}
	g.mu.Unlock()
}

// connected records the first connection's URL.
func (g *gapTracker) connected(url string) {
	g.mu.Lock()
	g.url = url
	g.mu.Unlock()
}

// nack records a nack received at t.
func (g *gapTracker) nack(t time.Duration) {
	g.mu.Lock()
	if g.killed && t > g.killAt {
		g.nacksAfter++
	}
	g.mu.Unlock()
}

// resend records n messages published again.
func (g *gapTracker) resend(n int) {
	g.mu.Lock()
	g.resent += uint64(n)
	g.mu.Unlock()
}

// report summarises the stream around the kill; killURL is the URL it
// was connected to when the kill happened, if known.
func (g *gapTracker) report(id int, killURL string) StreamFailover {
	g.mu.Lock()
	defer g.mu.Unlock()
	ms := func(t time.Duration) float64 { return float64(t-g.killAt) / float64(time.Millisecond) }
	opt := func(t *time.Duration) *float64 {
		if t == nil {
			return nil
		}
		v := ms(*t)
		return &v
	}
	s := StreamFailover{
		ID:                           id,
		URL:                          killURL,
		Resumed:                      g.after > 0,
		MaxGapBeforeMillis:           float64(g.maxBefore) / float64(time.Millisecond),
		LastBeforeMillis:             opt(g.lastBefore),
		FirstAfterMillis:             opt(g.firstAfter),
		EventsAfter:                  g.after,
		Reconnects:                   g.reconnects,
		LostMillis:                   opt(g.lost),
		ReconnectedMillis:            opt(g.reconn),
		FirstAfterReconnectMillis:    opt(g.firstRe),
		FirstAckAfterReconnectMillis: opt(g.firstAckRe),
		AcksAfter:                    g.acksAfter,
		NacksAfter:                   g.nacksAfter,
		Resent:                       g.resent,
		MaxGapAfterMillis:            float64(g.maxAfter) / float64(time.Millisecond),
	}
	if g.gap > 0 {
		s.GapMillis = float64(g.gap) / float64(time.Millisecond)
		s.GapStartMillis, s.ResumedMillis = ms(g.gapStart), ms(g.gapStart+g.gap)
	}
	return s
}

// currentURL returns the URL of the stream's connection.
func (g *gapTracker) currentURL() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.url
}

// kill sends SIGKILL to the configured process and tells every stream.
// It returns the failover record, which fill completes at the run's end.
func (r *run) kill(winStart time.Time, producers []*producer, consumers []*consumer) *Failover {
	f := &Failover{PID: r.cfg.KillPID}
	at := r.now()
	f.KilledAtSeconds = time.Since(winStart).Seconds()
	var urls []string
	for _, p := range producers {
		p.gaps.kill(at)
		urls = append(urls, p.gaps.currentURL())
	}
	for _, c := range consumers {
		c.gaps.kill(at)
		urls = append(urls, c.gaps.currentURL())
	}
	r.killURLs = urls
	proc, err := os.FindProcess(r.cfg.KillPID)
	if err == nil {
		err = proc.Signal(os.Kill)
		_ = proc.Release()
	}
	if err != nil {
		f.Error = fmt.Sprintf("kill -9 %d: %v", r.cfg.KillPID, err)
		r.anomalies.add("kill-failed", 1, f.Error)
	}
	return f
}

// failoverReport completes the failover record from the streams.
func (r *run) failoverReport(f *Failover, producers []*producer, consumers []*consumer) {
	f.Producers, f.Consumers = []StreamFailover{}, []StreamFailover{}
	if len(r.killURLs) != len(producers)+len(consumers) {
		return
	}
	for i, p := range producers {
		f.Producers = append(f.Producers, p.gaps.report(p.id, r.killURLs[i]))
	}
	for i, c := range consumers {
		f.Consumers = append(f.Consumers, c.gaps.report(c.id, r.killURLs[len(producers)+i]))
	}
}

// writeSummary prints the failover record, one line per stream.
func (f *Failover) writeSummary(p func(format string, a ...any)) {
	if f.Error != "" {
		p("failover: kill -9 %d: %s", f.PID, f.Error)
		if len(f.Producers)+len(f.Consumers) == 0 {
			return
		}
	} else {
		p("failover: kill -9 %d at %.2f s into the window", f.PID, f.KilledAtSeconds)
	}
	for _, s := range f.Producers {
		p("  producer %d %s", s.ID, s.describe("confirm", "confirms"))
	}
	for _, s := range f.Consumers {
		p("  consumer %d %s", s.ID, s.describe("delivery", "deliveries"))
	}
}

// describe says in one line how the stream went on around the kill.
func (s StreamFailover) describe(event, events string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "on %s: ", s.URL)
	switch {
	case !s.Resumed:
		fmt.Fprintf(&b, "no %s after the kill", event)
	case s.LastBeforeMillis != nil:
		fmt.Fprintf(&b, "last %s %+.0f ms from the kill, first after it %+.0f ms (%.0f ms without)",
			event, *s.LastBeforeMillis, *s.FirstAfterMillis, *s.FirstAfterMillis-*s.LastBeforeMillis)
	default:
		fmt.Fprintf(&b, "first %s %+.0f ms from the kill", event, *s.FirstAfterMillis)
	}
	if s.GapMillis > 0 {
		fmt.Fprintf(&b, "; the kill's pause %.0f ms, %+.0f to %+.0f ms (longest pause before the kill %.0f ms, after it %.0f ms)",
			s.GapMillis, s.GapStartMillis, s.ResumedMillis, s.MaxGapBeforeMillis, s.MaxGapAfterMillis)
	}
	if s.LostMillis != nil {
		fmt.Fprintf(&b, "; connection lost at %+.0f ms", *s.LostMillis)
	}
	if s.ReconnectedMillis != nil {
		fmt.Fprintf(&b, ", reconnected at %+.0f ms", *s.ReconnectedMillis)
	}
	if s.FirstAfterReconnectMillis != nil {
		fmt.Fprintf(&b, ", first %s on it at %+.0f ms", event, *s.FirstAfterReconnectMillis)
	}
	if s.FirstAckAfterReconnectMillis != nil {
		fmt.Fprintf(&b, ", first ack at %+.0f ms", *s.FirstAckAfterReconnectMillis)
	}
	if s.AcksAfter+s.NacksAfter > 0 || s.Resent > 0 {
		fmt.Fprintf(&b, "; after the kill %d acks, %d nacks, %d resent", s.AcksAfter, s.NacksAfter, s.Resent)
	}
	return b.String()
}
