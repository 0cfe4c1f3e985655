package wal

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/warrenmq/warren/queue/store"
)

// BenchmarkGroupCommit measures the fsync shared across groups: that many
// groups append concurrently, each one entry per StoreLogs (16 bytes of
// data, as a quorum queue's enqueue of a small message) and waiting for it
// to be durable before the next, as a Raft leader with one proposal in
// flight. It reports fsyncs per second and entries per fsync: with one
// fsync per round for all groups, entries per fsync grows with the number
// of groups while fsyncs per second stays that of the disk.
func BenchmarkGroupCommit(b *testing.B) {
	for _, groups := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			w := openWAL(b, b.TempDir(), Options{})
			gs := make([]*GroupStore, groups)
			for i := range gs {
				gs[i] = group(b, w, fmt.Sprintf("q%d", i))
			}
			data := make([]byte, 16)
			var next atomic.Int64
			before := w.Stats()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, g := range gs {
				wg.Go(func() {
					l := raft.Log{Type: raft.LogCommand, Data: data, Term: 1}
					for index := uint64(1); next.Add(1) <= int64(b.N); index++ {
						l.Index = index
						if err := g.StoreLogs([]*raft.Log{&l}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			took := time.Since(start)
			b.StopTimer()
			st := w.Stats()
			fsyncs := max(st.Fsyncs-before.Fsyncs, 1)
			b.ReportMetric(float64(fsyncs)/took.Seconds(), "fsyncs/s")
			b.ReportMetric(float64(b.N)/float64(fsyncs), "entries/fsync")
			b.ReportMetric(float64(b.N)/took.Seconds(), "entries/s")
		})
	}
}

// BenchmarkLogPerGroup is the alternative this package avoids, for
// comparison with BenchmarkGroupCommit: a queue/store log per group, whose
// sync loop fsyncs each busy log's file (in parallel) every round.
func BenchmarkLogPerGroup(b *testing.B) {
	for _, groups := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			st, err := store.Open(b.TempDir(), store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			logs := make([]*store.Log, groups)
			for i := range logs {
				if logs[i], _, err = st.OpenLog(fmt.Sprintf("q%d", i), store.LogOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			payload := appendEntry(nil, 1, 0, &raft.Log{Type: raft.LogCommand, Data: make([]byte, 16), Term: 1, Index: 1})
			var next atomic.Int64
			before := st.Stats()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for _, l := range logs {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						seq, err := l.Append(flagEntry, payload)
						if err == nil {
							err = <-l.Wait(seq)
						}
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			took := time.Since(start)
			b.StopTimer()
			fsyncs := max(st.Stats().Fsyncs-before.Fsyncs, 1)
			b.ReportMetric(float64(fsyncs)/took.Seconds(), "fsyncs/s")
			b.ReportMetric(float64(b.N)/float64(fsyncs), "entries/fsync")
			b.ReportMetric(float64(b.N)/took.Seconds(), "entries/s")
		})
	}
}
