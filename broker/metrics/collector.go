package metrics

import (
	"context"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/warrenmq/warren/broker"
)

// Prefixes of the metric names, as rabbitmq_prometheus names them.
const (
	prefix         = "rabbitmq_"
	detailedPrefix = "rabbitmq_detailed_"
	clusterPrefix  = "rabbitmq_cluster_"
)

// RabbitVersion is the RabbitMQ version reported in rabbitmq_build_info,
// the one the management API answers as.
const RabbitVersion = "3.10.8"

// endpoint is what a scrape asked for: /metrics, /metrics/per-object or
// /metrics/detailed.
type endpoint int

const (
	aggregated endpoint = iota
	perObject
	detailed
)

// endpointNames are the rabbitmq_endpoint label values.
var endpointNames = [...]string{"aggregated", "per-object", "detailed"}

// collector is a prometheus.Collector that reads the broker's listing
// API when scraped. It is made for one scrape (the detailed endpoint's
// filters are the request's) and describes nothing up front (an
// unchecked collector): the series depend on the objects of the moment.
type collector struct {
	ctx      context.Context
	b        Broker
	ep       endpoint
	families map[string]bool // detailed: the families asked for
	vhosts   map[string]bool // detailed: the vhosts asked for; nil is every one
	queue    *regexp.Regexp  // detailed: the queue names asked for; nil is every one

	// What the scrape read of the broker, once (localQueues, totals).
	qs      []broker.QueueInfo
	qsRead  bool
	tot     broker.Totals
	totRead bool
}

// localQueues returns the broker's LocalQueues, read once per scrape.
func (c *collector) localQueues() []broker.QueueInfo {
	if !c.qsRead {
		c.qs, c.qsRead = c.b.LocalQueues(c.ctx), true
	}
	return c.qs
}

// totals returns the broker's Totals, read once per scrape.
func (c *collector) totals() broker.Totals {
	if !c.totRead {
		c.tot, c.totRead = c.b.Totals(), true
	}
	return c.tot
}

// Describe implements prometheus.Collector; it describes nothing, which
// makes the collector unchecked.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector: every family the endpoint
// serves, read from the broker now.
func (c *collector) Collect(out chan<- prometheus.Metric) {
	e := emitter{out: out}
	switch c.ep {
	case aggregated, perObject:
		c.collectCore(e, prefix, func(string) bool { return true })
		c.collectTotals(e)
		c.collectGlobal(e)
		c.collectAlarms(e)
		c.collectRaft(e)
	case detailed:
		c.collectCore(e, detailedPrefix, func(f string) bool { return c.families[f] })
		c.collectCluster(e)
		if c.families["ra_metrics"] {
			c.collectRaft(e)
		}
	}
	c.collectIdentity(e)
}

// perObj reports whether families carry one series per object.
func (c *collector) perObj() bool { return c.ep != aggregated }

// wantVhost reports whether objects of vhost are reported.
func (c *collector) wantVhost(vhost string) bool { return c.vhosts == nil || c.vhosts[vhost] }

// wantQueue reports whether the queue q is reported.
func (c *collector) wantQueue(q broker.QueueInfo) bool {
	return c.wantVhost(q.Vhost) && (c.queue == nil || c.queue.MatchString(q.Name))
}

// collectCore emits the families of RabbitMQ's core collector that want
// accepts, named with pfx.
func (c *collector) collectCore(e emitter, pfx string, want func(family string) bool) {
	all := c.localQueues()
	var served, touched []broker.QueueInfo
	for _, q := range all {
		if !c.wantQueue(q) {
			continue
		}
		if reportsDepth(q) {
			served = append(served, q)
		}
		if q.MessageStats != (broker.MessageStats{}) {
			touched = append(touched, q)
		}
	}
	if want("connection_churn_metrics") {
		t := c.totals()
		for _, m := range churnCounters {
			e.value(pfx+m.name, m.help, counter, u(m.get(t)))
		}
	}
	if want("node_coarse_metrics") || want("node_metrics") {
		c.collectNode(e, pfx, want)
	}
	qLabels := []string{"vhost", "queue"}
	qValues := func(q queueRow) []string { return []string{q.Vhost, q.Name} }
	if want("queue_coarse_metrics") {
		emitRows(e, pfx, c.perObj(), queueCoarseMetrics, served, qLabels, qValues)
	}
	if want("queue_metrics") || want("queue_consumer_count") {
		emitRows(e, pfx, c.perObj(), queueConsumerMetrics, served, qLabels, qValues)
	}
	if want("queue_delivery_metrics") {
		emitRows(e, pfx, c.perObj(), queueDeliveryMetrics, touched, qLabels, qValues)
	}
	if c.ep != aggregated && (want("queue_coarse_metrics") || want("queue_metrics") || want("queue_consumer_count")) {
		emitQueueInfo(e, pfx, served)
	}
	c.collectChannels(e, pfx, want)
	c.collectConnections(e, pfx, want)
	if want("exchange_metrics") {
		emitRows(e, pfx, c.perObj(), exchangeMetrics, c.touchedExchanges(),
			[]string{"vhost", "exchange"}, func(x broker.ExchangeInfo) []string { return []string{x.Vhost, x.Name} })
	}
}

// reportsDepth reports whether this node reports the depth of q: a
// classic queue that runs here, a quorum queue whose replica here leads,
// as in RabbitMQ, where a queue's process (a quorum queue's leader)
// emits its queue metrics.
func reportsDepth(q broker.QueueInfo) bool {
	if q.Raft != nil {
		return q.Raft.Leader
	}
	return q.Running && q.Type != "quorum"
}

// touchedExchanges lists the exchanges this node's channels published
// to, in the vhosts asked for.
func (c *collector) touchedExchanges() []broker.ExchangeInfo {
	var out []broker.ExchangeInfo
	for _, v := range c.b.Vhosts() {
		if !c.wantVhost(v) {
			continue
		}
		for _, x := range c.b.Exchanges(v) {
			if x.MessageStats != (broker.MessageStats{}) {
				out = append(out, x)
			}
		}
	}
	return out
}

// collectChannels emits channel_metrics, channel_exchange_metrics and
// channel_queue_metrics. A channel is labelled by its name, where
// RabbitMQ puts its process id.
func (c *collector) collectChannels(e emitter, pfx string, want func(string) bool) {
	if !want("channel_metrics") && !want("channel_exchange_metrics") && !want("channel_queue_metrics") {
		return
	}
	var chans []broker.ChannelInfo
	for _, ch := range c.b.Channels() {
		if c.wantVhost(ch.Vhost) {
			chans = append(chans, ch)
		}
	}
	labels := []string{"channel"}
	values := func(ch broker.ChannelInfo) []string { return []string{ch.Name} }
	if want("channel_metrics") {
		emitRows(e, pfx, c.perObj(), channelMetrics, chans, labels, values)
	}
	if want("channel_exchange_metrics") {
		emitRows(e, pfx, c.perObj(), channelExchangeMetrics, chans, labels, values)
	}
	if want("channel_queue_metrics") {
		emitRows(e, pfx, c.perObj(), channelQueueMetrics, chans, labels, values)
	}
}

// collectConnections emits connection_coarse_metrics and
// connection_metrics, labelled as RabbitMQ labels them: channel="<the
// connection>".
func (c *collector) collectConnections(e emitter, pfx string, want func(string) bool) {
	if !want("connection_coarse_metrics") && !want("connection_metrics") {
		return
	}
	var conns []broker.ConnectionInfo
	for _, cn := range c.b.Connections() {
		if c.wantVhost(cn.Vhost) {
			conns = append(conns, cn)
		}
	}
	labels := []string{"channel"}
	values := func(cn broker.ConnectionInfo) []string { return []string{cn.Name} }
	if want("connection_coarse_metrics") {
		emitRows(e, pfx, c.perObj(), connectionCoarseMetrics, conns, labels, values)
	}
	if want("connection_metrics") {
		emitRows(e, pfx, c.perObj(), connectionMetrics, conns, labels, values)
	}
}

// collectTotals emits RabbitMQ's TOTALS: the open connections, channels
// and consumers, and the queues whose depth this node reports.
func (c *collector) collectTotals(e emitter) {
	n := 0
	for _, q := range c.localQueues() {
		if reportsDepth(q) {
			n++
		}
	}
	e.value(prefix+"connections", "Connections currently open", gauge, float64(len(c.b.Connections())))
	e.value(prefix+"channels", "Channels currently open", gauge, float64(len(c.b.Channels())))
	e.value(prefix+"consumers", "Consumers currently connected", gauge, float64(len(c.b.Consumers())))
	e.value(prefix+"queues", "Queues available", gauge, float64(n))
}

// collectGlobal emits RabbitMQ's global counters of protocol amqp091.
func (c *collector) collectGlobal(e emitter) {
	t := c.totals()
	for _, g := range globalCounters {
		e.labelled(prefix+"global_"+g.name, g.help, g.typ, []string{"protocol"}, g.get(t), "amqp091")
	}
	types := sortedKeys(t.ByQueueType)
	for _, g := range queueTypeCounters {
		d := e.desc(prefix+"global_"+g.name, g.help, []string{"protocol", "queue_type"})
		for _, typ := range types {
			e.sample(d, counter, g.get(t.ByQueueType[typ]), "amqp091", rabbitQueueType(typ))
		}
	}
}

// collectAlarms emits rabbitmq_alarms_*: 1 while this node's alarm is in
// force.
func (c *collector) collectAlarms(e emitter) {
	local, _ := c.b.Alarms()
	on := func(name string) float64 {
		for _, a := range local {
			if a == name {
				return 1
			}
		}
		return 0
	}
	e.value(prefix+"alarms_free_disk_space_watermark", "is 1 if free disk space watermark alarm is in effect",
		prometheus.UntypedValue, on("disk"))
	e.value(prefix+"alarms_memory_used_watermark", "is 1 if VM memory watermark alarm is in effect",
		prometheus.UntypedValue, on("memory"))
}

// collectRaft emits the Raft metrics of this node's quorum queue
// replicas: per queue (labels vhost and queue) under RabbitMQ 4's names
// and 3.x's, or, aggregated, the largest commit latency as RabbitMQ 4's
// rabbitmq_raft_max_commit_latency_seconds.
func (c *collector) collectRaft(e emitter) {
	var rs []broker.QueueInfo
	for _, q := range c.localQueues() {
		if q.Raft != nil && c.wantQueue(q) {
			rs = append(rs, q)
		}
	}
	if c.ep == aggregated {
		lat := 0.0
		for _, q := range rs {
			lat = max(lat, q.Raft.CommitLatency.Seconds())
		}
		e.labelled(prefix+"raft_max_commit_latency_seconds",
			"Approximate time taken from an entry being written to the log until it is committed",
			gauge, []string{"ra_system"}, lat, "quorum_queues")
		return
	}
	pfx := prefix
	if c.ep == detailed {
		pfx = detailedPrefix
	}
	labels := []string{"vhost", "queue"}
	for _, m := range raftMetrics {
		d := e.desc(pfx+m.name, m.help, labels)
		d3 := e.desc(pfx+m.name3, m.help3, labels)
		for _, q := range rs {
			e.sample(d, m.typ, m.get(q), q.Vhost, q.Name)
			e.sample(d3, m.typ3, m.get(q), q.Vhost, q.Name)
		}
	}
}

// collectCluster emits the detailed endpoint's cluster-wide families:
// vhost_status, exchange_names and exchange_bindings.
func (c *collector) collectCluster(e emitter) {
	vhosts := c.b.Vhosts()
	if c.families["vhost_status"] {
		d := e.desc(clusterPrefix+"vhost_status", "Whether a given vhost is running", []string{"vhost"})
		for _, v := range vhosts {
			if c.wantVhost(v) {
				e.sample(d, gauge, 1, v)
			}
		}
	}
	if !c.families["exchange_names"] && !c.families["exchange_bindings"] {
		return
	}
	labels := []string{"vhost", "exchange", "type"}
	names := e.desc(clusterPrefix+"exchange_name",
		"Enumerates exchanges without any additional info. This value is cluster-wide. A cheaper alternative to `exchange_bindings`", labels)
	bindings := e.desc(clusterPrefix+"exchange_bindings", "Number of bindings for an exchange. This value is cluster-wide.", labels)
	for _, v := range vhosts {
		if !c.wantVhost(v) {
			continue
		}
		count := map[string]int{}
		if c.families["exchange_bindings"] {
			for _, b := range c.b.Bindings(v) {
				count[b.Source]++
			}
		}
		for _, x := range c.b.Exchanges(v) {
			if x.Name == "" || x.Internal {
				continue
			}
			if c.families["exchange_names"] {
				e.sample(names, gauge, 1, v, x.Name, x.Type)
			}
			if c.families["exchange_bindings"] {
				e.sample(bindings, gauge, float64(count[x.Name]), v, x.Name, x.Type)
			}
		}
	}
}

// collectIdentity emits rabbitmq_build_info and rabbitmq_identity_info.
func (c *collector) collectIdentity(e emitter) {
	e.labelled(prefix+"build_info", "RabbitMQ & Erlang/OTP version info", prometheus.UntypedValue,
		[]string{"rabbitmq_version", "prometheus_plugin_version", "prometheus_client_version", "erlang_version",
			"product_name", "product_version"},
		1, RabbitVersion, broker.Version, clientVersion(), runtime.Version(), "Warren", broker.Version)
	name := c.b.ClusterName()
	if name == "" {
		name = c.b.NodeName()
	}
	e.labelled(prefix+"identity_info", "RabbitMQ node & cluster identity info", prometheus.UntypedValue,
		[]string{"rabbitmq_node", "rabbitmq_cluster", "rabbitmq_cluster_permanent_id", "rabbitmq_endpoint"},
		1, c.b.NodeName(), name, name, endpointNames[c.ep])
}

// emitQueueInfo emits queue_info: one series of value 1 per queue with
// its type and this node's membership.
func emitQueueInfo(e emitter, pfx string, qs []broker.QueueInfo) {
	d := e.desc(pfx+"queue_info", "A metric with a constant '1' value and labels that provide some queue details",
		[]string{"vhost", "queue", "queue_type", "membership"})
	for _, q := range qs {
		membership := "leader"
		if q.Raft != nil && !q.Raft.Leader {
			membership = "follower"
		}
		e.sample(d, gauge, 1, q.Vhost, q.Name, rabbitQueueType(q.Type), membership)
	}
}

// emitRows emits the metrics of specs over rows: per object, one series
// per row labelled with labels(row); aggregated, one series, their sum.
func emitRows[R any](e emitter, pfx string, perObject bool, specs []metricSpec[R], rows []R, names []string, labels func(R) []string) {
	for _, sp := range specs {
		if !perObject {
			sum := 0.0
			for _, r := range rows {
				sum += sp.get(r)
			}
			e.value(pfx+sp.name, sp.help, sp.typ, sum)
			continue
		}
		d := e.desc(pfx+sp.name, sp.help, names)
		for _, r := range rows {
			e.sample(d, sp.typ, sp.get(r), labels(r)...)
		}
	}
}

// emitter sends metrics to a collection.
type emitter struct{ out chan<- prometheus.Metric }

// desc describes a family with variable labels.
func (e emitter) desc(name, help string, labels []string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

// sample sends one series of d. Label values are made valid UTF-8 (an
// AMQP name may be any octets); a series the client library refuses is
// dropped rather than failing the scrape.
func (e emitter) sample(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	for i, l := range labels {
		labels[i] = strings.ToValidUTF8(l, "\uFFFD")
	}
	if m, err := prometheus.NewConstMetric(d, t, v, labels...); err == nil {
		e.out <- m
	}
}

// value sends a family of one series without labels.
func (e emitter) value(name, help string, t prometheus.ValueType, v float64) {
	e.sample(e.desc(name, help, nil), t, v)
}

// labelled sends a family of one series with labels.
func (e emitter) labelled(name, help string, t prometheus.ValueType, names []string, v float64, values ...string) {
	e.sample(e.desc(name, help, names), t, v, values...)
}

// clientVersion is the version of client_golang the binary was built
// with, or "" when it does not say.
func clientVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/prometheus/client_golang" {
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return ""
}
