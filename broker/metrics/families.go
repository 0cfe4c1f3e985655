package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/warrenmq/warren/broker"
)

// The per-object families of RabbitMQ's core metrics collector
// (prometheus_rabbitmq_core_metrics_collector's METRICS_RAW) that Warren
// has figures for: their names (after the rabbitmq_ or
// rabbitmq_detailed_ prefix), types and HELP texts, and how each value is
// read from the broker's listing. Aggregated (/metrics), each is one
// series, the sum over the node's objects; per object, one series per
// object with RabbitMQ's labels.

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// metricSpec is one metric of a family, read from a row of type R.
type metricSpec[R any] struct {
	name string
	typ  prometheus.ValueType
	help string
	get  func(R) float64
}

func u(v uint64) float64 { return float64(v) }

// queueRow is a queue whose figures this node reports.
type queueRow = broker.QueueInfo

var queueCoarseMetrics = []metricSpec[queueRow]{
	{"queue_messages_ready", gauge, "Messages ready to be delivered to consumers", func(q queueRow) float64 { return float64(q.Stats.Ready) }},
	{"queue_messages_unacked", gauge, "Messages delivered to consumers but not yet acknowledged", func(q queueRow) float64 { return float64(q.Stats.Unacked) }},
	{"queue_messages", gauge, "Sum of ready and unacknowledged messages - total queue depth", func(q queueRow) float64 {
		return float64(q.Stats.Ready) + float64(q.Stats.Unacked)
	}},
}

var queueConsumerMetrics = []metricSpec[queueRow]{
	{"queue_consumers", gauge, "Consumers on a queue", func(q queueRow) float64 { return float64(q.Stats.Consumers) }},
}

var queueDeliveryMetrics = []metricSpec[queueRow]{
	{"queue_get_ack_total", counter, "Total number of messages fetched from a queue with basic.get in manual acknowledgement mode", func(q queueRow) float64 { return u(q.MessageStats.Get) }},
	{"queue_get_total", counter, "Total number of messages fetched from a queue with basic.get in automatic acknowledgement mode", func(q queueRow) float64 { return u(q.MessageStats.GetNoAck) }},
	{"queue_messages_delivered_ack_total", counter, "Total number of messages delivered from a queue to consumers in manual acknowledgement mode", func(q queueRow) float64 { return u(q.MessageStats.Deliver) }},
	{"queue_messages_delivered_total", counter, "Total number of messages delivered from a queue to consumers in automatic acknowledgement mode", func(q queueRow) float64 { return u(q.MessageStats.DeliverNoAck) }},
	{"queue_messages_redelivered_total", counter, "Total number of messages redelivered from a queue to consumers", func(q queueRow) float64 { return u(q.MessageStats.Redeliver) }},
	{"queue_messages_acked_total", counter, "Total number of messages acknowledged by consumers on a queue", func(q queueRow) float64 { return u(q.MessageStats.Ack) }},
	{"queue_get_empty_total", counter, "Total number of times basic.get operations fetched no message on a queue", func(q queueRow) float64 { return u(q.MessageStats.GetEmpty) }},
}

var channelMetrics = []metricSpec[broker.ChannelInfo]{
	{"channel_consumers", gauge, "Consumers on a channel", func(c broker.ChannelInfo) float64 { return float64(c.Consumers) }},
	{"channel_messages_unacked", gauge, "Delivered but not yet acknowledged messages", func(c broker.ChannelInfo) float64 { return float64(c.Unacked) }},
	{"consumer_prefetch", gauge, "Limit of unacknowledged messages for each consumer", func(c broker.ChannelInfo) float64 { return float64(c.Prefetch) }},
	{"channel_prefetch", gauge, "Deprecated and will be removed in a future version", func(c broker.ChannelInfo) float64 { return float64(c.GlobalPrefetch) }},
}

var channelExchangeMetrics = []metricSpec[broker.ChannelInfo]{
	{"channel_messages_published_total", counter, "Total number of messages published into an exchange on a channel", func(c broker.ChannelInfo) float64 { return u(c.Stats.Publish) }},
	{"channel_messages_confirmed_total", counter, "Total number of messages published into an exchange and confirmed on the channel", func(c broker.ChannelInfo) float64 { return u(c.Stats.Confirm) }},
	{"channel_messages_unroutable_returned_total", counter, "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", func(c broker.ChannelInfo) float64 { return u(c.Stats.ReturnUnroutable) }},
	{"channel_messages_unroutable_dropped_total", counter, "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", func(c broker.ChannelInfo) float64 { return u(c.Stats.DropUnroutable) }},
}

var channelQueueMetrics = []metricSpec[broker.ChannelInfo]{
	{"channel_get_ack_total", counter, "Total number of messages fetched with basic.get in manual acknowledgement mode", func(c broker.ChannelInfo) float64 { return u(c.Stats.Get) }},
	{"channel_get_total", counter, "Total number of messages fetched with basic.get in automatic acknowledgement mode", func(c broker.ChannelInfo) float64 { return u(c.Stats.GetNoAck) }},
	{"channel_messages_delivered_ack_total", counter, "Total number of messages delivered to consumers in manual acknowledgement mode", func(c broker.ChannelInfo) float64 { return u(c.Stats.Deliver) }},
	{"channel_messages_delivered_total", counter, "Total number of messages delivered to consumers in automatic acknowledgement mode", func(c broker.ChannelInfo) float64 { return u(c.Stats.DeliverNoAck) }},
	{"channel_messages_redelivered_total", counter, "Total number of messages redelivered to consumers", func(c broker.ChannelInfo) float64 { return u(c.Stats.Redeliver) }},
	{"channel_messages_acked_total", counter, "Total number of messages acknowledged by consumers", func(c broker.ChannelInfo) float64 { return u(c.Stats.Ack) }},
	{"channel_get_empty_total", counter, "Total number of times basic.get operations fetched no message", func(c broker.ChannelInfo) float64 { return u(c.Stats.GetEmpty) }},
}

var connectionCoarseMetrics = []metricSpec[broker.ConnectionInfo]{
	{"connection_incoming_bytes_total", counter, "Total number of bytes received on a connection", func(c broker.ConnectionInfo) float64 { return u(c.RecvOct) }},
	{"connection_outgoing_bytes_total", counter, "Total number of bytes sent on a connection", func(c broker.ConnectionInfo) float64 { return u(c.SendOct) }},
}

var connectionMetrics = []metricSpec[broker.ConnectionInfo]{
	{"connection_incoming_packets_total", counter, "Total number of packets received on a connection", func(c broker.ConnectionInfo) float64 { return u(c.RecvCnt) }},
	{"connection_outgoing_packets_total", counter, "Total number of packets sent on a connection", func(c broker.ConnectionInfo) float64 { return u(c.SendCnt) }},
	{"connection_channels", gauge, "Channels on a connection", func(c broker.ConnectionInfo) float64 { return float64(c.Channels) }},
}

var exchangeMetrics = []metricSpec[broker.ExchangeInfo]{
	{"exchange_messages_published_total", counter, "Total number of messages published into an exchange", func(x broker.ExchangeInfo) float64 { return u(x.MessageStats.PublishIn) }},
	{"exchange_messages_confirmed_total", counter, "Total number of messages published into an exchange and confirmed", func(x broker.ExchangeInfo) float64 { return u(x.MessageStats.Confirm) }},
	{"exchange_messages_unroutable_returned_total", counter, "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", func(x broker.ExchangeInfo) float64 { return u(x.MessageStats.ReturnUnroutable) }},
	{"exchange_messages_unroutable_dropped_total", counter, "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", func(x broker.ExchangeInfo) float64 { return u(x.MessageStats.DropUnroutable) }},
}

// raftSpec is a Raft metric of a quorum queue replica, under its RabbitMQ
// 4 name and its RabbitMQ 3.x name (the dashboards query both).
type raftSpec struct {
	name, help   string
	name3, help3 string
	typ3         prometheus.ValueType
	get          func(q queueRow) float64
	typ          prometheus.ValueType
}

var raftMetrics = []raftSpec{
	{name: "raft_term", help: "Current term", name3: "raft_term_total", help3: "Current Raft term number",
		typ: counter, typ3: counter, get: func(q queueRow) float64 { return u(q.Raft.Term) }},
	{name: "raft_commit_index", help: "Current commit index", name3: "raft_log_commit_index", help3: "Raft log commit index",
		typ: gauge, typ3: gauge, get: func(q queueRow) float64 { return u(q.Raft.CommitIndex) }},
	{name: "raft_last_applied", help: "Last applied index. Can go backwards if a ra server is restarted",
		name3: "raft_log_last_applied_index", help3: "Raft log last applied index",
		typ: gauge, typ3: gauge, get: func(q queueRow) float64 { return u(q.Raft.AppliedIndex) }},
	{name: "raft_last_written_index", help: "Last fully written and fsynced index of the log",
		name3: "raft_log_last_written_index", help3: "Raft log last written index",
		typ: gauge, typ3: gauge, get: func(q queueRow) float64 { return u(q.Raft.LastIndex) }},
	{name: "raft_snapshot_index", help: "Current snapshot index", name3: "raft_log_snapshot_index", help3: "Raft log snapshot index",
		typ: gauge, typ3: gauge, get: func(q queueRow) float64 { return u(q.Raft.SnapshotIndex) }},
	{name: "raft_commit_latency_seconds", help: "Approximate time taken from an entry being written to the log until it is committed",
		name3: "raft_entry_commit_latency_seconds", help3: "Time taken for a log entry to be committed",
		typ: gauge, typ3: gauge, get: func(q queueRow) float64 { return q.Raft.CommitLatency.Seconds() }},
}

// globalCounter is one of RabbitMQ's global counters of protocol
// amqp091 (rabbit_global_counters).
type globalCounter struct {
	name, help string
	typ        prometheus.ValueType
	get        func(broker.Totals) float64
}

var globalCounters = []globalCounter{
	{"messages_received_total", "Total number of messages received from publishers", counter, func(t broker.Totals) float64 { return u(t.Received) }},
	{"messages_received_confirm_total", "Total number of messages received from publishers expecting confirmations", counter, func(t broker.Totals) float64 { return u(t.ReceivedConfirm) }},
	{"messages_routed_total", "Total number of messages routed to queues or streams", counter, func(t broker.Totals) float64 { return u(t.Routed) }},
	{"messages_unroutable_dropped_total", "Total number of messages published as non-mandatory into an exchange and dropped as unroutable", counter, func(t broker.Totals) float64 { return u(t.UnroutableDropped) }},
	{"messages_unroutable_returned_total", "Total number of messages published as mandatory into an exchange and returned to the publisher as unroutable", counter, func(t broker.Totals) float64 { return u(t.UnroutableReturned) }},
	{"messages_confirmed_total", "Total number of messages confirmed to publishers", counter, func(t broker.Totals) float64 { return u(t.Confirmed) }},
	{"publishers", "Current number of publishers", gauge, func(t broker.Totals) float64 { return float64(t.Publishers) }},
	{"consumers", "Current number of consumers", gauge, func(t broker.Totals) float64 { return float64(t.Consumers) }},
}

// queueTypeCounter is one of RabbitMQ's global counters kept per
// protocol and queue type.
type queueTypeCounter struct {
	name, help string
	get        func(broker.DeliveryTotals) float64
}

var queueTypeCounters = []queueTypeCounter{
	{"messages_delivered_total", "Total number of messages delivered to consumers", func(d broker.DeliveryTotals) float64 { return u(d.Delivered()) }},
	{"messages_delivered_consume_manual_ack_total", "Total number of messages delivered to consumers using basic.consume with manual acknowledgment", func(d broker.DeliveryTotals) float64 { return u(d.ConsumeManualAck) }},
	{"messages_delivered_consume_auto_ack_total", "Total number of messages delivered to consumers using basic.consume with automatic acknowledgment", func(d broker.DeliveryTotals) float64 { return u(d.ConsumeAutoAck) }},
	{"messages_delivered_get_manual_ack_total", "Total number of messages delivered to consumers using basic.get with manual acknowledgment", func(d broker.DeliveryTotals) float64 { return u(d.GetManualAck) }},
	{"messages_delivered_get_auto_ack_total", "Total number of messages delivered to consumers using basic.get with automatic acknowledgment", func(d broker.DeliveryTotals) float64 { return u(d.GetAutoAck) }},
	{"messages_get_empty_total", "Total number of times basic.get operations fetched no message", func(d broker.DeliveryTotals) float64 { return u(d.GetEmpty) }},
	{"messages_redelivered_total", "Total number of messages redelivered to consumers", func(d broker.DeliveryTotals) float64 { return u(d.Redelivered) }},
	{"messages_acknowledged_total", "Total number of messages acknowledged by consumers", func(d broker.DeliveryTotals) float64 { return u(d.Acknowledged) }},
}

// rabbitQueueType is RabbitMQ's module name for an x-queue-type, the
// queue_type label of its global counters.
func rabbitQueueType(t string) string {
	switch t {
	case "quorum":
		return "rabbit_quorum_queue"
	case "stream":
		return "rabbit_stream_queue"
	}
	return "rabbit_classic_queue"
}

// churnCounter is one of connection_churn_metrics.
type churnCounter struct {
	name, help string
	get        func(broker.Totals) uint64
}

var churnCounters = []churnCounter{
	{"connections_opened_total", "Total number of connections opened", func(t broker.Totals) uint64 { return t.ConnectionsOpened }},
	{"connections_closed_total", "Total number of connections closed or terminated", func(t broker.Totals) uint64 { return t.ConnectionsClosed }},
	{"channels_opened_total", "Total number of channels opened", func(t broker.Totals) uint64 { return t.ChannelsOpened }},
	{"channels_closed_total", "Total number of channels closed", func(t broker.Totals) uint64 { return t.ChannelsClosed }},
	{"queues_declared_total", "Total number of queues declared", func(t broker.Totals) uint64 { return t.QueuesDeclared }},
	{"queues_created_total", "Total number of queues created", func(t broker.Totals) uint64 { return t.QueuesCreated }},
	{"queues_deleted_total", "Total number of queues deleted", func(t broker.Totals) uint64 { return t.QueuesDeleted }},
}
