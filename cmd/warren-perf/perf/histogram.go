package perf

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The histogram is log-linear, as HdrHistogram is: values below 2^subBits
// have a bucket each, and every power of two above that is split into
// 2^subBits linear sub-buckets, so a bucket's width is under 1/128 of its
// value (two significant digits) whatever the magnitude.
const (
	subBits    = 7
	subCount   = 1 << subBits
	maxBits    = 42 // values up to 2^42 ns (73 minutes); larger ones are clamped
	numBuckets = (maxBits - subBits + 1) * subCount
)

// Histogram records durations in nanoseconds into fixed-size log-linear
// buckets. Recording is lock-free and safe from many goroutines; memory is
// fixed (about 36 KiB) however many values are recorded.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	total  atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Int64
}

// bucketOf returns the bucket index for a non-negative value.
func bucketOf(v int64) int {
	if v < subCount {
		if v < 0 {
			return 0
		}
		return int(v)
	}
	if v >= 1<<maxBits {
		v = 1<<maxBits - 1
	}
	k := bits.Len64(uint64(v)) - subBits - 1 // shift that leaves subBits+1 significant bits
	m := int(v >> k)                         // in [subCount, 2*subCount)
	return (k+1)*subCount + m - subCount
}

// bucketHigh returns the largest value that falls into bucket i.
func bucketHigh(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	k := i/subCount - 1
	m := int64(i%subCount + subCount)
	return (m+1)<<k - 1
}

// Record adds one value.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Snapshot copies the histogram's current state. Values recorded while the
// copy is taken may or may not be included.
func (h *Histogram) Snapshot() *HistogramSnapshot {
	s := &HistogramSnapshot{Max: time.Duration(h.max.Load())}
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] = c
		s.Count += c
	}
	s.sum = h.sum.Load()
	return s
}

// HistogramSnapshot is an immutable copy of a Histogram, which can be
// queried for quantiles and subtracted from a later copy.
type HistogramSnapshot struct {
	counts [numBuckets]uint64
	sum    uint64
	// Count is the number of recorded values.
	Count uint64
	// Max is the largest value recorded (since the histogram began, also in
	// a difference).
	Max time.Duration
}

// Sub returns the values recorded between an earlier snapshot and s.
func (s *HistogramSnapshot) Sub(earlier *HistogramSnapshot) *HistogramSnapshot {
	d := &HistogramSnapshot{Max: s.Max}
	for i := range s.counts {
		c := s.counts[i] - min(s.counts[i], earlier.counts[i])
		d.counts[i] = c
		d.Count += c
	}
	if s.sum > earlier.sum {
		d.sum = s.sum - earlier.sum
	}
	if d.Count > 0 {
		// The largest bucket with values bounds the window's maximum.
		for i := numBuckets - 1; i >= 0; i-- {
			if d.counts[i] > 0 {
				d.Max = min(s.Max, time.Duration(bucketHigh(i)))
				break
			}
		}
	} else {
		d.Max = 0
	}
	return d
}

// Quantile returns the value at quantile q (0..1): the upper edge of the
// bucket holding the q-th value, capped at the maximum, so it is never below
// the true value by more than one bucket width. It is 0 when empty.
func (s *HistogramSnapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.Count)))
	rank = max(rank, 1)
	var seen uint64
	for i := range s.counts {
		seen += s.counts[i]
		if seen >= rank {
			return min(time.Duration(bucketHigh(i)), s.Max)
		}
	}
	return s.Max
}

// Mean returns the average recorded value, 0 when empty.
func (s *HistogramSnapshot) Mean() time.Duration {
	if s.Count == 0 {
		return 0
	}
	return time.Duration(s.sum / s.Count)
}
