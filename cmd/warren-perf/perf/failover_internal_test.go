package perf

import (
	"slices"
	"testing"
	"time"
)

func TestGapTrackerFindsThePauseTheKillCaused(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name                string
		before, after       []time.Duration // events around a kill at 100 ms
		resumed             bool
		gap, start, maxPrev time.Duration
		maxAfter            time.Duration
		lastBefore          time.Duration
		firstAfter          time.Duration
	}{
		{name: "stall across the kill", before: []time.Duration{10 * ms, 20 * ms, 95 * ms}, after: []time.Duration{900 * ms, 901 * ms},
			resumed: true, gap: 805 * ms, start: 95 * ms, maxPrev: 75 * ms, maxAfter: 805 * ms, lastBefore: 95 * ms, firstAfter: 900 * ms},
		{name: "confirms under way come first, then the stall", before: []time.Duration{90 * ms, 99 * ms}, after: []time.Duration{101 * ms, 102 * ms, 1500 * ms},
			resumed: true, gap: 1398 * ms, start: 102 * ms, maxPrev: 9 * ms, maxAfter: 1398 * ms, lastBefore: 99 * ms, firstAfter: 101 * ms},
		{name: "a later, longer stall is not the kill's", before: []time.Duration{90 * ms}, after: []time.Duration{150 * ms, 1200 * ms, 3000 * ms},
			resumed: true, gap: 1050 * ms, start: 150 * ms, maxAfter: 1800 * ms, lastBefore: 90 * ms, firstAfter: 150 * ms},
		{name: "nothing after the kill", before: []time.Duration{10 * ms, 50 * ms}, maxPrev: 40 * ms, lastBefore: 50 * ms},
		{name: "nothing before the kill", after: []time.Duration{300 * ms, 310 * ms}, resumed: true, gap: 10 * ms, start: 300 * ms, maxAfter: 10 * ms, firstAfter: 300 * ms},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var g gapTracker
			for _, e := range tc.before {
				g.event(e)
			}
			g.kill(100 * ms)
			for _, e := range tc.after {
				g.event(e)
			}
			s := g.report(0, "u")
			rel := func(d time.Duration) float64 { return float64(d-100*ms) / float64(ms) }
			if s.Resumed != tc.resumed || s.EventsAfter != uint64(len(tc.after)) {
				t.Errorf("resumed %v after %d events, want %v and %d", s.Resumed, s.EventsAfter, tc.resumed, len(tc.after))
			}
			if s.GapMillis != float64(tc.gap)/float64(ms) || (tc.gap > 0 && s.GapStartMillis != rel(tc.start)) {
				t.Errorf("gap %v ms from %v ms, want %v from %v", s.GapMillis, s.GapStartMillis, tc.gap, rel(tc.start))
			}
			if s.MaxGapBeforeMillis != float64(tc.maxPrev)/float64(ms) || s.MaxGapAfterMillis != float64(tc.maxAfter)/float64(ms) {
				t.Errorf("longest pauses before and after %v and %v ms, want %v and %v", s.MaxGapBeforeMillis, s.MaxGapAfterMillis, tc.maxPrev, tc.maxAfter)
			}
			if (s.LastBeforeMillis == nil) != (len(tc.before) == 0) || (s.LastBeforeMillis != nil && *s.LastBeforeMillis != rel(tc.lastBefore)) {
				t.Errorf("last before %v, want %v", s.LastBeforeMillis, rel(tc.lastBefore))
			}
			if (s.FirstAfterMillis == nil) != (len(tc.after) == 0) || (s.FirstAfterMillis != nil && *s.FirstAfterMillis != rel(tc.firstAfter)) {
				t.Errorf("first after %v, want %v", s.FirstAfterMillis, rel(tc.firstAfter))
			}
		})
	}
}

func TestGapTrackerFollowsAReconnection(t *testing.T) {
	ms := time.Millisecond
	var g gapTracker
	g.connected("a")
	g.event(90 * ms)
	g.kill(100 * ms)
	g.connectionLost(102 * ms)
	g.nack(103 * ms)
	g.reconnected(150*ms, "b")
	g.resend(7)
	g.event(400 * ms) // a nack
	g.nack(400 * ms)
	g.event(401 * ms)
	g.ack(401 * ms)
	s := g.report(3, "a")
	if s.ID != 3 || s.URL != "a" || g.currentURL() != "b" || s.Reconnects != 1 || s.Resent != 7 || s.NacksAfter != 2 || s.AcksAfter != 1 {
		t.Errorf("report %+v, current URL %q", s, g.currentURL())
	}
	for name, got := range map[string]*float64{"lost": s.LostMillis, "reconnected": s.ReconnectedMillis,
		"first after reconnect": s.FirstAfterReconnectMillis, "first ack after reconnect": s.FirstAckAfterReconnectMillis} {
		want := map[string]float64{"lost": 2, "reconnected": 50, "first after reconnect": 300, "first ack after reconnect": 301}[name]
		if got == nil || *got != want {
			t.Errorf("%s at %v ms, want %v", name, got, want)
		}
	}
	if s.GapMillis != 310 {
		t.Errorf("gap %v ms, want 310 (from the last confirm at -10 ms to the first at +300 ms)", s.GapMillis)
	}
}

func TestPendingRingKeepsOrderAcrossTheWrap(t *testing.T) {
	q := newPendingRing(3)
	seqs := func(ps []pending) []uint64 {
		var out []uint64
		for _, p := range ps {
			out = append(out, p.seq)
		}
		return out
	}
	q.push(pending{seq: 0})
	q.push(pending{seq: 1})
	if m, ok := q.popFront(); !ok || m.seq != 0 {
		t.Fatalf("popFront = %v, %v", m, ok)
	}
	q.push(pending{seq: 2})
	q.push(pending{seq: 3}) // wraps
	q.push(pending{seq: 4}) // full: dropped
	q.popBack()             // takes 3 back
	q.push(pending{seq: 5})
	if got := seqs(q.drain()); !slices.Equal(got, []uint64{1, 2, 5}) {
		t.Errorf("drain = %v, want [1 2 5]", got)
	}
	if _, ok := q.popFront(); ok {
		t.Error("a drained ring is not empty")
	}
}

func TestURLRingStartsByIDAndWraps(t *testing.T) {
	u := newURLRing([]string{"a", "b", "c"}, 4)
	var got []string
	got = append(got, u.current())
	for range 3 {
		got = append(got, u.advance())
	}
	if !slices.Equal(got, []string{"b", "c", "a", "b"}) {
		t.Errorf("got %v", got)
	}
}

func TestTotalQueueCheckCountsOnlyConfirmedMessagesLost(t *testing.T) {
	c := DefaultConfig()
	topo := newTopology(&c, "p")
	l := newLedger(topo, 1)
	l.confirmedOnly = true
	pl := l.producers[0]
	pl.published.Store(6)
	pl.ack(0) // confirmed, consumed
	pl.ack(1) // confirmed, never consumed: lost
	// 2: never confirmed, consumed: recovered
	// 3: never confirmed, never consumed: in doubt
	l.exclude(0, 4) // nacked, consumed: recovered
	l.exclude(0, 5) // nacked, never consumed: nothing
	for _, seq := range []uint64{0, 2, 4} {
		l.receive(0, Stamp{Seq: seq})
	}
	l.receive(0, Stamp{Seq: 0})
	l.receive(0, Stamp{Seq: 9})
	got := l.settle()
	want := tally{expected: 4, received: 3, lost: 1, duplicates: 1, unexpected: 1, recovered: 2, inDoubt: 1}
	if got != want {
		t.Errorf("settle = %+v, want %+v", got, want)
	}
	l.confirmedOnly = false
	if got := l.settle(); got.lost != 2 || got.recovered != 0 || got.inDoubt != 0 {
		t.Errorf("the strict check of the same ledger = %+v, want 2 lost (seqs 1 and 3)", got)
	}
}

func TestValidateFailoverSettings(t *testing.T) {
	cases := map[string]struct {
		set func(c *Config)
		ok  bool
	}{
		"reconnect with confirms":        {func(c *Config) { c.Reconnect, c.ConfirmWindow = true, 10 }, true},
		"reconnect without confirms":     {func(c *Config) { c.Reconnect = true }, false},
		"reconnecting consumers only":    {func(c *Config) { c.Reconnect, c.Producers = true, 0 }, true},
		"kill inside the window":         {func(c *Config) { c.KillPID, c.KillAfter = 42, 2*time.Second }, true},
		"kill without a time":            {func(c *Config) { c.KillPID = 42 }, false},
		"time without a process":         {func(c *Config) { c.KillAfter = time.Second }, false},
		"kill after the window":          {func(c *Config) { c.KillPID, c.KillAfter = 42, 10*time.Second }, false},
		"kill the sampled broker":        {func(c *Config) { c.KillPID, c.KillAfter, c.BrokerPID = 42, time.Second, 42 }, false},
		"kill a sampled node of several": {func(c *Config) { c.KillPID, c.KillAfter, c.OtherBrokerPIDs = 42, time.Second, []int{42} }, false},
	}
	for name, tc := range cases {
		c := DefaultConfig()
		tc.set(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok %v", name, err, tc.ok)
		}
	}
}
