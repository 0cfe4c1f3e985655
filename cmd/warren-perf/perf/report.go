package perf

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// Headline returns a result's figure for a measure, and whether there is one.
func Headline(r *Result, measure string) (float64, bool) {
	if r == nil || r.Status == StatusUnsupported || r.WindowSeconds == 0 {
		return 0, false
	}
	switch measure {
	case MeasureConsumed:
		return r.Window.ConsumedRate, true
	case MeasureConfirmed:
		return r.Window.ConfirmedRate, true
	case MeasureLatency:
		return r.EndToEndLatency.P50, r.EndToEndLatency.Count > 0
	case MeasureRSSPerConn:
		if r.Broker == nil || r.IdleConnections == 0 {
			return 0, false
		}
		return r.Broker.RSSPerIdleConnection / 1024, true
	}
	return 0, false
}

// cell formats a result's headline figure for the table.
func cell(r *Result, measure string) string {
	if r == nil {
		return "–"
	}
	if r.Status == StatusUnsupported {
		return "unsupported"
	}
	v, ok := Headline(r, measure)
	if !ok {
		if r.Status == StatusFailed {
			return "failed"
		}
		return "n/a"
	}
	s := fmt.Sprintf("%.0f", v)
	if measure == MeasureRSSPerConn {
		s = fmt.Sprintf("%.1f", v)
	}
	if r.Status == StatusFailed {
		s += " (failed)"
	}
	return s
}

// p99Cell formats the end-to-end p99 latency.
func p99Cell(r *Result) string {
	if r == nil || r.EndToEndLatency.Count == 0 {
		return "–"
	}
	return fmtMicros(r.EndToEndLatency.P99)
}

// cpuCell formats CPU µs per message.
func cpuCell(r *Result) string {
	if r == nil || r.Broker == nil || r.Broker.CPUMicrosPerMessage == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", r.Broker.CPUMicrosPerMessage)
}

// ratioCell formats ours/theirs when both have a figure.
func ratioCell(row Row) string {
	a, ok1 := Headline(row.Ours, row.Scenario.Measure)
	b, ok2 := Headline(row.Theirs, row.Scenario.Measure)
	if !ok1 || !ok2 || b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

// WriteMarkdown writes the suite's results table, followed by each run's
// failures and anomalies.
func WriteMarkdown(w io.Writer, s *Suite, rows []Row) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	compare := s.Theirs.URI != ""
	p("# warren-perf results")
	p("")
	p("Produced by `%s` on %s (%s/%s, %d CPUs). Each scenario's window: %s.",
		s.Command, time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), s.Duration)
	if s.loadBefore != "" {
		p("Load average (1, 5, 15 min) before the suite: %s; after: %s.", s.loadBefore, s.loadAfter)
	}
	if compare {
		p("The two brokers ran in alternation, scenario by scenario, the first one swapping each time.")
		p("Ratio is %s/%s: above 1 is better for %s in throughput, worse in latency and memory.", s.Ours.Label, s.Theirs.Label, s.Ours.Label)
	}
	p("Producers pause while %d of their messages are unconsumed, so rates are sustained ones with short queues.", SuiteMaxInFlight)
	p("CPU µs/msg is the broker's user+system CPU over the window per message published in it (from /proc, when its pid was given).")
	p("")
	if compare {
		o, t := s.Ours.Label, s.Theirs.Label
		p("| scenario | measure | %s | %s | %s/%s | p99 e2e %s | p99 e2e %s | CPU µs/msg %s | CPU µs/msg %s |", o, t, o, t, o, t, o, t)
		p("|---|---|--:|--:|--:|--:|--:|--:|--:|")
		for _, r := range rows {
			p("| [%s](%s.svg) | %s | %s | %s | %s | %s | %s | %s | %s |", r.Scenario.Name, r.Scenario.Name, r.Scenario.Measure,
				cell(r.Ours, r.Scenario.Measure), cell(r.Theirs, r.Scenario.Measure), ratioCell(r),
				p99Cell(r.Ours), p99Cell(r.Theirs), cpuCell(r.Ours), cpuCell(r.Theirs))
		}
	} else {
		p("| scenario | measure | %s | p50 e2e | p99 e2e | CPU µs/msg | broker RSS |", s.Ours.Label)
		p("|---|---|--:|--:|--:|--:|--:|")
		for _, r := range rows {
			rss := "–"
			if r.Ours.Broker != nil {
				rss = fmtBytes(r.Ours.Broker.RSSEnd)
			}
			p50 := "–"
			if r.Ours.EndToEndLatency.Count > 0 {
				p50 = fmtMicros(r.Ours.EndToEndLatency.P50)
			}
			p("| [%s](%s.svg) | %s | %s | %s | %s | %s | %s |", r.Scenario.Name, r.Scenario.Name, r.Scenario.Measure,
				cell(r.Ours, r.Scenario.Measure), p50, p99Cell(r.Ours), cpuCell(r.Ours), rss)
		}
	}
	p("")
	p("## Scenarios")
	p("")
	for _, r := range rows {
		p("- **%s**: %s", r.Scenario.Name, r.Scenario.Title)
	}
	var notes []string
	for _, r := range rows {
		for _, pair := range []struct {
			label string
			res   *Result
		}{{s.Ours.Label, r.Ours}, {s.Theirs.Label, r.Theirs}} {
			res := pair.res
			if res == nil {
				continue
			}
			if res.Reason != "" {
				notes = append(notes, fmt.Sprintf("- %s on %s: **%s**: %s", r.Scenario.Name, pair.label, res.Status, res.Reason))
			}
			for _, a := range res.Anomalies {
				ex := ""
				if len(a.Examples) > 0 {
					ex = " (" + strings.Join(a.Examples, "; ") + ")"
				}
				notes = append(notes, fmt.Sprintf("- %s on %s: %d × %s%s", r.Scenario.Name, pair.label, a.Count, a.Kind, ex))
			}
		}
	}
	p("")
	p("## Failures and anomalies")
	p("")
	if len(notes) == 0 {
		p("None: every published message was delivered exactly once.")
	} else {
		for _, n := range notes {
			p("%s", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
