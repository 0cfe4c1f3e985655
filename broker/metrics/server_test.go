package metrics

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// startNode starts a broker on loopback and its metrics endpoint.
func startNode(t *testing.T) (*broker.Server, string) {
	t.Helper()
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(),
		Logger: zap.NewNop(), ClusterName: "metrics-test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Broker: b})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("metrics close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("broker close: %v", err)
		}
	})
	return b, "http://" + s.Addr().String()
}

// scrape gets path and parses it with Prometheus's text parser.
func scrape(t *testing.T, base, path string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: the text parser refused it: %v", path, err)
	}
	return fams
}

// value returns the value of the series of name whose labels include
// want (k=v pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(want); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == want[i] && l.GetValue() == want[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// traffic publishes 4 messages with confirms to queue q (one more,
// mandatory, to nowhere), gets one with no-ack, and consumes the other 3
// with manual acks and acks them.
func traffic(t *testing.T, b *broker.Server, q, typ string) {
	t.Helper()
	c, err := amqp.Dial("amqp://guest:guest@" + b.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare(q, true, false, false, false, amqp.Table{"x-queue-type": typ}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	confirms := ch.NotifyPublish(make(chan amqp.Confirmation, 8))
	for range 4 {
		if err := ch.Publish("", q, false, false, amqp.Publishing{Body: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ch.Publish("", "no-such-queue", true, false, amqp.Publishing{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		select {
		case <-confirms:
		case <-time.After(5 * time.Second):
			t.Fatal("confirm missing")
		}
	}
	if _, ok, err := ch.Get(q, true); err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	if err := ch.Qos(3, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume(q, "c", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case d := <-ds:
			if err := d.Ack(false); err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("delivery missing")
		}
	}
	if err := ch.Cancel("c", false); err != nil {
		t.Fatal(err)
	}
}

// TestEndpointsParseAndCount: every path parses with Prometheus's text
// parser, and the counters a client moved through amqp091-go show
// exactly what it did, aggregated and per object, for a classic and a
// quorum queue, after its connection closed.
func TestEndpointsParseAndCount(t *testing.T) {
	b, base := startNode(t)
	before := scrape(t, base, "/metrics")
	traffic(t, b, "mq", "classic")
	traffic(t, b, "qq", "quorum")
	// The node counts a connection closed once it has closed its socket,
	// which may be just after the client's Close returned.
	agg := scrape(t, base, "/metrics")
	closed := func(fams map[string]*dto.MetricFamily) float64 {
		v, _ := value(fams, "rabbitmq_connections_closed_total")
		return v
	}
	for deadline := time.Now().Add(5 * time.Second); closed(agg)-closed(before) < 2 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		agg = scrape(t, base, "/metrics")
	}
	per := scrape(t, base, "/metrics/per-object")
	for _, c := range []struct {
		name   string
		labels []string
		moved  float64
	}{
		{"rabbitmq_global_messages_received_total", []string{"protocol", "amqp091"}, 10},
		{"rabbitmq_global_messages_received_confirm_total", []string{"protocol", "amqp091"}, 10},
		{"rabbitmq_global_messages_routed_total", []string{"protocol", "amqp091"}, 8},
		{"rabbitmq_global_messages_unroutable_returned_total", []string{"protocol", "amqp091"}, 2},
		{"rabbitmq_global_messages_confirmed_total", []string{"protocol", "amqp091"}, 10},
		{"rabbitmq_global_messages_delivered_consume_manual_ack_total", []string{"queue_type", "rabbit_classic_queue"}, 3},
		{"rabbitmq_global_messages_delivered_consume_manual_ack_total", []string{"queue_type", "rabbit_quorum_queue"}, 3},
		{"rabbitmq_global_messages_delivered_get_auto_ack_total", []string{"queue_type", "rabbit_quorum_queue"}, 1},
		{"rabbitmq_global_messages_delivered_total", []string{"queue_type", "rabbit_classic_queue"}, 4},
		{"rabbitmq_global_messages_acknowledged_total", []string{"queue_type", "rabbit_quorum_queue"}, 3},
		{"rabbitmq_connections_opened_total", nil, 2},
		{"rabbitmq_connections_closed_total", nil, 2},
		{"rabbitmq_channels_opened_total", nil, 2},
		{"rabbitmq_queues_created_total", nil, 2},
	} {
		was, _ := value(before, c.name, c.labels...)
		now, ok := value(agg, c.name, c.labels...)
		if !ok || now-was != c.moved {
			t.Errorf("%s%v moved by %v (present %v), want %v", c.name, c.labels, now-was, ok, c.moved)
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"rabbitmq_queue_messages_ready", []string{"vhost", "/", "queue", "mq"}, 0},
		{"rabbitmq_queue_messages_acked_total", []string{"vhost", "/", "queue", "qq"}, 3},
		{"rabbitmq_queue_get_total", []string{"vhost", "/", "queue", "mq"}, 1},
		{"rabbitmq_queue_messages_delivered_ack_total", []string{"vhost", "/", "queue", "qq"}, 3},
		{"rabbitmq_exchange_messages_published_total", []string{"vhost", "/", "exchange", ""}, 10},
		{"rabbitmq_exchange_messages_unroutable_returned_total", []string{"vhost", "/", "exchange", ""}, 2},
		{"rabbitmq_queue_info", []string{"queue", "qq", "queue_type", "rabbit_quorum_queue", "membership", "leader"}, 1},
		{"rabbitmq_identity_info", []string{"rabbitmq_endpoint", "per-object", "rabbitmq_cluster", "metrics-test"}, 1},
	} {
		if got, ok := value(per, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("per-object %s%v = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if got, ok := value(agg, "rabbitmq_queue_messages_acked_total"); !ok || got != 6 {
		t.Errorf("aggregated rabbitmq_queue_messages_acked_total = %v (present %v), want the sum 6", got, ok)
	}
	if m := agg["rabbitmq_queue_messages_ready"].GetMetric(); len(m) != 1 || len(m[0].Label) != 0 {
		t.Errorf("aggregated rabbitmq_queue_messages_ready is not one series without labels: %v", m)
	}
}

// TestDetailed: /metrics/detailed serves the families asked for, with
// the rabbitmq_detailed_ prefix, only for the vhosts asked for, and
// refuses a queue filter that is not a regular expression.
func TestDetailed(t *testing.T) {
	b, base := startNode(t)
	traffic(t, b, "dq", "classic")
	fams := scrape(t, base, "/metrics/detailed?family=queue_coarse_metrics&family=queue_delivery_metrics&family=vhost_status&vhost=%2F")
	if got, ok := value(fams, "rabbitmq_detailed_queue_get_total", "queue", "dq"); !ok || got != 1 {
		t.Errorf("rabbitmq_detailed_queue_get_total = %v (present %v), want 1", got, ok)
	}
	if _, ok := value(fams, "rabbitmq_cluster_vhost_status", "vhost", "/"); !ok {
		t.Error("rabbitmq_cluster_vhost_status{vhost=\"/\"} missing")
	}
	for name := range fams {
		if strings.HasPrefix(name, "rabbitmq_detailed_channel") || strings.HasPrefix(name, "rabbitmq_global") {
			t.Errorf("%s served, not asked for", name)
		}
	}
	other := scrape(t, base, "/metrics/detailed?family=queue_coarse_metrics&vhost=nope")
	if _, ok := other["rabbitmq_detailed_queue_messages_ready"]; ok {
		t.Error("queues of a vhost not asked for were served")
	}
	resp, err := http.Get(base + "/metrics/detailed?family=queue_coarse_metrics&queue=(")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad queue filter: %s, want 400", resp.Status)
	}
}

// dashboardMetrics are the metric names the expressions of
// rabbitmq-server's Grafana dashboards RabbitMQ-Overview.json and
// RabbitMQ-Quorum-Queues-Raft.json use, with the endpoint that serves
// them (the Raft ones per queue, as in RabbitMQ).
var dashboardMetrics = map[string][]string{
	"/metrics": {
		"rabbitmq_build_info", "rabbitmq_identity_info",
		"rabbitmq_channels", "rabbitmq_channels_closed_total", "rabbitmq_channels_opened_total",
		"rabbitmq_connections", "rabbitmq_connections_closed_total", "rabbitmq_connections_opened_total",
		"rabbitmq_disk_space_available_bytes", "rabbitmq_disk_space_available_limit_bytes",
		"rabbitmq_erlang_uptime_seconds", "rabbitmq_process_max_fds", "rabbitmq_process_open_fds",
		"rabbitmq_process_resident_memory_bytes", "rabbitmq_resident_memory_limit_bytes",
		"rabbitmq_global_consumers", "rabbitmq_global_publishers",
		"rabbitmq_global_messages_acknowledged_total", "rabbitmq_global_messages_confirmed_total",
		"rabbitmq_global_messages_delivered_consume_auto_ack_total",
		"rabbitmq_global_messages_delivered_consume_manual_ack_total",
		"rabbitmq_global_messages_delivered_get_auto_ack_total",
		"rabbitmq_global_messages_delivered_get_manual_ack_total", "rabbitmq_global_messages_delivered_total",
		"rabbitmq_global_messages_get_empty_total", "rabbitmq_global_messages_received_confirm_total",
		"rabbitmq_global_messages_received_total", "rabbitmq_global_messages_redelivered_total",
		"rabbitmq_global_messages_routed_total", "rabbitmq_global_messages_unroutable_dropped_total",
		"rabbitmq_global_messages_unroutable_returned_total",
		"rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked", "rabbitmq_queues",
		"rabbitmq_queues_created_total", "rabbitmq_queues_declared_total", "rabbitmq_queues_deleted_total",
	},
	"/metrics/per-object": {
		"rabbitmq_identity_info",
		"rabbitmq_raft_commit_index", "rabbitmq_raft_commit_latency_seconds", "rabbitmq_raft_last_written_index",
		"rabbitmq_raft_log_commit_index", "rabbitmq_raft_log_last_written_index", "rabbitmq_raft_log_snapshot_index",
		"rabbitmq_raft_snapshot_index", "rabbitmq_raft_term",
	},
}

// TestDashboardMetrics: every metric the dashboards' expressions use is
// served, with the labels they select or group by (rabbitmq_cluster,
// rabbitmq_node and rabbitmq_endpoint on identity_info; queue on the
// Raft metrics, which the 3.x names carry too).
func TestDashboardMetrics(t *testing.T) {
	b, base := startNode(t)
	traffic(t, b, "dash", "quorum")
	for path, names := range dashboardMetrics {
		fams := scrape(t, base, path)
		for _, n := range names {
			if _, ok := fams[n]; !ok {
				t.Errorf("%s: %s missing", path, n)
			}
		}
		if _, ok := value(fams, "rabbitmq_identity_info", "rabbitmq_cluster", "metrics-test",
			"rabbitmq_node", b.NodeName()); !ok {
			t.Errorf("%s: rabbitmq_identity_info lacks the cluster and node labels", path)
		}
	}
	per := scrape(t, base, "/metrics/per-object")
	for _, n := range []string{"rabbitmq_raft_term", "rabbitmq_raft_term_total", "rabbitmq_raft_log_last_applied_index",
		"rabbitmq_raft_entry_commit_latency_seconds", "rabbitmq_raft_last_applied"} {
		if v, ok := value(per, n, "vhost", "/", "queue", "dash"); !ok || (strings.Contains(n, "term") && v < 1) {
			t.Errorf("%s{queue=\"dash\"} = %v (present %v)", n, v, ok)
		}
	}
}

// TestCloseLeavesNoGoroutine: Close returns once the server's goroutines
// have ended, scrapes or not.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	b, err := broker.NewServer(broker.Config{Listen: []string{"127.0.0.1:0"}, DataDir: t.TempDir(), Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	base := runtime.NumGoroutine()
	s := New(Config{Broker: b})
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	scrape(t, "http://"+s.Addr().String(), "/metrics")
	http.DefaultClient.CloseIdleConnections()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before Start", runtime.NumGoroutine(), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
