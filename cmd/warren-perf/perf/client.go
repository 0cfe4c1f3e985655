package perf

import (
	"context"
	"fmt"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// client is one AMQP connection with one channel, watched for the broker
// blocking or closing it.
type client struct {
	conn *amqp.Connection
	ch   *amqp.Channel
}

// dialTimeout bounds a connection attempt: TCP connect and AMQP handshake.
const dialTimeout = 30 * time.Second

// dial opens a connection and a channel and starts watching them: a
// connection.blocked, or a close the run did not ask for, is an anomaly.
func (r *run) dial(uri, name string) (*client, error) { return r.open(uri, name, false) }

// open is dial for a producer or consumer. When it is reconnectable, the
// loss of its connection is recorded by its owner, which reconnects, and
// is not an error (a channel closed on a connection that stays open is an
// error either way), and the attempt is abandoned when the run stops.
func (r *run) open(uri, name string, reconnectable bool) (*client, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("warren-perf " + name)
	ctx := context.Background()
	if reconnectable {
		ctx = r.stopCtx
	}
	conn, err := amqp.DialConfig(uri, amqp.Config{
		Heartbeat:  r.cfg.Heartbeat,
		Properties: props,
		Dial:       dialerWithin(ctx, dialTimeout),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", RedactURI(uri), err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("open channel on %s: %w", RedactURI(uri), err)
	}
	c := &client{conn: conn, ch: ch}
	blocked := conn.NotifyBlocked(make(chan amqp.Blocking, 4))
	connClosed := conn.NotifyClose(make(chan *amqp.Error, 1))
	chClosed := ch.NotifyClose(make(chan *amqp.Error, 1))
	r.goes.Add(1)
	go func() {
		defer r.goes.Done()
		for b := range blocked {
			if b.Active {
				r.anomalies.add("connection-blocked", 1, name+": "+b.Reason)
			}
		}
	}()
	r.goes.Add(1)
	go func() {
		defer r.goes.Done()
		// A connection's loss closes its channels first: that is not a
		// channel error.
		if e := <-chClosed; e != nil && !r.closing.Load() && !(reconnectable && conn.IsClosed()) {
			r.anomalies.add("channel-closed", 1, fmt.Sprintf("%s: %d %s", name, e.Code, e.Reason))
		}
	}()
	r.goes.Add(1)
	go func() {
		defer r.goes.Done()
		if e := <-connClosed; e != nil && !r.closing.Load() && !reconnectable {
			r.anomalies.add("connection-closed", 1, fmt.Sprintf("%s: %d %s", name, e.Code, e.Reason))
		}
	}()
	return c, nil
}

// close closes the channel and the connection.
func (c *client) close() {
	if c == nil {
		return
	}
	c.ch.Close()
	c.conn.Close()
}

// waitUntil polls cond every interval until it holds, ctx ends, or stall
// passes without progress() changing. It reports whether cond held.
func waitUntil(ctx context.Context, stall time.Duration, cond func() bool, progress func() uint64) bool {
	const interval = 10 * time.Millisecond
	last := progress()
	lastMove := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return cond()
		case <-t.C:
		}
		if p := progress(); p != last {
			last, lastMove = p, time.Now()
		} else if time.Since(lastMove) > stall {
			return cond()
		}
	}
	return true
}
