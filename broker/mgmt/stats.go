package mgmt

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker"
)

// The sampler behind message rates, as RabbitMQ's management agent in
// its "basic" rates_mode: every collect_statistics_interval (5 s) one
// goroutine reads the node's counters through the Broker API (the
// node's totals, the queues it serves (QueueSamples), the exchanges,
// channels and connections), which reads atomics and takes the broker's
// locks only briefly, and records them as the newest point of each
// object's series. With 10,000 queues a tick takes about 4 ms (15 ms
// on a loaded machine), and each queue's series (two points) about 300
// bytes. An object not seen at a tick is forgotten. The API's handlers read the
// series under the sampler's lock.

// DefaultStatsInterval is RabbitMQ's collect_statistics_interval.
const DefaultStatsInterval = 5 * time.Second

// maxHistories bounds how many queues, exchanges, channels and
// connections keep a history for ranges at once; one asked for beyond it
// answers from its last two points.
const maxHistories = 256

// Series layouts: where each kind's groups start.
const (
	// the node: fine, deliver, lengths, churn
	gFine, gDeliver, gLengths, gChurn, gWidth = 0, 4, 11, 13, 20
	// a vhost: fine, deliver, lengths, octets
	vFine, vDeliver, vLengths, vOctets, vWidth = 0, 4, 11, 13, 15
	// a queue: publish, deliver, lengths
	qPublish, qDeliver, qLengths, qWidth = 0, 1, 8, 10
	// an exchange: publish_in, publish_out
	xIn, xOut, xWidth = 0, 1, 2
	// a channel: fine, deliver
	cFine, cDeliver, cWidth = 0, 4, 11
	// a connection: octets
	kOctets, kWidth = 0, 2
)

// Each kind's groups.
var (
	globalFine, globalDeliver = fineGroup(gFine), deliverGroup(gDeliver)
	globalLengths, churn      = lengthGroup(gLengths), churnGroup(gChurn)
	vhostFine, vhostDeliver   = fineGroup(vFine), deliverGroup(vDeliver)
	vhostLengths, vhostOctets = lengthGroup(vLengths), octetGroup(vOctets)
	queuePublish              = figures(qPublish, "publish")
	queueDeliver, queueLength = deliverGroup(qDeliver), lengthGroup(qLengths)
	exchangeIn, exchangeOut   = figures(xIn, "publish_in"), figures(xOut, "publish_out")
	chanFine, chanDeliver     = fineGroup(cFine), deliverGroup(cDeliver)
	connOctets                = octetGroup(kOctets)
)

// objKey names a queue or exchange.
type objKey struct{ vhost, name string }

// sampler keeps the series of the node, its vhosts, queues, exchanges,
// channels and connections.
type sampler struct {
	b        Broker
	log      *zap.Logger
	interval time.Duration

	mu        sync.Mutex
	tick      uint64
	global    *series
	vhosts    map[string]*series
	queues    map[objKey]*series
	exchanges map[objKey]*series
	channels  map[string]*series
	conns     map[string]*series
	histories int // series of queues … connections grown for ranges

	stop chan struct{}
	done chan struct{}
	qbuf []broker.QueueSample // the last tick's queues, reused by the next (the goroutine's own)
}

func newSampler(b Broker, log *zap.Logger, interval time.Duration) *sampler {
	if interval <= 0 {
		interval = DefaultStatsInterval
	}
	return &sampler{b: b, log: log, interval: interval, global: newSeries(gWidth, historyPoints),
		vhosts: map[string]*series{}, queues: map[objKey]*series{}, exchanges: map[objKey]*series{},
		channels: map[string]*series{}, conns: map[string]*series{}}
}

// start samples at once, then every interval on a goroutine of its own
// until close.
func (st *sampler) start() {
	st.stop, st.done = make(chan struct{}), make(chan struct{})
	go st.run()
}

// close stops the goroutine and waits for it; it does nothing if start
// was not called.
func (st *sampler) close() {
	if st.stop == nil {
		return
	}
	close(st.stop)
	<-st.done
}

func (st *sampler) run() {
	defer close(st.done)
	t := time.NewTicker(st.interval)
	defer t.Stop()
	for {
		st.sample()
		select {
		case <-st.stop:
			return
		case <-t.C:
		}
	}
}

// sampled are one tick's readings, gathered before the lock is taken.
type sampled struct {
	now       int64
	global    [gWidth]uint64
	vhosts    map[string]*[vWidth]uint64
	queues    []broker.QueueSample
	exchanges []broker.ExchangeInfo
	channels  []broker.ChannelInfo
	conns     []broker.ConnectionInfo
}

// sample reads the node's counters and records them.
func (st *sampler) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), st.interval)
	defer cancel()
	start := time.Now()
	r := st.read(ctx)
	st.record(r)
	st.log.Debug("statistics sampled", zap.Int("queues", len(r.queues)), zap.Duration("took", time.Since(start)))
}

// read gathers a tick's readings through the Broker API.
func (st *sampler) read(ctx context.Context) *sampled {
	r := &sampled{vhosts: map[string]*[vWidth]uint64{}}
	tot := st.b.Totals()
	st.qbuf = st.b.QueueSamples(ctx, st.qbuf)
	r.queues = st.qbuf
	for _, v := range st.b.Vhosts() {
		r.vhosts[v] = new([vWidth]uint64)
		r.exchanges = append(r.exchanges, st.b.Exchanges(v)...)
	}
	r.channels = st.b.Channels()
	r.conns = st.b.Connections()
	r.now = time.Now().UnixMilli()

	g := &r.global
	g[gFine], g[gFine+1], g[gFine+2], g[gFine+3] = tot.Received, tot.Confirmed, tot.UnroutableReturned, tot.UnroutableDropped
	for _, d := range tot.ByQueueType {
		putDelivery(g[gDeliver:], d.GetManualAck, d.GetAutoAck, d.ConsumeManualAck, d.ConsumeAutoAck,
			d.Redelivered, d.Acknowledged, d.GetEmpty)
	}
	copy(g[gChurn:], []uint64{tot.ConnectionsOpened, tot.ConnectionsClosed, tot.ChannelsOpened,
		tot.ChannelsClosed, tot.QueuesDeclared, tot.QueuesCreated, tot.QueuesDeleted})
	for _, q := range r.queues {
		m := q.MessageStats
		ready, unacked := q.Ready, q.Unacked
		g[gLengths] += ready
		g[gLengths+1] += unacked
		if v := r.vhosts[q.Vhost]; v != nil {
			putDelivery(v[vDeliver:], m.Get, m.GetNoAck, m.Deliver, m.DeliverNoAck, m.Redeliver, m.Ack, m.GetEmpty)
			v[vLengths] += ready
			v[vLengths+1] += unacked
		}
	}
	for _, x := range r.exchanges {
		if v := r.vhosts[x.Vhost]; v != nil {
			m := x.MessageStats
			v[vFine] += m.PublishIn
			v[vFine+1] += m.Confirm
			v[vFine+2] += m.ReturnUnroutable
			v[vFine+3] += m.DropUnroutable
		}
	}
	for _, c := range r.conns {
		if v := r.vhosts[c.Vhost]; v != nil {
			v[vOctets] += c.RecvOct
			v[vOctets+1] += c.SendOct
		}
	}
	return r
}

// putDelivery adds delivery counters to a deliver group's 7 values.
func putDelivery(dst []uint64, get, getNoAck, deliver, deliverNoAck, redeliver, ack, getEmpty uint64) {
	dst[0] += get
	dst[1] += getNoAck
	dst[2] += deliver
	dst[3] += deliverNoAck
	dst[4] += redeliver
	dst[5] += ack
	dst[6] += getEmpty
}

// record adds a tick's readings to the series and forgets the objects
// it did not see.
func (st *sampler) record(r *sampled) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.tick++
	now := r.now
	st.global.add(now, r.global[:])
	for name, v := range r.vhosts {
		seriesOf(st.vhosts, name, vWidth, historyPoints, st.tick).add(now, v[:])
	}
	var buf [qWidth]uint64
	for _, q := range r.queues {
		m := q.MessageStats
		buf = [qWidth]uint64{}
		buf[qPublish] = m.Publish
		putDelivery(buf[qDeliver:], m.Get, m.GetNoAck, m.Deliver, m.DeliverNoAck, m.Redeliver, m.Ack, m.GetEmpty)
		buf[qLengths], buf[qLengths+1] = q.Ready, q.Unacked
		seriesOf(st.queues, objKey{q.Vhost, q.Name}, qWidth, 2, st.tick).add(now, buf[:])
	}
	for _, x := range r.exchanges {
		v := [xWidth]uint64{x.MessageStats.PublishIn, x.MessageStats.PublishOut}
		seriesOf(st.exchanges, objKey{x.Vhost, x.Name}, xWidth, 2, st.tick).add(now, v[:])
	}
	for _, c := range r.channels {
		m := c.Stats
		var v [cWidth]uint64
		v[cFine], v[cFine+1], v[cFine+2], v[cFine+3] = m.Publish, m.Confirm, m.ReturnUnroutable, m.DropUnroutable
		putDelivery(v[cDeliver:], m.Get, m.GetNoAck, m.Deliver, m.DeliverNoAck, m.Redeliver, m.Ack, m.GetEmpty)
		seriesOf(st.channels, c.Name, cWidth, 2, st.tick).add(now, v[:])
	}
	for _, c := range r.conns {
		v := [kWidth]uint64{c.RecvOct, c.SendOct}
		seriesOf(st.conns, c.Name, kWidth, 2, st.tick).add(now, v[:])
	}
	forget(st.vhosts, st.tick)
	st.histories -= forget(st.queues, st.tick) + forget(st.exchanges, st.tick) +
		forget(st.channels, st.tick) + forget(st.conns, st.tick)
}

// seriesOf returns m's series for k, made with width and points if new,
// marked as seen at tick.
func seriesOf[K comparable](m map[K]*series, k K, width, points int, tick uint64) *series {
	s := m[k]
	if s == nil {
		s = newSeries(width, points)
		m[k] = s
	}
	s.seen = tick
	return s
}

// forget deletes the series not seen at tick and returns how many of
// them had a history.
func forget[K comparable](m map[K]*series, tick uint64) int {
	n := 0
	for k, s := range m {
		if s.seen != tick {
			if len(s.ts) > 2 {
				n++
			}
			delete(m, k)
		}
	}
	return n
}

// history makes s keep a history for ranges, within maxHistories; st.mu
// is held.
func (st *sampler) history(s *series) {
	if s == nil || len(s.ts) >= historyPoints || st.histories >= maxHistories {
		return
	}
	s.grow(historyPoints)
	st.histories++
}

// view locks the sampler for fn, which reads the series.
func (st *sampler) view(fn func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	fn()
}
