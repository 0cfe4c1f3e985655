package perf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/cmd/warren-perf/perf"
)

// fill declares a durable queue and publishes n persistent messages into it
// with confirms, so that they are enqueued when it returns.
func fill(uri, queue string, n int) error {
	conn, err := amqp.Dial(uri)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	ctx := context.Background()
	for i := range n {
		c, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", queue, false, false,
			amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte{byte(i)}})
		if err != nil {
			return err
		}
		if ok, err := c.WaitContext(ctx); !ok || err != nil {
			return fmt.Errorf("publish %d not confirmed (%v)", i, err)
		}
	}
	return nil
}

// readyConfig is a short wait for queue on uri.
func readyConfig(uri, queue string, timeout time.Duration) perf.ReadyConfig {
	c := perf.DefaultReadyConfig()
	c.URI, c.Queue, c.Timeout = uri, queue, timeout
	return c
}

func TestWaitReadyReportsTheMessageCount(t *testing.T) {
	uri := startWarren(t)
	if err := fill(uri, "backlog-0", 7); err != nil {
		t.Fatal(err)
	}
	c := readyConfig(uri, "backlog-0", 5*time.Second)
	c.Since = time.Now().Add(-time.Hour)
	res, err := perf.WaitReady(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ready || res.Messages != 7 || res.Consumers != 0 || res.Attempts != 1 {
		t.Errorf("got %+v, want ready with 7 messages, no consumers, at the first attempt", res)
	}
	if res.ServingAfter < time.Hour || res.ServingAfter > time.Hour+5*time.Second {
		t.Errorf("serving after %v, want about an hour (measured from Since)", res.ServingAfter)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["messages"] != 7.0 || m["ready"] != true || m["serving_after_ms"].(float64) < 3.6e6 || strings.Contains(buf.String(), "guest:guest") {
		t.Errorf("JSON %s", buf.String())
	}
	buf.Reset()
	res.WriteText(&buf)
	if !strings.Contains(buf.String(), "queue backlog-0 holds 7 messages") {
		t.Errorf("text %q", buf.String())
	}
}

func TestWaitReadyPollsUntilTheQueueAppears(t *testing.T) {
	uri := startWarren(t)
	const delay = 300 * time.Millisecond
	filled := make(chan error, 1)
	go func() {
		time.Sleep(delay) // the queue appears later; the wait must poll for it
		filled <- fill(uri, "late", 2)
	}()
	res, err := perf.WaitReady(context.Background(), readyConfig(uri, "late", 10*time.Second))
	if ferr := <-filled; ferr != nil {
		t.Fatal(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages > 2 || res.ServingAfter < delay || res.Attempts < 2 {
		t.Errorf("got %+v: want at most 2 messages, after at least %v and several attempts", res, delay)
	}
}

func TestWaitReadyTimesOut(t *testing.T) {
	// A port nobody listens on: every dial is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "amqp://guest:guest@" + l.Addr().String() + "/"
	l.Close()

	for name, uri := range map[string]string{"missing queue": startWarren(t), "no broker": closed} {
		t.Run(name, func(t *testing.T) {
			const timeout = 400 * time.Millisecond
			start := time.Now()
			res, err := perf.WaitReady(context.Background(), readyConfig(uri, "absent", timeout))
			took := time.Since(start)
			if err == nil || res.Ready {
				t.Fatalf("got %+v, %v: want a timeout", res, err)
			}
			if took < timeout || took > timeout+2*time.Second {
				t.Errorf("gave up after %v, want about %v", took, timeout)
			}
			if res.Attempts < 5 || res.LastError == "" {
				t.Errorf("%d attempts, last error %q: want it to poll and say why", res.Attempts, res.LastError)
			}
		})
	}
}

func TestWaitReadyGetTakesOneMessageAndGivesItBack(t *testing.T) {
	uri := startWarren(t)
	if err := fill(uri, "backlog-0", 3); err != nil {
		t.Fatal(err)
	}
	c := readyConfig(uri, "backlog-0", 5*time.Second)
	c.Get = true
	res, err := perf.WaitReady(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Ready || !res.Got || res.Messages != 3 || res.GetAfterMillis == nil || res.GetAfter < res.ServingAfter {
		t.Errorf("got %+v: want ready with 3 messages and a basic.get served after the declare", res)
	}
	var buf bytes.Buffer
	res.WriteText(&buf)
	if !strings.Contains(buf.String(), "basic.get served after") {
		t.Errorf("text %q", buf.String())
	}
	// The message went back: the queue still holds three.
	again, err := perf.WaitReady(context.Background(), readyConfig(uri, "backlog-0", 5*time.Second))
	if err != nil || again.Messages != 3 {
		t.Errorf("after the get the queue holds %d messages (%v), want 3", again.Messages, err)
	}
}

func TestWaitReadyGetOnAnEmptyQueueTimesOut(t *testing.T) {
	uri := startWarren(t)
	if err := fill(uri, "empty", 0); err != nil {
		t.Fatal(err)
	}
	c := readyConfig(uri, "empty", 300*time.Millisecond)
	c.Get = true
	res, err := perf.WaitReady(context.Background(), c)
	if err == nil || !res.Ready || res.Got || !strings.Contains(res.LastError, "empty") || !strings.Contains(err.Error(), "basic.get") {
		t.Errorf("got %+v, %v: want the declare served, no message, and a timeout saying the queue stayed empty", res, err)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "get_after_ms") {
		t.Errorf("JSON %s reports a get that never happened", buf.String())
	}
}

func TestWaitReadyRejectsBadConfig(t *testing.T) {
	for _, c := range []perf.ReadyConfig{
		readyConfig("amqp://127.0.0.1:1/", "", time.Second),
		readyConfig("http://127.0.0.1:1/", "q", time.Second),
		readyConfig("amqp://127.0.0.1:1/", "q", 0),
	} {
		if res, err := perf.WaitReady(context.Background(), c); err == nil || res.Attempts != 0 {
			t.Errorf("%+v: got %+v, %v; want an error before any attempt", c, res, err)
		}
	}
}
