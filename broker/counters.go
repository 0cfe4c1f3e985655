package broker

import (
	"sync/atomic"

	"github.com/warrenmq/warren/queue"
)

// The message counters behind RabbitMQ's channel, queue and exchange
// metrics and its global counters. The hot path adds to counters of
// structs it already holds (the channel, the session's queue entry, the
// exchange entry) with one atomic add each: no lock, no map, no
// allocation per message. The node's totals are computed when asked, as
// the sum over the live channels plus what the closed channels counted
// (Server.retired), so that no counter shared by every connection is
// touched per message (inspect_stats.go).

// Queue types by index, for the counters kept per queue type.
const (
	qtClassic = iota
	qtQuorum
	numQueueTypes
)

// queueTypeNames are the queue types' x-queue-type names, by index.
var queueTypeNames = [numQueueTypes]string{queue.TypeClassic, queue.TypeQuorum}

// queueTypeIndex returns the counter index of an x-queue-type ("" is
// classic).
func queueTypeIndex(t string) uint8 {
	if t == queue.TypeQuorum {
		return qtQuorum
	}
	return qtClassic
}

// deliveryCounters count what consumers and basic.get took from queues:
// RabbitMQ's queue_delivery_metrics (per queue) and channel_queue_metrics
// (per channel, kept per queue type for the global counters).
type deliveryCounters struct {
	consumeAck   atomic.Uint64 // basic.deliver, manual acknowledgement
	consumeNoAck atomic.Uint64 // basic.deliver, no-ack
	getAck       atomic.Uint64 // basic.get-ok, manual acknowledgement
	getNoAck     atomic.Uint64 // basic.get-ok, no-ack
	getEmpty     atomic.Uint64 // basic.get-empty
	redelivered  atomic.Uint64 // deliveries and get-oks with redelivered set
	acked        atomic.Uint64 // messages acknowledged with basic.ack
}

// countDelivery counts one basic.deliver (get false) or basic.get-ok.
func (d *deliveryCounters) countDelivery(get, noAck, redelivered bool) {
	switch {
	case get && noAck:
		d.getNoAck.Add(1)
	case get:
		d.getAck.Add(1)
	case noAck:
		d.consumeNoAck.Add(1)
	default:
		d.consumeAck.Add(1)
	}
	if redelivered {
		d.redelivered.Add(1)
	}
}

// channelCounters are a channel's counters: what it published (RabbitMQ's
// channel_exchange_metrics and the global publish counters, summed over
// exchanges) and what it took from queues, by queue type.
type channelCounters struct {
	received        atomic.Uint64 // basic.publish completed (content and all)
	receivedConfirm atomic.Uint64 // of them, in confirm or tx mode
	published       atomic.Uint64 // handed to routing (at commit in a transaction)
	routed          atomic.Uint64 // queues the published messages reached
	returned        atomic.Uint64 // unroutable and mandatory: basic.return
	dropped         atomic.Uint64 // unroutable, not mandatory: dropped
	confirmed       atomic.Uint64 // publishes acknowledged with basic.ack
	byType          [numQueueTypes]deliveryCounters

	// retired is set, under Server.statsMu, once the channel's counters
	// were added to Server.retired.
	retired bool
}

// queueCounters are a queue's counters on this node, kept in its
// queueEntry: the messages this node's channels published into it and
// took from it.
type queueCounters struct {
	published atomic.Uint64
	deliveryCounters
}

// exchangeCounters are an exchange's counters on this node (RabbitMQ's
// exchange_metrics).
type exchangeCounters struct {
	publishIn  atomic.Uint64 // messages published into the exchange
	publishOut atomic.Uint64 // copies routed out of it into queues
	confirmed  atomic.Uint64
	returned   atomic.Uint64
	dropped    atomic.Uint64
}

// ioCounters are a connection's socket traffic (RabbitMQ's
// connection_coarse_metrics and connection_metrics): octets, and reads
// and writes, the read loop's and the writer's.
type ioCounters struct {
	recvOct, recvCnt, sendOct, sendCnt atomic.Uint64
}

// churnCounters are the node's connection, channel and queue churn
// (RabbitMQ's connection_churn_metrics).
type churnCounters struct {
	connectionsOpened atomic.Uint64
	connectionsClosed atomic.Uint64
	channelsOpened    atomic.Uint64
	channelsClosed    atomic.Uint64
	queuesDeclared    atomic.Uint64
	queuesCreated     atomic.Uint64
	queuesDeleted     atomic.Uint64
}

// discardQueueCounters count for a session whose queue this node no
// longer lists (deleted meanwhile): nothing reads them.
var discardQueueCounters queueCounters

// queueCountersOf returns the counters and the queue type index of q, a
// queue of the vhost, for a new session with it.
func (v *vhost) queueCountersOf(q queue.Queue) (*queueCounters, uint8) {
	if v == nil {
		return &discardQueueCounters, qtClassic
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if e := v.queues[q.Name()]; e != nil && e.q == q {
		return &e.stats, queueTypeIndex(e.def.Type)
	}
	return &discardQueueCounters, qtClassic
}

// countPublished counts a message handed to routing through x (the
// default exchange's counters for ""), which reached queues copies.
func (ch *channel) countPublished(x *exchangeCounters, queues int, routed, mandatory bool) {
	ch.ctr.published.Add(1)
	x.publishIn.Add(1)
	if queues > 0 {
		ch.ctr.routed.Add(uint64(queues))
		x.publishOut.Add(uint64(queues))
	}
	switch {
	case routed:
	case mandatory:
		ch.ctr.returned.Add(1)
		x.returned.Add(1)
	default:
		ch.ctr.dropped.Add(1)
		x.dropped.Add(1)
	}
}

// countAcks counts the entries settled with basic.ack on their queues
// and the channel, one add per run of entries of the same session.
func (ch *channel) countAcks(taken []unackedEntry) {
	for i := 0; i < len(taken); {
		s := taken[i].s
		j := i + 1
		for j < len(taken) && taken[j].s == s {
			j++
		}
		if s != nil {
			n := uint64(j - i)
			s.qc.acked.Add(n)
			ch.ctr.byType[s.qt].acked.Add(n)
		}
		i = j
	}
}

// countDelivery counts a delivery through s on the channel and the queue.
func (s *session) countDelivery(get, noAck, redelivered bool) {
	s.qc.countDelivery(get, noAck, redelivered)
	s.ch.ctr.byType[s.qt].countDelivery(get, noAck, redelivered)
}

// countGetEmpty counts a basic.get-empty through s.
func (s *session) countGetEmpty() {
	s.qc.getEmpty.Add(1)
	s.ch.ctr.byType[s.qt].getEmpty.Add(1)
}
