package perf

import (
	"context"
	"fmt"
	"slices"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Placement: in a cluster the topology may be declared on one node (with
// client-local placement, the node the queue then lives on) while
// producers and consumers connect to others. A cluster that replicates
// definitions asynchronously shows a declared queue on the other nodes a
// moment later, so before the window opens the run waits until every
// node a producer or consumer uses has every queue.

// brokerURIs returns every URL the run connects to, each once: the
// declaring one first.
func (c *Config) brokerURIs() []string {
	out := []string{c.declareURI()}
	add := func(list []string) {
		for _, u := range list {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	add(c.PublishURIs)
	add(c.ConsumeURIs)
	if (c.Producers > 0 && len(c.PublishURIs) == 0) || (c.Consumers > 0 && len(c.ConsumeURIs) == 0) || c.IdleConnections > 0 {
		add(c.URIs)
	}
	return out
}

// clientURIs returns the URLs producers and consumers connect to, other
// than the declaring one, each once.
func (r *run) clientURIs() []string {
	c := &r.cfg
	var out []string
	add := func(u string) {
		if u != c.declareURI() && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	for i := range c.Producers {
		add(c.publishURI(i))
	}
	for i := range c.Consumers * len(r.topo.queues) {
		add(c.consumeURI(i))
	}
	return out
}

// topologyPoll is the pause between checks for a declared queue on
// another node.
const topologyPoll = 10 * time.Millisecond

// awaitTopology waits until every queue the run declared is seen (by a
// passive queue.declare) on each URL producers or consumers use other
// than the declaring one. It gives up after the drain timeout.
func (r *run) awaitTopology(ctx context.Context) error {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	for _, u := range r.clientURIs() {
		if err := r.awaitQueuesOn(ctx, u, deadline); err != nil {
			return err
		}
	}
	return nil
}

// awaitQueuesOn polls uri until each queue is there, or the deadline.
func (r *run) awaitQueuesOn(ctx context.Context, uri string, deadline time.Time) error {
	conn, err := amqp.DialConfig(uri, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", RedactURI(uri), err)
	}
	defer conn.Close()
	for _, q := range r.topo.queues {
		for {
			// A failed passive declare closes its channel: one per try.
			ch, err := conn.Channel()
			if err != nil {
				return fmt.Errorf("open channel on %s: %w", RedactURI(uri), err)
			}
			_, err = ch.QueueDeclarePassive(q, false, false, false, false, nil)
			ch.Close()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("queue %q declared on %s is not on %s within %v: %w",
					q, RedactURI(r.cfg.declareURI()), RedactURI(uri), r.cfg.DrainTimeout, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(topologyPoll):
			}
		}
	}
	return nil
}
