package perf_test

import (
	"context"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/warrenmq/warren/cmd/warren-perf/perf"
)

// refused is a URL nothing listens on: port 1 on loopback refuses.
const refused = "amqp://guest:guest@127.0.0.1:1/"

// TestEachRoleConnectsToItsURL: with --declare-url, --publish-url and
// --consume-url set, nothing connects to --uri (here a port that refuses).
func TestEachRoleConnectsToItsURL(t *testing.T) {
	uri := startWarren(t)
	c := shortConfig(refused)
	c.DeclareURI, c.PublishURIs, c.ConsumeURIs = uri, []string{uri}, []string{uri}
	c.Duration, c.Count = 0, 500
	res, err := perf.Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != perf.StatusOK || res.Totals.Received != 500 {
		t.Fatalf("status %s (%s), received %d of 500", res.Status, res.Reason, res.Totals.Received)
	}
	if len(res.Brokers) != 1 || strings.Contains(res.Brokers[0], ":1/") {
		t.Errorf("brokers %v, want only the one used", res.Brokers)
	}
}

// TestRunWaitsForTheQueueOnTheOtherURLs: a queue declared on one broker
// and seen on the consumers' broker only later (as a cluster replicates
// definitions) is waited for, not consumed from too early.
func TestRunWaitsForTheQueueOnTheOtherURLs(t *testing.T) {
	home, other := startWarren(t), startWarren(t)
	c := shortConfig(home)
	c.DeclareURI, c.PublishURIs, c.ConsumeURIs = home, []string{other}, []string{other}
	c.QueuePrefix = "placed"
	c.Duration, c.Count = 0, 200
	declared := make(chan error, 1)
	time.AfterFunc(200*time.Millisecond, func() { declared <- declareOn(other, "placed-0") })
	res, err := perf.Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-declared; err != nil {
		t.Fatal(err)
	}
	if res.Status != perf.StatusOK || res.Totals.Received != 200 {
		t.Fatalf("status %s (%s), received %d of 200", res.Status, res.Reason, res.Totals.Received)
	}
	if len(res.Brokers) != 2 {
		t.Errorf("brokers %v, want the two URLs used", res.Brokers)
	}
}

// TestQueueNeverSeenElsewhereFailsTheRun: a queue the consumers' broker
// never gets fails the run with a reason naming it, after the drain
// timeout.
func TestQueueNeverSeenElsewhereFailsTheRun(t *testing.T) {
	home, other := startWarren(t), startWarren(t)
	c := shortConfig(home)
	c.DeclareURI, c.ConsumeURIs = home, []string{other}
	c.DrainTimeout = 300 * time.Millisecond
	res, err := perf.Run(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != perf.StatusFailed || !strings.Contains(res.Reason, "is not on") {
		t.Fatalf("status %s (%s), want failed: the queue is not on the consumers' broker", res.Status, res.Reason)
	}
}

// declareOn declares a transient queue on the broker at uri.
func declareOn(uri, name string) error {
	conn, err := amqp.Dial(uri)
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return err
	}
	_, err = ch.QueueDeclare(name, false, false, false, false, nil)
	return err
}
