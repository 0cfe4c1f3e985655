package perf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/cmd/warren-perf/perf"
)

// startWarren starts an in-process Warren on a free loopback port and
// returns its AMQP URL.
func startWarren(t *testing.T) string {
	t.Helper()
	srv, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "amqp://guest:guest@" + srv.Addr().String() + "/"
}

// shortConfig is a quick scenario against one broker.
func shortConfig(uri string) perf.Config {
	c := perf.DefaultConfig()
	c.URIs = []string{uri}
	c.Duration = 2 * time.Second
	c.DrainTimeout = 5 * time.Second
	c.Heartbeat = 0
	return c
}

func TestRunAccountsForEveryMessage(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(uri)
	c.Producers, c.Consumers, c.Queues = 2, 2, 2
	c.ConfirmWindow, c.MultiAckEvery, c.Prefetch = 100, 10, 100
	c.Size = 256
	c.Rate = 2000
	var live bytes.Buffer
	res, err := perf.Run(context.Background(), c, &live)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != perf.StatusOK {
		t.Fatalf("status %s: %s (errors %v, anomalies %+v)", res.Status, res.Reason, res.Errors, res.Anomalies)
	}
	tot := res.Totals
	if tot.Published == 0 {
		t.Fatal("nothing was published")
	}
	if tot.Expected != tot.Published || tot.Received != tot.Published || tot.Consumed != tot.Published {
		t.Errorf("published %d, expected %d, received %d, consumed %d: want all equal", tot.Published, tot.Expected, tot.Received, tot.Consumed)
	}
	if tot.Confirmed != tot.Published || tot.Nacked != 0 || tot.Unconfirmed != 0 {
		t.Errorf("published %d but confirmed %d, nacked %d, unconfirmed %d", tot.Published, tot.Confirmed, tot.Nacked, tot.Unconfirmed)
	}
	if tot.Lost != 0 || tot.Duplicates != 0 || tot.Unexpected != 0 {
		t.Errorf("lost %d, duplicates %d, unexpected %d", tot.Lost, tot.Duplicates, tot.Unexpected)
	}
	w := res.Window
	if w.Published == 0 || w.Published > tot.Published || w.Consumed > tot.Consumed || w.Confirmed > tot.Confirmed {
		t.Errorf("window %+v does not fit within totals %+v", w, tot)
	}
	// Two producers at 2000 msg/s each: the window rate cannot exceed that.
	if w.PublishedRate <= 0 || w.PublishedRate > 2*2000*1.05 {
		t.Errorf("published rate %.0f msg/s, want (0, 4200]", w.PublishedRate)
	}
	if res.EndToEndLatency.Count != tot.Received || res.ConfirmLatency.Count != tot.Confirmed {
		t.Errorf("latency samples e2e %d confirm %d, want %d and %d", res.EndToEndLatency.Count, res.ConfirmLatency.Count, tot.Received, tot.Confirmed)
	}
	l := res.EndToEndLatency
	if !(l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max && l.P50 > 0) {
		t.Errorf("end-to-end percentiles out of order: %+v", l)
	}
	if len(res.Timeline) < 1 || !strings.Contains(live.String(), "pub ") {
		t.Errorf("timeline %d points, live output %q", len(res.Timeline), live.String())
	}
}

func TestRunWithACountPublishesExactlyThatMany(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(uri)
	c.Duration, c.Count, c.Producers = 0, 500, 2
	c.ConfirmWindow = 20
	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	if res.Status != perf.StatusOK || tot.Published != 1000 || tot.Confirmed != 1000 || tot.Received != 1000 {
		t.Errorf("status %s (%s): published %d, confirmed %d, received %d; want ok and 1000 each",
			res.Status, res.Reason, tot.Published, tot.Confirmed, tot.Received)
	}
}

func TestJSONHasEveryField(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(uri)
	c.Duration = 1500 * time.Millisecond
	c.ConfirmWindow = 50
	c.Rate = 500
	c.BrokerPID = os.Getpid() // the broker runs in this process
	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := res.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(buf.String()), "\n"); n != 0 {
		t.Errorf("JSON spans %d lines, want one", n+1)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"": {"scenario", "brokers", "status", "settings", "window_seconds", "window", "totals",
			"confirm_latency", "end_to_end_latency", "broker", "idle_connections", "anomalies", "errors", "timeline"},
		"settings": {"producers", "consumers", "queues", "size", "persistent", "confirm_window", "prefetch",
			"multi_ack_every", "auto_ack", "exchange_type", "bindings", "queue_args", "rate", "max_in_flight"},
		"window": {"published", "confirmed", "consumed", "published_per_sec", "confirmed_per_sec", "consumed_per_sec"},
		"totals": {"published", "confirmed", "nacked", "unconfirmed", "returned", "expected", "consumed",
			"received", "lost", "duplicates", "unexpected", "redelivered"},
		"confirm_latency":    {"count", "p50_us", "p95_us", "p99_us", "p999_us", "max_us", "mean_us"},
		"end_to_end_latency": {"count", "p50_us", "p95_us", "p99_us", "p999_us", "max_us", "mean_us"},
		"broker":             {"pid", "cpu_seconds", "cpu_seconds_per_million_msgs", "cpu_us_per_msg", "cpu_cores", "rss_start_bytes", "rss_end_bytes"},
	}
	for obj, keys := range want {
		o := m
		if obj != "" {
			sub, ok := m[obj].(map[string]any)
			if !ok {
				t.Errorf("%q is not an object: %v", obj, m[obj])
				continue
			}
			o = sub
		}
		for _, k := range keys {
			if _, ok := o[k]; !ok {
				t.Errorf("JSON %s lacks %q", obj, k)
			}
		}
	}
	if m["status"] != perf.StatusOK {
		t.Errorf("status %v: %v", m["status"], m["errors"])
	}
	if b := res.Broker; b == nil || b.RSSEnd <= 0 || b.CPUMicrosPerMessage <= 0 {
		t.Errorf("broker usage of our own pid: %+v", b)
	}
	tl, _ := m["timeline"].([]any)
	if len(tl) == 0 {
		t.Error("empty timeline")
	}
}

func TestLostMessageIsReported(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(uri)
	c.QueuePrefix = "perf-lost"
	c.Rate = 200
	c.DrainTimeout = time.Second

	// A thief consumes from the run's queue behind the tool's back: every
	// message it takes is one the tool must report lost.
	var stolen atomic.Int64
	thiefDone := make(chan error, 1)
	go func() { thiefDone <- steal(uri, "perf-lost-0", 5, &stolen) }()

	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-thiefDone; err != nil {
		t.Fatal(err)
	}
	if res.Totals.Lost != uint64(stolen.Load()) || stolen.Load() == 0 {
		t.Errorf("lost %d, but the thief took %d", res.Totals.Lost, stolen.Load())
	}
	if res.Status != perf.StatusFailed || len(res.Errors) == 0 || !strings.Contains(res.Errors[0], "never arrived") {
		t.Errorf("status %s, errors %v: want failed with the shortfall", res.Status, res.Errors)
	}
	found := false
	for _, a := range res.Anomalies {
		found = found || (a.Kind == "lost" && a.Count == res.Totals.Lost)
	}
	if !found {
		t.Errorf("anomalies %+v lack the lost messages", res.Anomalies)
	}
	var sum bytes.Buffer
	res.WriteSummary(&sum)
	if !strings.Contains(sum.String(), "ERROR:") {
		t.Errorf("summary does not show the error:\n%s", sum.String())
	}
}

// steal waits for queue to exist, consumes at least n messages from it,
// acknowledging each, and counts every message it took.
func steal(uri, queue string, n int64, stolen *atomic.Int64) error {
	conn, err := amqp.Dial(uri)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	var ch *amqp.Channel
	for {
		if ch, err = conn.Channel(); err != nil {
			return err
		}
		if _, err = ch.QueueDeclarePassive(queue, false, false, false, false, nil); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("the run's queue never appeared")
		}
		time.Sleep(20 * time.Millisecond) // poll for the queue; the channel closed on 404
	}
	if err := ch.Qos(1, 0, false); err != nil {
		return err
	}
	d, err := ch.Consume(queue, "thief", false, false, false, false, nil)
	if err != nil {
		return err
	}
	for m := range d {
		stolen.Add(1)
		if err := m.Ack(false); err != nil {
			return err
		}
		if stolen.Load() == n {
			if err := ch.Cancel("thief", false); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestReturnsAreCountedAndNotLost(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(uri)
	c.Duration = time.Second
	c.ExchangeType, c.RoutingKeys, c.BindingKeys = perf.ExchangeDirect, []string{"nowhere"}, []string{"somewhere"}
	c.Mandatory, c.Rate = true, 200
	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	if tot.Published == 0 || tot.Returned != tot.Published || tot.Expected != 0 || tot.Lost != 0 {
		t.Errorf("published %d, returned %d, expected %d, lost %d: want every message returned, none expected",
			tot.Published, tot.Returned, tot.Expected, tot.Lost)
	}
	var returns uint64
	for _, a := range res.Anomalies {
		if a.Kind == "return" {
			returns = a.Count
		}
	}
	if returns != tot.Returned {
		t.Errorf("return anomalies %d, returned %d", returns, tot.Returned)
	}
}

func TestUnsupportedScenarioIsReportedNotCrashed(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(uri)
	c.QueueArgs = map[string]any{"x-queue-type": "no-such-type"}
	res, err := perf.Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != perf.StatusUnsupported || !strings.Contains(res.Reason, "queue.declare") {
		t.Errorf("status %s, reason %q: want unsupported at queue.declare", res.Status, res.Reason)
	}
}

func TestSuiteComparesTwoBrokers(t *testing.T) {
	ours, theirs := startWarren(t), startWarren(t)
	out := t.TempDir()
	s := perf.DefaultSuite()
	s.Ours = perf.Target{Label: "A", URI: ours, PID: os.Getpid()}
	s.Theirs = perf.Target{Label: "B", URI: theirs}
	s.Out, s.Duration, s.DrainTimeout, s.IdleConnections = out, time.Second, 5*time.Second, 20
	s.Only = []string{"transient-16b", "idle-connections-20"}
	s.Command = "test"
	results, err := s.Run(context.Background(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 4 {
		t.Fatalf("%d results, want 2 scenarios × 2 brokers", len(results))
	}
	for _, r := range results {
		if r.Status != perf.StatusOK {
			t.Errorf("%s on %v: %s %s", r.Scenario, r.Brokers, r.Status, r.Reason)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| scenario | measure | A | B | A/B |", "[transient-16b](transient-16b.svg)", "idle-connections-20", "RSS KiB/conn"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q:\n%s", want, md)
		}
	}
	for _, name := range []string{"transient-16b.svg", "idle-connections-20.svg"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := xml.Unmarshal(b, new(struct{})); err != nil {
			t.Errorf("%s is not well-formed XML: %v", name, err)
		}
		if !strings.Contains(string(b), "<polyline") {
			t.Errorf("%s has no line", name)
		}
	}
	var parsed []perf.Result
	b, _ := os.ReadFile(filepath.Join(out, "results.json"))
	if err := json.Unmarshal(b, &parsed); err != nil || len(parsed) != 4 {
		t.Errorf("results.json: %d results, %v", len(parsed), err)
	}
}
