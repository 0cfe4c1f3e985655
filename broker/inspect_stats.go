package broker

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/warrenmq/warren/queue"
)

// The counters' side of the inspection API: the node's totals
// (RabbitMQ's global counters and churn), and the queues this node runs
// with their counters and Raft figures, read without stopping anyone. A
// channel's, queue's or exchange's own counters come with its
// ChannelInfo, QueueInfo or ExchangeInfo.

// MessageStats are RabbitMQ's message_stats counters of a channel, a
// queue or an exchange on this node, since it was opened or declared.
// Each holds the fields RabbitMQ gives that kind of object; the others
// stay 0.
type MessageStats struct {
	// Publish is, for a channel, the messages it published; for a queue,
	// the messages published into it.
	Publish uint64
	// PublishIn and PublishOut are, for an exchange, the messages
	// published into it and the copies it routed into queues.
	PublishIn, PublishOut uint64
	// Confirm counts publishes acknowledged to a publisher in confirm
	// mode; ReturnUnroutable the mandatory ones returned as unroutable,
	// DropUnroutable the others that routed nowhere.
	Confirm, ReturnUnroutable, DropUnroutable uint64
	// Deliver and DeliverNoAck count basic.deliver with manual and
	// automatic acknowledgement, Get and GetNoAck basic.get-ok, GetEmpty
	// basic.get-empty, Redeliver the deliveries and gets marked
	// redelivered, Ack the messages acknowledged with basic.ack.
	Deliver, DeliverNoAck, Get, GetNoAck, GetEmpty, Redeliver, Ack uint64
}

// DeliverGet is RabbitMQ's deliver_get: every delivery and get-ok.
func (m MessageStats) DeliverGet() uint64 {
	return m.Deliver + m.DeliverNoAck + m.Get + m.GetNoAck
}

// DeliveryTotals are the node's delivery counters for one queue type, as
// RabbitMQ's global counters labelled with a queue_type.
type DeliveryTotals struct {
	ConsumeManualAck, ConsumeAutoAck, GetManualAck, GetAutoAck uint64
	GetEmpty, Redelivered, Acknowledged                        uint64
}

// Delivered is every message delivered or got.
func (d DeliveryTotals) Delivered() uint64 {
	return d.ConsumeManualAck + d.ConsumeAutoAck + d.GetManualAck + d.GetAutoAck
}

// Totals are the node's counters since it started: RabbitMQ's
// connection_churn_metrics and its global counters of protocol amqp091,
// which closed channels and connections keep contributing to.
type Totals struct {
	ConnectionsOpened, ConnectionsClosed uint64
	ChannelsOpened, ChannelsClosed       uint64
	// QueuesDeclared counts successful queue.declare (not passive) on
	// this node's channels, QueuesCreated those that made a new queue,
	// QueuesDeleted the queues deleted through this node.
	QueuesDeclared, QueuesCreated, QueuesDeleted uint64

	// Received counts complete basic.publish, ReceivedConfirm those in
	// confirm or tx mode; Routed the queues the published messages
	// reached; Confirmed the publishes acknowledged with basic.ack.
	Received, ReceivedConfirm, Routed                uint64
	UnroutableDropped, UnroutableReturned, Confirmed uint64

	// Publishers are the open channels that have published, Consumers
	// the consumers of the open channels.
	Publishers, Consumers int

	// ByQueueType holds the delivery counters of each queue type, by
	// x-queue-type ("classic", "quorum").
	ByQueueType map[string]DeliveryTotals
}

// channelTotals are channelCounters read into plain values.
type channelTotals struct {
	received, receivedConfirm, published, routed uint64
	returned, dropped, confirmed                 uint64
	byType                                       [numQueueTypes]DeliveryTotals
}

// load reads the delivery counters.
func (d *deliveryCounters) load() DeliveryTotals {
	return DeliveryTotals{
		ConsumeManualAck: d.consumeAck.Load(), ConsumeAutoAck: d.consumeNoAck.Load(),
		GetManualAck: d.getAck.Load(), GetAutoAck: d.getNoAck.Load(), GetEmpty: d.getEmpty.Load(),
		Redelivered: d.redelivered.Load(), Acknowledged: d.acked.Load(),
	}
}

// add adds o to d.
func (d *DeliveryTotals) add(o DeliveryTotals) {
	d.ConsumeManualAck += o.ConsumeManualAck
	d.ConsumeAutoAck += o.ConsumeAutoAck
	d.GetManualAck += o.GetManualAck
	d.GetAutoAck += o.GetAutoAck
	d.GetEmpty += o.GetEmpty
	d.Redelivered += o.Redelivered
	d.Acknowledged += o.Acknowledged
}

// load reads the channel's counters.
func (c *channelCounters) load() channelTotals {
	t := channelTotals{
		received: c.received.Load(), receivedConfirm: c.receivedConfirm.Load(),
		published: c.published.Load(), routed: c.routed.Load(), returned: c.returned.Load(),
		dropped: c.dropped.Load(), confirmed: c.confirmed.Load(),
	}
	for i := range c.byType {
		t.byType[i] = c.byType[i].load()
	}
	return t
}

// add adds o to t.
func (t *channelTotals) add(o channelTotals) {
	t.received += o.received
	t.receivedConfirm += o.receivedConfirm
	t.published += o.published
	t.routed += o.routed
	t.returned += o.returned
	t.dropped += o.dropped
	t.confirmed += o.confirmed
	for i := range t.byType {
		t.byType[i].add(o.byType[i])
	}
}

// messageStats is a channel's message_stats.
func (t channelTotals) messageStats() MessageStats {
	m := MessageStats{Publish: t.published, Confirm: t.confirmed, ReturnUnroutable: t.returned,
		DropUnroutable: t.dropped}
	for _, d := range t.byType {
		m.Deliver += d.ConsumeManualAck
		m.DeliverNoAck += d.ConsumeAutoAck
		m.Get += d.GetManualAck
		m.GetNoAck += d.GetAutoAck
		m.GetEmpty += d.GetEmpty
		m.Redeliver += d.Redelivered
		m.Ack += d.Acknowledged
	}
	return m
}

// messageStats is a queue's message_stats.
func (q *queueCounters) messageStats() MessageStats {
	d := q.load()
	return MessageStats{Publish: q.published.Load(), Deliver: d.ConsumeManualAck, DeliverNoAck: d.ConsumeAutoAck,
		Get: d.GetManualAck, GetNoAck: d.GetAutoAck, GetEmpty: d.GetEmpty, Redeliver: d.Redelivered,
		Ack: d.Acknowledged}
}

// messageStats is an exchange's message_stats.
func (x *exchangeCounters) messageStats() MessageStats {
	return MessageStats{PublishIn: x.publishIn.Load(), PublishOut: x.publishOut.Load(),
		Confirm: x.confirmed.Load(), ReturnUnroutable: x.returned.Load(), DropUnroutable: x.dropped.Load()}
}

// retireCounters adds a released channel's counters to the node's
// retired ones, once: from then on Totals reads them there.
func (s *Server) retireCounters(c *channelCounters) {
	s.statsMu.Lock()
	if !c.retired {
		c.retired = true
		s.retired.add(c.load())
		s.churn.channelsClosed.Add(1)
	}
	s.statsMu.Unlock()
}

// Totals returns the node's counters: the churn, and the global message
// counters (what the closed channels counted plus what the open ones
// have). In-process connections (ServeConn) count too.
func (s *Server) Totals() Totals {
	s.statsMu.RLock()
	sum := s.retired
	var publishers, consumers int
	for _, c := range s.openConns(func(*conn) bool { return true }) {
		for _, ch := range c.channelsOf() {
			if ch.ctr.retired {
				continue
			}
			t := ch.ctr.load()
			sum.add(t)
			if t.received > 0 {
				publishers++
			}
			ch.mu.Lock()
			consumers += len(ch.consumers)
			ch.mu.Unlock()
		}
	}
	s.statsMu.RUnlock()
	t := Totals{
		ConnectionsOpened: s.churn.connectionsOpened.Load(), ConnectionsClosed: s.churn.connectionsClosed.Load(),
		ChannelsOpened: s.churn.channelsOpened.Load(), ChannelsClosed: s.churn.channelsClosed.Load(),
		QueuesDeclared: s.churn.queuesDeclared.Load(), QueuesCreated: s.churn.queuesCreated.Load(),
		QueuesDeleted: s.churn.queuesDeleted.Load(),
		Received:      sum.received, ReceivedConfirm: sum.receivedConfirm, Routed: sum.routed,
		UnroutableDropped: sum.dropped, UnroutableReturned: sum.returned, Confirmed: sum.confirmed,
		Publishers: publishers, Consumers: consumers,
		ByQueueType: make(map[string]DeliveryTotals, numQueueTypes),
	}
	for i, name := range queueTypeNames {
		t.ByQueueType[name] = sum.byType[i]
	}
	return t
}

// LocalQueues lists the queues this node serves, in every vhost, sorted
// by vhost and name, read locally: no queue on another node is asked, so
// this costs no network round trip however many queues there are. Each
// comes with the counters of what this node's channels did with it.
// Running is set, with Stats, for the queues that run here (classic
// queues homed here, quorum queues); Raft is set for a quorum queue of
// which this node holds a replica.
func (s *Server) LocalQueues(ctx context.Context) []QueueInfo {
	var out []QueueInfo
	for _, v := range s.vhostList() {
		v.mu.RLock()
		es := make([]*queueEntry, 0, len(v.queues))
		for _, e := range v.queues {
			es = append(es, e)
		}
		v.mu.RUnlock()
		for _, e := range es {
			out = append(out, s.localQueueInfo(ctx, v.name, e))
		}
	}
	slices.SortFunc(out, func(a, b QueueInfo) int {
		if c := strings.Compare(a.Vhost, b.Vhost); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// QueueSample is a queue's counters as a statistics sampler reads them:
// MessageStats as QueueInfo's, and, when Running (the queue runs on this
// node), its depths.
type QueueSample struct {
	Vhost, Name    string
	Running        bool
	Ready, Unacked uint64
	MessageStats   MessageStats
}

// QueueSamples appends to dst (which may be a previous answer, reused)
// the counters of every queue this node serves, in no order: what
// LocalQueues reads, without the definitions, the Raft figures or the
// sorting, for a sampler that reads them every few seconds.
func (s *Server) QueueSamples(ctx context.Context, dst []QueueSample) []QueueSample {
	dst = dst[:0]
	var es []*queueEntry
	for _, v := range s.vhostList() {
		v.mu.RLock()
		es = es[:0]
		for _, e := range v.queues {
			es = append(es, e)
		}
		v.mu.RUnlock()
		for _, e := range es {
			qs := QueueSample{Vhost: v.name, Name: e.def.Name, MessageStats: e.stats.messageStats()}
			if !e.remote {
				st := e.q.Stats(ctx)
				qs.Running, qs.Ready, qs.Unacked = true, uint64(st.Ready), uint64(st.Unacked)
			}
			dst = append(dst, qs)
		}
	}
	return dst
}

// localQueueInfo describes e, a queue running here.
func (s *Server) localQueueInfo(ctx context.Context, vhost string, e *queueEntry) QueueInfo {
	d := e.def
	qi := QueueInfo{Vhost: vhost, Name: d.Name, Type: d.Type, Durable: d.Durable, AutoDelete: d.AutoDelete,
		Exclusive: d.Exclusive, Args: d.Args, Node: d.Home, Members: d.Members, OwnerNode: d.Owner.Node,
		MessageStats: e.stats.messageStats()}
	if !e.remote {
		qi.Stats, qi.Running = e.q.Stats(ctx), true
	}
	if qi.Type == "" {
		qi.Type = queue.TypeClassic
	}
	if qi.Node == "" {
		qi.Node = s.cfg.NodeName
	}
	if r, ok := e.q.(queue.RaftReporter); ok {
		if m, ok := r.RaftMetrics(); ok {
			qi.Raft = &m
		}
	}
	return qi
}

// DiskFree returns the bytes available on the file system of the data
// dir, as the disk alarm reads them.
func (s *Server) DiskFree() (uint64, error) {
	if s.cfg.InMemory {
		return 0, errors.New("the node runs in memory: no data dir")
	}
	return s.cfg.DiskFree(s.cfg.DataDir)
}
