package perf_test

import (
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/warrenmq/warren/cmd/warren-perf/perf"
)

// TestAgainstExternalBroker runs the accounting scenarios against a broker
// we did not write, when WARREN_PERF_EXTERNAL_URI names one (for example a
// RabbitMQ from e2e/rabbitmq/start.sh: amqp://guest:guest@127.0.0.1:5673/).
func TestAgainstExternalBroker(t *testing.T) {
	uri := os.Getenv("WARREN_PERF_EXTERNAL_URI")
	if uri == "" {
		t.Skip("WARREN_PERF_EXTERNAL_URI is not set")
	}
	cases := map[string]func(c *perf.Config){
		"transient":        func(c *perf.Config) {},
		"persistent":       func(c *perf.Config) { c.Persistent, c.ConfirmWindow = true, 100 },
		"fanout":           func(c *perf.Config) { c.ExchangeType, c.Queues = perf.ExchangeFanout, 3 },
		"topic":            func(c *perf.Config) { c.ExchangeType, c.Queues, c.BindingsPerQueue = perf.ExchangeTopic, 3, 20 },
		"headers":          func(c *perf.Config) { c.ExchangeType, c.Queues = perf.ExchangeHeaders, 2 },
		"multi-ack":        func(c *perf.Config) { c.MultiAckEvery, c.Prefetch = 50, 100 },
		"mandatory return": func(c *perf.Config) { c.Mandatory, c.RoutingKeys, c.BindingKeys = true, []string{"x"}, []string{"y"} },
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			c := perf.DefaultConfig()
			c.URIs = []string{uri}
			c.Duration, c.Rate, c.MaxInFlight = time.Second, 1000, 2000
			f(&c)
			if c.Mandatory {
				c.MaxInFlight = 0
			}
			res, err := perf.Run(context.Background(), c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			tot := res.Totals
			if res.Status != perf.StatusOK || tot.Published == 0 || tot.Lost != 0 || tot.Received != tot.Expected {
				t.Errorf("status %s (%s): %+v", res.Status, res.Reason, tot)
			}
		})
	}
}
