package mgmt

import (
	"fmt"
	"strconv"
)

// How samples become RabbitMQ's message_stats, queue_totals and the
// other *_details objects (rabbit_mgmt_stats:format_range): a figure is
// the newest sample's, its rate the change between the two newest
// samples per second (the "basic" rates_mode); with a range
// (?msg_rates_age=…&msg_rates_incr=… and the lengths_ and data_ ones) a
// details object also holds the samples at each increment of the range,
// newest first, with avg_rate and avg.

// field is one figure: the sum of the values at idx (one value, or
// several for deliver_get and messages).
type field struct {
	name string
	idx  []int
}

// group is the figures RabbitMQ reports together (one of its stats
// tables), laid out from a base index of a series.
type group []field

func figures(base int, names ...string) group {
	g := make(group, len(names))
	for i, n := range names {
		g[i] = field{name: n, idx: []int{base + i}}
	}
	return g
}

// fineGroup: a channel's, vhost's or the node's publishing
// (channel_stats_fine_stats, vhost_stats_fine_stats), 4 values.
func fineGroup(base int) group {
	return figures(base, "publish", "confirm", "return_unroutable", "drop_unroutable")
}

// deliverGroup: deliveries and gets (queue_stats_deliver_stats …), 7
// values; deliver_get is the sum of the first four.
func deliverGroup(base int) group {
	g := figures(base, "get", "get_no_ack", "deliver", "deliver_no_ack", "redeliver", "ack", "get_empty")
	return append(g, field{name: "deliver_get", idx: []int{base, base + 1, base + 2, base + 3}})
}

// lengthGroup: ready and unacknowledged messages (queue_msg_stats,
// vhost_msg_stats), 2 values; messages is their sum.
func lengthGroup(base int) group {
	g := figures(base, "messages_ready", "messages_unacknowledged")
	return append(g, field{name: "messages", idx: []int{base, base + 1}})
}

// octetGroup: socket traffic (connection_stats_coarse_conn_stats), 2 values.
func octetGroup(base int) group { return figures(base, "recv_oct", "send_oct") }

// churnGroup: the node's churn (connection_churn_rates), 7 values.
func churnGroup(base int) group {
	return figures(base, "connection_created", "connection_closed", "channel_created", "channel_closed",
		"queue_declared", "queue_created", "queue_deleted")
}

// rangeSpec is a range of samples a request asks for (RabbitMQ's
// #range): grid points every incr milliseconds from last back to
// last-age.
type rangeSpec struct{ last, age, incr int64 }

// ranges are a request's ranges: lengths_ (queue lengths, churn),
// msg_rates_ (message_stats) and data_rates_ (octets).
type ranges struct{ lengths, msgRates, dataRates *rangeSpec }

// maxRange bounds the samples of one range (RabbitMQ's ?MAX_RANGE).
const maxRange = 500

// parseRanges reads a request's ranges as rabbit_mgmt_util:range does: a
// prefix without both an integer _age and _incr has none; a range with
// age or incr not positive, or more than maxRange increments, is 400.
func parseRanges(r *request, now int64) (ranges, *apiError) {
	var rg ranges
	for _, p := range []struct {
		prefix string
		dst    **rangeSpec
	}{{"lengths", &rg.lengths}, {"msg_rates", &rg.msgRates}, {"data_rates", &rg.dataRates}} {
		q := r.URL.Query()
		age, err1 := strconv.ParseInt(q.Get(p.prefix+"_age"), 10, 64)
		incr, err2 := strconv.ParseInt(q.Get(p.prefix+"_incr"), 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if age <= 0 || incr <= 0 || age/incr > maxRange || age > 1<<40 || incr > 1<<40 {
			return rg, badRequest(fmt.Sprintf("Invalid range parameters: age %d, incr %d", age, incr))
		}
		incr *= 1000
		*p.dst = &rangeSpec{last: now / incr * incr, age: age * 1000, incr: incr}
	}
	return rg, nil
}

// sum is f's figure in the values v.
func (f field) sum(v []uint64) uint64 {
	var n uint64
	for _, i := range f.idx {
		n += v[i]
	}
	return n
}

// rate is the change from (t1, a) to (t0, b) per second; a counter never
// falls (one that did was reset: its object is new), a length may.
func rate(b, a uint64, t0, t1 int64, counter bool) float64 {
	if t0 <= t1 || (counter && b < a) {
		return 0.0
	}
	return (float64(b) - float64(a)) * 1000 / float64(t0-t1)
}

// nonZero reports whether any figure of g is not 0 in s's newest point.
func nonZero(s *series, g group) bool {
	if s == nil || s.n == 0 {
		return false
	}
	_, v := s.point(0)
	for _, f := range g {
		if f.sum(v) != 0 {
			return true
		}
	}
	return false
}

// putGroup writes g's figures of s into it: with counts, each figure;
// always, its name_details with the rate (and, with rg, the samples).
// counter says whether the figures only grow.
func putGroup(it item, s *series, g group, rg *rangeSpec, counter, counts bool) {
	if s == nil || s.n == 0 {
		return
	}
	for _, f := range g {
		var n uint64
		var details item
		if rg != nil {
			n, details = rangeDetails(s, f, rg, counter)
		} else {
			t0, v0 := s.point(0)
			n = f.sum(v0)
			r := 0.0
			if s.n > 1 {
				t1, v1 := s.point(1)
				r = rate(n, f.sum(v1), t0, t1, counter)
			}
			details = item{"rate": r}
		}
		if counts {
			it[f.name] = n
		}
		it[f.name+"_details"] = details
	}
}

// rangeDetails is a figure's details over rg: the figure at each grid
// point (the newest sample at or before it) back to the first point the
// series reaches, the rate between the two newest, and avg_rate and avg
// as RabbitMQ's average/3 computes them.
func rangeDetails(s *series, f field, rg *rangeSpec, counter bool) (uint64, item) {
	type pt struct {
		t int64
		v uint64
	}
	var pts []pt
	j := 0
	for g := rg.last; g >= rg.last-rg.age; g -= rg.incr {
		for j < s.n {
			if t, _ := s.point(j); t <= g {
				break
			}
			j++
		}
		if j == s.n {
			break
		}
		_, v := s.point(j)
		pts = append(pts, pt{g, f.sum(v)})
	}
	samples := make([]item, len(pts))
	var total float64
	for i, p := range pts {
		samples[i] = item{"sample": p.v, "timestamp": p.t}
		total += float64(p.v)
	}
	d := item{"rate": 0.0, "samples": samples}
	if len(pts) == 0 {
		return 0, d
	}
	if len(pts) > 1 {
		d["rate"] = rate(pts[0].v, pts[1].v, pts[0].t, pts[1].t, counter)
		last := pts[len(pts)-1]
		d["avg_rate"] = rate(pts[0].v, last.v, pts[0].t, last.t, false)
		d["avg"] = total / float64(len(pts))
	}
	return pts[0].v, d
}

// messageStats is an object's message_stats: each group of figures that
// is not all 0 (RabbitMQ reports a table once it has had an event), or
// nil when none is.
func messageStats(s *series, rg *rangeSpec, groups ...group) item {
	var it item
	for _, g := range groups {
		if !nonZero(s, g) {
			continue
		}
		if it == nil {
			it = item{}
		}
		putGroup(it, s, g, rg, true, true)
	}
	return it
}
