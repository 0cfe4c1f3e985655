package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestConcurrentPublishConsume: several confirmed publishers and several
// manual-ack consumers on one queue at once. Every message is delivered
// exactly once, and each consumer sees each publisher's messages in
// publish order. Bounded: 4 × 500 messages.
func TestConcurrentPublishConsume(t *testing.T) {
	t.Parallel()
	const publishers, perPublisher, consumers = 4, 500, 3
	_, setup := open(t)
	q := name(t, "")
	declareQueue(t, setup, q, nil)

	type seen struct {
		consumer int
		body     string
	}
	// Room for every message (and a duplicate), so the consumer goroutines
	// never block; they end when their connections close at cleanup.
	deliveries := make(chan seen, 2*publishers*perPublisher)
	for i := 0; i < consumers; i++ {
		_, ch := open(t)
		mustOK(t, ch.Qos(50, 0, false), "qos")
		d := consume(t, ch, q, false, nil)
		go func(i int, ch *channel, d <-chan amqp.Delivery) {
			for m := range d {
				deliveries <- seen{i, string(m.Body)}
				if err := ch.Ack(m.DeliveryTag, false); err != nil {
					return
				}
			}
		}(i, ch, d)
	}

	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		c := dial(t)
		ch, confirms := confirmChannel(t, c)
		go func(p int) {
			for i := 0; i < perPublisher; i++ {
				if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte(fmt.Sprintf("%d:%d", p, i))}); err != nil {
					errs <- err
					return
				}
			}
			for i := 0; i < perPublisher; i++ {
				select {
				case cf := <-confirms:
					if !cf.Ack {
						errs <- fmt.Errorf("publisher %d: nack for %d", p, cf.DeliveryTag)
						return
					}
				case <-time.After(2 * waitFor):
					errs <- fmt.Errorf("publisher %d: %d of %d confirms", p, i, perPublisher)
					return
				}
			}
			errs <- nil
		}(p)
	}
	for p := 0; p < publishers; p++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	got := map[string]int{}
	last := map[[2]int]int{} // (consumer, publisher) -> last sequence seen
	deadline := time.After(4 * waitFor)
	for len(got) < publishers*perPublisher {
		select {
		case s := <-deliveries:
			got[s.body]++
			if got[s.body] > 1 {
				t.Fatalf("%s delivered twice", s.body)
			}
			pub, seq := parseSeq(t, s.body)
			k := [2]int{s.consumer, pub}
			if prev, ok := last[k]; ok && seq <= prev {
				t.Fatalf("consumer %d saw publisher %d's %d after %d", s.consumer, pub, seq, prev)
			}
			last[k] = seq
		case <-deadline:
			t.Fatalf("received %d of %d messages", len(got), publishers*perPublisher)
		}
	}
	expectCount(t, setup, q, 0)
}

func parseSeq(t *testing.T, body string) (int, int) {
	t.Helper()
	a, b, ok := strings.Cut(body, ":")
	p, err1 := strconv.Atoi(a)
	s, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("unexpected body %q", body)
	}
	return p, s
}

// TestManyChannels: a hundred channels on one connection publish and get
// at once, each on its own queue, without interfering.
func TestManyChannels(t *testing.T) {
	t.Parallel()
	c := dial(t)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		ch := c.channel(t)
		q := name(t, strconv.Itoa(i))
		declareQueue(t, ch, q, nil)
		wg.Add(1)
		go func(i int, ch *channel, q string) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if err := ch.Publish("", q, false, false, text(fmt.Sprint(i, "-", j))); err != nil {
					errs <- err
					return
				}
			}
			for j := 0; j < 10; j++ {
				var d amqp.Delivery
				ok := false
				for deadline := time.Now().Add(waitFor); !ok; {
					var err error
					d, ok, err = ch.Get(q, true)
					if err != nil {
						errs <- err
						return
					}
					if !ok && time.Now().After(deadline) {
						errs <- fmt.Errorf("channel %d: message %d missing", i, j)
						return
					}
					if !ok {
						time.Sleep(5 * time.Millisecond)
					}
				}
				if want := fmt.Sprint(i, "-", j); string(d.Body) != want {
					errs <- fmt.Errorf("channel %d got %q, want %q", i, d.Body, want)
					return
				}
			}
		}(i, ch, q)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestBulkRequeueOrder: with thousands of messages queued, the deliveries
// a closing consumer held go back to the front in their original order,
// ahead of the rest. Bounded: 3000 messages.
func TestBulkRequeueOrder(t *testing.T) {
	t.Parallel()
	skipWithLateQueues(t, "each of its 3000 publishes waits up to 3 ms in turn before its queue takes it, and the confirms come after them all, past the test's bound")
	const total, prefetch = 3000, 100
	c, ch := open(t)
	q := name(t, "")
	declareQueue(t, ch, q, nil)
	pub, confirms := confirmChannel(t, c)
	for i := 0; i < total; i++ {
		publish(t, pub, "", q, text(strconv.Itoa(i)))
	}
	waitConfirms(t, confirms, total)

	c2, cons := open(t)
	mustOK(t, cons.Qos(prefetch, 0, false), "qos")
	d := consume(t, cons, q, false, nil)
	// Ack the first 1000 in batches with multiple, then hold 100.
	for acked := 0; acked < 1000; acked += prefetch {
		ds := consumeN(t, d, prefetch, waitFor)
		if string(ds[0].Body) != strconv.Itoa(acked) {
			t.Fatalf("batch starts with %s, want %d", ds[0].Body, acked)
		}
		mustOK(t, cons.Ack(ds[prefetch-1].DeliveryTag, true), "ack batch")
	}
	consumeN(t, d, prefetch, waitFor) // 1000..1099, unacked
	mustOK(t, c2.Close(), "close consumer connection")

	waitMessages(t, ch, q, total-1000)
	d2 := consume(t, ch, q, true, nil)
	got := consumeN(t, d2, total-1000, 4*waitFor)
	for i, m := range got {
		if want := strconv.Itoa(1000 + i); string(m.Body) != want {
			t.Fatalf("delivery %d is %s, want %s", i, m.Body, want)
		}
		if m.Redelivered != (i < prefetch) {
			t.Fatalf("%s redelivered=%v", m.Body, m.Redelivered)
		}
	}
}
