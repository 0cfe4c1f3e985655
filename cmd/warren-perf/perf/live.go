package perf

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// reporter turns the run's counters into one timeline point and one live
// line a second.
type reporter struct {
	r        *run
	w        io.Writer
	tty      bool
	start    time.Time
	last     time.Time
	lastPub  uint64
	lastConf uint64
	lastCons uint64
	lastCL   *HistogramSnapshot
	lastEL   *HistogramSnapshot
	points   []Point
}

// newReporter starts reporting at the window's start.
func newReporter(r *run, w io.Writer, start time.Time) *reporter {
	rep := &reporter{r: r, w: w, start: start, last: start,
		lastCL: r.confirmLat.Snapshot(), lastEL: r.e2eLat.Snapshot()}
	rep.lastPub, rep.lastConf, rep.lastCons = r.published.Load(), r.confirmed.Load(), r.consumed.Load()
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			rep.tty = true
		}
	}
	return rep
}

// tick records the interval since the last tick and prints the live line.
func (rep *reporter) tick(sampling bool) {
	r := rep.r
	now := time.Now()
	dt := now.Sub(rep.last).Seconds()
	if dt <= 0 {
		return
	}
	pub, conf, cons := r.published.Load(), r.confirmed.Load(), r.consumed.Load()
	cl, el := r.confirmLat.Snapshot(), r.e2eLat.Snapshot()
	pt := Point{
		Second:    now.Sub(rep.start).Seconds(),
		Published: float64(pub-rep.lastPub) / dt,
		Confirmed: float64(conf-rep.lastConf) / dt,
		Consumed:  float64(cons-rep.lastCons) / dt,
	}
	if sampling {
		if s, err := r.cfg.readBroker(); err == nil {
			pt.RSS = s.RSS
		}
	}
	rep.points = append(rep.points, pt)
	if rep.w != nil {
		rep.print(pt, cl.Sub(rep.lastCL), el.Sub(rep.lastEL))
	}
	rep.last, rep.lastPub, rep.lastConf, rep.lastCons = now, pub, conf, cons
	rep.lastCL, rep.lastEL = cl, el
}

// finish records the last partial second, if it is worth a point, and ends
// the live line.
func (rep *reporter) finish(sampling bool) {
	if time.Since(rep.last) > 200*time.Millisecond {
		rep.tick(sampling)
	}
	if rep.w != nil && rep.tty {
		fmt.Fprintln(rep.w)
	}
}

// print writes one live line.
func (rep *reporter) print(pt Point, cl, el *HistogramSnapshot) {
	r := rep.r
	var b strings.Builder
	elapsed := time.Duration(pt.Second * float64(time.Second)).Round(time.Second)
	fmt.Fprintf(&b, "%s %4s", r.cfg.Name, elapsed)
	if d := r.cfg.Duration; d > 0 {
		const width = 20
		filled := min(width, int(float64(width)*pt.Second/d.Seconds()))
		fmt.Fprintf(&b, "/%s [%s%s]", d, strings.Repeat("=", filled), strings.Repeat(" ", width-filled))
	}
	fmt.Fprintf(&b, " pub %.0f/s", pt.Published)
	if r.cfg.ConfirmWindow > 0 {
		fmt.Fprintf(&b, " conf %.0f/s", pt.Confirmed)
	}
	fmt.Fprintf(&b, " cons %.0f/s", pt.Consumed)
	if cl.Count > 0 {
		fmt.Fprintf(&b, " | confirm p50 %s p99 %s", fmtDur(cl.Quantile(0.5)), fmtDur(cl.Quantile(0.99)))
	}
	if el.Count > 0 {
		fmt.Fprintf(&b, " | e2e p50 %s p99 %s", fmtDur(el.Quantile(0.5)), fmtDur(el.Quantile(0.99)))
	}
	if r.cfg.IdleConnections > 0 {
		fmt.Fprintf(&b, " | idle conns %d", r.cfg.IdleConnections)
	}
	if pt.RSS > 0 {
		fmt.Fprintf(&b, " | broker RSS %s", fmtBytes(pt.RSS))
	}
	if rep.tty {
		fmt.Fprintf(rep.w, "\r\033[K%s", b.String())
	} else {
		fmt.Fprintln(rep.w, b.String())
	}
}

// fmtDur formats a latency for the live line.
func fmtDur(d time.Duration) string {
	return fmtMicros(float64(d) / float64(time.Microsecond))
}
