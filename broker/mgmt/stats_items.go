package mgmt

import (
	"time"

	"github.com/warrenmq/warren/broker"
)

// The sampled figures each resource adds to its objects, as
// rabbit_mgmt_db augments them: message_stats (only once the object has
// counted something), and the lengths' and octets' *_details.

// requestRanges reads the request's ranges at the current time.
func requestRanges(r *request) (ranges, *apiError) {
	return parseRanges(r, time.Now().UnixMilli())
}

// sampleRetention is RabbitMQ's default sample_retention_policies, as
// /api/overview reports them.
var sampleRetention = item{"global": []int{600, 3600, 28800, 86400}, "basic": []int{600, 3600}, "detailed": []int{600}}

// putOverviewStats adds the overview's message_stats, churn_rates and
// queue_totals' details: the node's for a monitor, the sum of its
// vhosts' for another user (the churn is the node's for everyone, as in
// RabbitMQ).
func (s *Server) putOverviewStats(it, totals item, rg ranges, monitor bool, vhosts []string) {
	s.stats.view(func() {
		src, fine, deliver, lengths := s.stats.global, globalFine, globalDeliver, globalLengths
		if !monitor {
			parts := make([]*series, 0, len(vhosts))
			for _, v := range vhosts {
				parts = append(parts, s.stats.vhosts[v])
			}
			src, fine, deliver, lengths = sumSeries(parts, vWidth), vhostFine, vhostDeliver, vhostLengths
		}
		ms := messageStats(src, rg.msgRates, fine, deliver)
		if ms == nil {
			ms = item{}
		}
		it["message_stats"] = ms
		putGroup(totals, src, lengths, rg.lengths, false, false)
		ch := item{}
		putGroup(ch, s.stats.global, churn, rg.lengths, true, true)
		it["churn_rates"] = ch
	})
}

// sumSeries adds up series of one width point by point, newest with
// newest (the sampler adds a point to each at every tick); nil ones are
// skipped.
func sumSeries(parts []*series, width int) *series {
	n := 0
	for _, p := range parts {
		if p != nil {
			n = max(n, p.n)
		}
	}
	out := newSeries(width, max(n, 1))
	v := make([]uint64, width)
	for i := n - 1; i >= 0; i-- {
		clear(v)
		var t int64
		for _, p := range parts {
			if p == nil || i >= p.n {
				continue
			}
			pt, pv := p.point(i)
			t = max(t, pt)
			for j := range v {
				v[j] += pv[j]
			}
		}
		out.add(t, v)
	}
	return out
}

// putMessageStats adds s's message_stats of groups, if any, keeping a
// history of s for ranges when history is set; st.mu is held.
func (st *sampler) putMessageStats(it item, s *series, rg ranges, history bool, groups ...group) {
	if history {
		st.history(s)
	}
	if ms := messageStats(s, rg.msgRates, groups...); ms != nil {
		it["message_stats"] = ms
	}
}

// putQueueStats adds a queue's message_stats and lengths' details; st.mu
// is held.
func (st *sampler) putQueueStats(it item, q broker.QueueInfo, rg ranges, history bool) {
	s := st.queues[objKey{q.Vhost, q.Name}]
	st.putMessageStats(it, s, rg, history, queuePublish, queueDeliver)
	putGroup(it, s, queueLength, rg.lengths, false, false)
}

// putExchangeStats adds an exchange's message_stats; st.mu is held.
func (st *sampler) putExchangeStats(it item, x broker.ExchangeInfo, rg ranges, history bool) {
	st.putMessageStats(it, st.exchanges[objKey{x.Vhost, x.Name}], rg, history, exchangeIn, exchangeOut)
}

// putChannelStats adds a channel's message_stats; st.mu is held.
func (st *sampler) putChannelStats(it item, name string, rg ranges, history bool) {
	st.putMessageStats(it, st.channels[name], rg, history, chanFine, chanDeliver)
}

// putConnectionStats adds a connection's octets and their details; st.mu
// is held.
func (st *sampler) putConnectionStats(it item, name string, rg ranges, history bool) {
	s := st.conns[name]
	if history {
		st.history(s)
	}
	putGroup(it, s, connOctets, rg.dataRates, true, true)
}

// putVhostStats adds a vhost's message_stats, octets and lengths'
// details; st.mu is held.
func (st *sampler) putVhostStats(it item, name string, rg ranges) {
	s := st.vhosts[name]
	st.putMessageStats(it, s, rg, false, vhostFine, vhostDeliver)
	putGroup(it, s, vhostOctets, rg.dataRates, true, true)
	putGroup(it, s, vhostLengths, rg.lengths, false, false)
}
