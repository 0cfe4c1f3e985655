package e2e

import (
	"fmt"
	"sync"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

// TestConcurrentInequivalentDeclares: connections racing to declare one
// queue (and one exchange) with different arguments agree on a single
// winner: every declare with the winner's arguments succeeds, every other
// one fails with 406 naming the winner's value as current.
func TestConcurrentInequivalentDeclares(t *testing.T) {
	t.Parallel()
	const racers = 8
	q := name(t, "q")
	x := name(t, "x")
	t.Cleanup(func() { deleteQueue(q); deleteExchange(x) })
	kinds := []string{"direct", "fanout"}
	qErrs := make([]error, racers)
	xErrs := make([]error, racers)
	var wg sync.WaitGroup
	for i := range racers {
		c := dial(t)
		qch, xch := c.channel(t), c.channel(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, qErrs[i] = qch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-max-length": int32(1 + i%2)})
			xErrs[i] = xch.ExchangeDeclare(x, kinds[i%2], false, false, false, false, nil)
		}()
	}
	wg.Wait()

	_, ch := open(t)
	qWin := 0 // index parity of the winning declare
	if _, err := ch.QueueDeclare(q, false, false, false, false, amqp.Table{"x-max-length": int32(1)}); err != nil {
		qWin, ch = 1, dial(t).channel(t)
	}
	xWin := 0
	if err := ch.ExchangeDeclare(x, kinds[0], false, false, false, false, nil); err != nil {
		xWin = 1
	}
	for i := range racers {
		if i%2 == qWin {
			mustOK(t, qErrs[i], fmt.Sprintf("queue declare %d with the winning arguments", i))
		} else {
			expectError(t, qErrs[i], codePreconditionFail, fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg "+
				"'x-max-length' for queue '%s' in vhost '/': received '%d' but current is '%d'", q, 1+i%2, 1+qWin))
		}
		if i%2 == xWin {
			mustOK(t, xErrs[i], fmt.Sprintf("exchange declare %d with the winning type", i))
		} else {
			expectError(t, xErrs[i], codePreconditionFail, fmt.Sprintf("PRECONDITION_FAILED - inequivalent arg "+
				"'type' for exchange '%s' in vhost '/': received '%s' but current is '%s'", x, kinds[i%2], kinds[xWin]))
		}
	}
}

// TestDeclareWhileDeleting: one connection keeps declaring a queue while
// another keeps deleting it. Every declare succeeds (a declare never meets
// a queue half deleted), every delete succeeds, and the queue left at the
// end works.
func TestDeclareWhileDeleting(t *testing.T) {
	t.Parallel()
	const rounds = 50
	q := name(t, "")
	t.Cleanup(func() { deleteQueue(q) })
	_, dch := open(t)
	_, xch := open(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range rounds {
			if _, err := dch.QueueDeclare(q, false, false, false, false, nil); err != nil {
				errs <- fmt.Errorf("declare: %w", err)
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range rounds {
			if _, err := xch.QueueDelete(q, false, false, false); err != nil {
				errs <- fmt.Errorf("delete: %w", err)
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	_, ch := open(t)
	declareQueue(t, ch, q, nil)
	publish(t, ch, "", q, text("after the race"))
	equalStrings(t, "bodies", bodies(getN(t, ch, q, 1, true)), []string{"after the race"})
}
