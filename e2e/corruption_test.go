package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestCorruptSegments: with the broker stopped, a queue's segment file is
// truncated at a random offset and random bytes are flipped (fixed seeds,
// several rounds, each on a fresh copy of the same data). The broker still
// starts, logs the records it dropped, and delivers every message whose
// record was not damaged, in order, and nothing else.
func TestCorruptSegments(t *testing.T) {
	bin := buildWarren(t)
	pristine := t.TempDir()
	p := newWarrenProc(t, bin, pristine)
	p.start(t)
	const queue, n = "corrupt", 2000
	c := dialURL(t, p.url(), amqp.Config{})
	ch := c.channel(t)
	_, err := ch.QueueDeclare(queue, true, false, false, false, nil)
	mustOK(t, err, "declare")
	mustOK(t, ch.Confirm(false), "confirm.select")
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, n))
	// Equal-sized records, so a byte offset names its record. No 'W' or
	// 'Q' in the bodies: the store resynchronises on its magic "WQ".
	for i := range n {
		body := fmt.Sprintf("id:%06d %s", i, strings.Repeat("x", 90))
		mustOK(t, ch.Publish("", queue, false, false, amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(body)}), "publish")
	}
	if acked := waitConfirms(t, confirms, n); acked != n {
		t.Fatalf("%d of %d confirmed", acked, n)
	}
	c.Close()
	p.stop(t)

	segs, err := filepath.Glob(filepath.Join(pristine, "queues", "*", "*.seg"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("segments %v, %v: want one", segs, err)
	}
	rel, _ := filepath.Rel(pristine, segs[0])
	info, err := os.Stat(segs[0])
	mustOK(t, err, "stat segment")
	if info.Size()%n != 0 {
		t.Fatalf("segment of %d bytes for %d records: records are not of one size", info.Size(), n)
	}
	recSize := info.Size() / n

	for round := range 6 {
		rng := rand.New(rand.NewPCG(uint64(round), 99))
		dir := t.TempDir()
		copyDir(t, pristine, dir)
		seg := filepath.Join(dir, rel)
		damaged := map[int]bool{}
		size := info.Size()
		reported := false // the broker can tell: not a cut between two records
		if round%3 != 2 { // rounds 2 and 5 only flip bytes
			cut := rng.Int64N(size)
			mustOK(t, os.Truncate(seg, cut), "truncate")
			for r := int(cut / recSize); r < n; r++ {
				damaged[r] = true
			}
			size = cut
			reported = cut%recSize != 0
		}
		b, err := os.ReadFile(seg)
		mustOK(t, err, "read segment")
		flips := 1 + rng.IntN(8)
		if round%3 == 1 {
			flips = 0 // rounds 1 and 4 only truncate
		}
		for range flips {
			if size == 0 {
				break
			}
			off := rng.Int64N(size)
			b[off] ^= byte(1 + rng.IntN(255))
			damaged[int(off/recSize)] = true
			reported = true
		}
		mustOK(t, os.WriteFile(seg, b, 0o644), "write segment")

		q := newWarrenProc(t, bin, dir)
		q.start(t)
		rc := dialURL(t, q.url(), amqp.Config{})
		rch := rc.channel(t)
		var got []int
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			d, ok, err := rch.Get(queue, true)
			mustOK(t, err, "get")
			if !ok {
				break
			}
			id, ok := msgID(d.Body)
			if !ok || !d.Redelivered {
				t.Fatalf("round %d: delivery %q, redelivered %v", round, d.Body, d.Redelivered)
			}
			got = append(got, id)
		}
		var want []int
		for i := range n {
			if !damaged[i] {
				want = append(want, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("round %d (%d damaged records): got %d messages, want %d; first difference at %d",
				round, len(damaged), len(got), len(want), firstDiff(got, want))
		}
		rc.Close()
		q.stop(t)
		if reported && !strings.Contains(q.out.String(), "dropped damaged records") {
			t.Errorf("round %d: no damage report in the log:\n%s", round, q.out)
		}
		t.Logf("round %d: %d records damaged, %d delivered", round, len(damaged), len(got))
	}
}

func firstDiff(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
