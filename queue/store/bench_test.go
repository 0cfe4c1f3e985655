package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fillLog appends n records of size bytes and waits until they are durable.
func fillLog(tb testing.TB, l *Log, n, size int) {
	data := make([]byte, size)
	var last uint64
	for i := 0; i < n; i++ {
		seq, err := l.Append(0, data)
		if err != nil {
			tb.Fatal(err)
		}
		last = seq
	}
	if err := <-l.Wait(last); err != nil {
		tb.Fatal(err)
	}
}

// Start-up with a large backlog reads no bodies but the last segment's, so
// a million records recover far inside the 2 s budget.
func TestRecoveryOfLargeLogIsFast(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 120 MB")
	}
	dir := t.TempDir()
	s := openStore(t, dir, Options{})
	l, _ := openLog(t, s, "big")
	const n = 1_000_000
	fillLog(t, l, n, 100)
	l.Settle(1, 2, 3)
	l.Close()
	l, rec := openLog(t, s, "big")
	t.Logf("recovered %d records in %d segments in %v", rec.Count, rec.Segments, rec.Took)
	if rec.Count != n-3 || rec.First != 4 || len(rec.Damage) != 0 {
		t.Fatalf("recovery %+v", rec)
	}
	if rec.Took > 2*time.Second {
		t.Fatalf("recovery took %v", rec.Took)
	}
	// And the first records can be served at once.
	r := l.NewReader(rec.First)
	defer r.Close()
	if got, err := r.Next(); err != nil || got.Seq != 4 || !got.Recovered {
		t.Fatalf("first record %+v %v", got, err)
	}
}

// BenchmarkAppend measures group commit: appenders each append a record and
// wait until it is durable (a confirm), so every record costs its share of
// an fsync. "window" is one appender keeping 1000 records in flight, like a
// publisher with a confirm window of 1000.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, p := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("appenders=%d/size=%d", p, size), func(b *testing.B) {
				benchAppend(b, size, func(l *Log, data []byte, n int) {
					var next atomic.Int64
					var wg sync.WaitGroup
					for range p {
						wg.Go(func() {
							for next.Add(1) <= int64(n) {
								seq, err := l.Append(0, data)
								if err != nil {
									b.Error(err)
									return
								}
								if err := <-l.Wait(seq); err != nil {
									b.Error(err)
									return
								}
							}
						})
					}
					wg.Wait()
				})
			})
		}
		b.Run(fmt.Sprintf("window=1000/size=%d", size), func(b *testing.B) {
			benchAppend(b, size, nil)
		})
	}
}

func benchAppend(b *testing.B, size int, run func(l *Log, data []byte, n int)) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	window := make(chan struct{}, 1000)
	l, _, err := s.OpenLog("q", LogOptions{OnDurable: func(upTo uint64, err error) {
		for len(window) > 0 && cap(window) > 0 {
			// Release the records now durable (window mode only).
			if int64(upTo) <= released.Load() {
				break
			}
			<-window
			released.Add(1)
		}
	}})
	if err != nil {
		b.Fatal(err)
	}
	released.Store(0)
	data := make([]byte, size)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	st0 := s.Stats()
	b.ResetTimer()
	start := time.Now()
	if run != nil {
		window = make(chan struct{}) // no window: OnDurable does nothing
		run(l, data, b.N)
	} else {
		var last uint64
		for range b.N {
			window <- struct{}{}
			seq, err := l.Append(0, data)
			if err != nil {
				b.Fatal(err)
			}
			last = seq
		}
		if err := <-l.Wait(last); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start).Seconds()
	b.StopTimer()
	st := s.Stats()
	rounds := float64(st.Rounds - st0.Rounds)
	b.ReportMetric(float64(b.N)/el, "records/s")
	b.ReportMetric(rounds/el, "rounds/s")
	b.ReportMetric(float64(b.N)/max(rounds, 1), "records/round")
	l.Close()
}

var released atomic.Int64

// BenchmarkRecovery measures OpenLog on a log of n 16-byte records.
func BenchmarkRecovery(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			s, err := Open(dir, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			l, _, err := s.OpenLog("q", LogOptions{})
			if err != nil {
				b.Fatal(err)
			}
			fillLog(b, l, n, 16)
			l.Close()
			b.ReportAllocs()
			b.ResetTimer()
			var segs int
			for range b.N {
				l, rec, err := s.OpenLog("q", LogOptions{})
				if err != nil || rec.Count != uint64(n) {
					b.Fatal(rec, err)
				}
				segs = rec.Segments
				l.Close()
			}
			b.ReportMetric(float64(segs), "segments")
		})
	}
}
