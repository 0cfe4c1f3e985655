package mgmt

import (
	"reflect"
	"testing"
)

// TestSeriesRing: a series keeps its newest points, newest first, across
// the ring's wrap, and keeps them when it grows into a history.
func TestSeriesRing(t *testing.T) {
	s := newSeries(2, 2)
	for i := range uint64(5) {
		s.add(int64(i)*1000, []uint64{i, 10 * i})
	}
	check := func(want ...int64) {
		t.Helper()
		if s.n != len(want) {
			t.Fatalf("%d points, want %d", s.n, len(want))
		}
		for i, w := range want {
			if ts, v := s.point(i); ts != w || v[0] != uint64(w/1000) || v[1] != 10*uint64(w/1000) {
				t.Fatalf("point %d = %d %v, want %d", i, ts, v, w)
			}
		}
	}
	check(4000, 3000)
	s.grow(4)
	s.add(5000, []uint64{5, 50})
	check(5000, 4000, 3000)
}

// TestDetails: a rate is the change between the two newest points per
// second; a counter that fell (a new object) has rate 0, a length that
// fell a negative one; a range samples every increment, newest first,
// from the newest point at or before each, with avg_rate and avg.
func TestDetails(t *testing.T) {
	for _, c := range []struct {
		name    string
		points  [][2]int64 // time (ms), value
		counter bool
		rg      *rangeSpec
		want    item
	}{
		{"one point", [][2]int64{{1000, 7}}, true, nil, item{"n": uint64(7), "n_details": item{"rate": 0.0}}},
		{"rising", [][2]int64{{1000, 7}, {3000, 17}}, true, nil, item{"n": uint64(17), "n_details": item{"rate": 5.0}}},
		{"counter reset", [][2]int64{{1000, 7}, {3000, 2}}, true, nil, item{"n": uint64(2), "n_details": item{"rate": 0.0}}},
		{"length falling", [][2]int64{{1000, 8}, {3000, 2}}, false, nil, item{"n": uint64(2), "n_details": item{"rate": -3.0}}},
		{"range", [][2]int64{{900, 1}, {2100, 4}, {4900, 10}}, true, &rangeSpec{last: 5000, age: 4000, incr: 2000},
			item{"n": uint64(10), "n_details": item{"rate": 3.0, "avg_rate": 2.25, "avg": 5.0, "samples": []item{
				{"sample": uint64(10), "timestamp": int64(5000)}, {"sample": uint64(4), "timestamp": int64(3000)},
				{"sample": uint64(1), "timestamp": int64(1000)}}}}},
		{"range before the first point", [][2]int64{{4900, 10}}, true, &rangeSpec{last: 4000, age: 4000, incr: 2000},
			item{"n": uint64(0), "n_details": item{"rate": 0.0, "samples": []item{}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSeries(1, historyPoints)
			for _, p := range c.points {
				s.add(p[0], []uint64{uint64(p[1])})
			}
			got := item{}
			putGroup(got, s, figures(0, "n"), c.rg, c.counter, true)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestMessageStatsPresence: an object's message_stats holds only the
// groups that counted something, and is absent when none did.
func TestMessageStatsPresence(t *testing.T) {
	s := newSeries(qWidth, 2)
	s.add(1000, make([]uint64, qWidth))
	if ms := messageStats(s, nil, queuePublish, queueDeliver); ms != nil {
		t.Fatalf("message_stats of a queue that counted nothing: %v", ms)
	}
	v := make([]uint64, qWidth)
	v[qPublish] = 3
	s.add(2000, v)
	ms := messageStats(s, nil, queuePublish, queueDeliver)
	if ms["publish"] != uint64(3) || ms["publish_details"] == nil || ms["deliver_get"] != nil {
		t.Fatalf("message_stats after publishes only: %v", ms)
	}
}
