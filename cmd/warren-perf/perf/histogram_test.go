package perf

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHistogramBucketsCoverEveryValue(t *testing.T) {
	// Every value must land in a bucket whose upper edge is at or above it and
	// within 1/128 of it: that is the precision the reports promise.
	for _, v := range []int64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 20, 999_999_999, 1<<42 - 1} {
		i := bucketOf(v)
		hi := bucketHigh(i)
		if hi < v {
			t.Errorf("value %d: bucket %d ends at %d, below the value", v, i, hi)
		}
		if float64(hi-v) > float64(v)/subCount+1 {
			t.Errorf("value %d: bucket %d ends at %d, more than 1/%d above", v, i, hi, subCount)
		}
		if i > 0 && bucketHigh(i-1) >= v {
			t.Errorf("value %d: previous bucket %d already ends at %d", v, i-1, bucketHigh(i-1))
		}
	}
	if got := bucketOf(1 << 50); got != numBuckets-1 {
		t.Errorf("huge value: bucket %d, want the last %d", got, numBuckets-1)
	}
}

func TestHistogramQuantilesMatchSortedSamples(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	samples := make([]int64, 100_000)
	for i := range samples {
		// Log-normal-ish latencies from 10 µs to about 100 ms.
		samples[i] = int64(10_000 * (1 + r.ExpFloat64()*r.ExpFloat64()*50))
		h.Record(time.Duration(samples[i]))
	}
	slices.Sort(samples)
	s := h.Snapshot()
	if s.Count != uint64(len(samples)) {
		t.Fatalf("count %d, want %d", s.Count, len(samples))
	}
	for _, q := range []float64{0.5, 0.95, 0.99, 0.999, 1} {
		want := samples[max(0, int(q*float64(len(samples)))-1)]
		got := int64(s.Quantile(q))
		if got < want || float64(got-want) > float64(want)/subCount+1 {
			t.Errorf("p%v = %d, exact %d: off by more than one bucket", q*100, got, want)
		}
	}
	if s.Max != time.Duration(samples[len(samples)-1]) {
		t.Errorf("max %v, want %v", s.Max, time.Duration(samples[len(samples)-1]))
	}
}

func TestHistogramSubGivesTheInterval(t *testing.T) {
	var h Histogram
	for range 1000 {
		h.Record(time.Millisecond)
	}
	before := h.Snapshot()
	for range 10 {
		h.Record(50 * time.Millisecond)
	}
	d := h.Snapshot().Sub(before)
	if d.Count != 10 {
		t.Fatalf("interval count %d, want 10", d.Count)
	}
	if p := d.Quantile(0.5); p < 50*time.Millisecond || p > 51*time.Millisecond {
		t.Errorf("interval p50 %v, want about 50ms", p)
	}
	if empty := h.Snapshot().Sub(h.Snapshot()); empty.Count != 0 || empty.Quantile(0.99) != 0 {
		t.Errorf("empty interval: count %d p99 %v", empty.Count, empty.Quantile(0.99))
	}
}

func TestHistogramConcurrentRecording(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10_000 {
				h.Record(time.Duration(g*1000 + i))
			}
		})
	}
	wg.Wait()
	if s := h.Snapshot(); s.Count != 80_000 {
		t.Errorf("count %d after 8×10000 concurrent records", s.Count)
	}
}

func TestStampRoundTrip(t *testing.T) {
	in := Stamp{SentNanos: 123456789012, Producer: 65535, Seq: 1<<47 + 5}
	b := make([]byte, StampSize)
	in.Put(b)
	out, err := ReadStamp(b)
	if err != nil || out != in {
		t.Errorf("round trip: got %+v, %v; want %+v", out, err, in)
	}
	if _, err := ReadStamp(b[:15]); err == nil {
		t.Error("a 15-byte body decoded without error")
	}
}
