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

// dial opens a connection and a channel and starts watching them: a
// connection.blocked, or a close the run did not ask for, is an anomaly.
func (r *run) dial(uri, name string) (*client, error) {
	props := amqp.NewConnectionProperties()
	props.SetClientConnectionName("warren-perf " + name)
	conn, err := amqp.DialConfig(uri, amqp.Config{
		Heartbeat:  r.cfg.Heartbeat,
		Properties: props,
		Dial:       amqp.DefaultDial(30 * time.Second),
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
		if e := <-chClosed; e != nil && !r.closing.Load() {
			r.anomalies.add("channel-closed", 1, fmt.Sprintf("%s: %d %s", name, e.Code, e.Reason))
		}
	}()
	r.goes.Add(1)
	go func() {
		defer r.goes.Done()
		if e := <-connClosed; e != nil && !r.closing.Load() {
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
