package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// crashPayload is a self-describing record body: its size follows from its
// key, so any record found after a crash can be checked without a table.
func crashPayload(key uint64) []byte { return payload(key, int(key*7919%1500)) }

// Power loss, simulated 20 times in a row on one store: appenders publish
// and wait for confirms while a consumer reads and settles, then the file
// system is cut back to what was synced. After every restart each record
// that was notified durable and not settled is there, intact, marked
// recovered; nothing comes back with wrong bytes.
func TestCrashKeepsEveryConfirmedRecord(t *testing.T) {
	fs := newMemFS()
	rng := rand.New(rand.NewPCG(2024, 4))
	var (
		settledMu sync.Mutex
		settled   = map[uint64]bool{}
		required  = map[uint64]bool{} // notified before a crash
		nextKey   atomic.Uint64
	)
	iterations := 20
	for it := range iterations {
		var notified atomic.Uint64
		s, err := Open("/data", Options{FS: fs, SegmentSize: 16 << 10})
		if err != nil {
			t.Fatal(err)
		}
		l, rec, err := s.OpenLog("q", LogOptions{OnDurable: func(upTo uint64, err error) {
			if err == nil {
				notified.Store(upTo) // upTo never decreases
			}
		}})
		if err != nil {
			t.Fatalf("iteration %d: reopen: %v", it, err)
		}
		// Everything confirmed before and not settled is back, intact.
		got := map[uint64]bool{}
		for _, r := range readAll(t, l, 1) {
			key := binary.LittleEndian.Uint64(r.Data)
			if !bytes.Equal(r.Data, crashPayload(key)) {
				t.Fatalf("iteration %d: record %d came back damaged", it, r.Seq)
			}
			if !r.Recovered {
				t.Fatalf("iteration %d: record %d not marked recovered", it, r.Seq)
			}
			got[r.Seq] = true
		}
		if uint64(len(got)) != rec.Count {
			t.Fatalf("iteration %d: recovery counted %d, reader found %d", it, rec.Count, len(got))
		}
		settledMu.Lock()
		for seq := range required {
			if !got[seq] && !settled[seq] {
				t.Fatalf("iteration %d: confirmed record %d lost in the crash", it, seq)
			}
		}
		settledMu.Unlock()
		start := rec.Next

		// Run appenders and a consumer, then pull the plug.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					seq, err := l.Append(0, crashPayload(nextKey.Add(1)))
					if err != nil {
						return
					}
					if g%2 == 0 {
						select {
						case <-l.Wait(seq):
						case <-stop:
							return
						}
					}
				}
			})
		}
		wg.Go(func() {
			r := l.NewReader(1)
			defer r.Close()
			crng := rand.New(rand.NewPCG(uint64(it), 9))
			for {
				select {
				case <-stop:
					return
				default:
				}
				rec, err := r.Next()
				if errors.Is(err, io.EOF) {
					time.Sleep(50 * time.Microsecond)
					continue
				}
				if err != nil {
					return
				}
				if crng.IntN(3) > 0 {
					settledMu.Lock()
					settled[rec.Seq] = true
					settledMu.Unlock()
					l.Settle(rec.Seq)
				}
			}
		})
		target := start + 50 + uint64(rng.IntN(1000))
		deadline := time.Now().Add(20 * time.Second)
		for notified.Load() < target && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		mark := notified.Load()
		crashed := fs.crash()
		close(stop)
		wg.Wait()
		s.Close()
		if mark < target {
			t.Fatalf("iteration %d: only %d of %d records confirmed in 20s", it, mark, target)
		}
		for seq := start; seq <= mark; seq++ {
			required[seq] = true
		}
		fs = crashed
	}
	t.Logf("%d crashes, %d confirmed records checked", iterations, len(required))
}
