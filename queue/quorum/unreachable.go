package quorum

import (
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// A node whose link closes (its process was killed, or the network
// between the nodes broke), or that a dial fails to reach, is
// unreachable at once, as RabbitMQ's quorum queues take a consumer's
// monitor firing with noconnection: a leader here has the consumers on
// it stop taking deliveries and give back what they hold, so that
// consumers elsewhere take those messages now rather than once
// membership declares the node failed (memberlist's suspicion, seconds
// later: NodeDown). A publisher waiting for its message to be consumed
// would otherwise wait as long. The node is reachable again as soon as a
// link to it is up (a probe dials it every reachProbe while it is
// unreachable) or membership says it is alive; its consumers are then
// served as before. A node that membership declares failed is forgotten
// here: NodeDown ends its consumers.
//
// Each leader proposes fifo.Unreachable, naming all the nodes of its
// consumers it cannot reach, whenever that changes and once it is
// elected (after its LeaderElected is applied, so that every consumer the
// log holds is known). A new leader dials each of its consumers' nodes it
// has no link to: a replica that never followed the old leader's node
// closely (it had no link there to lose) learns that node is gone from
// the dial.

// reachProbe is how often a node dials the unreachable nodes.
const reachProbe = 500 * time.Millisecond

// reach is the addresses of the nodes this node cannot reach, and the
// probe that dials them.
type reach struct {
	mu      sync.Mutex
	addrs   map[string]bool
	probing bool // the probe runs
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// nodeUnreachable records that the node at addr is unreachable (its link
// closed), has the queues led here stop serving its consumers and starts
// the probe.
func (t *Type) nodeUnreachable(addr string) {
	r := &t.reach
	r.mu.Lock()
	if r.closed || r.addrs[addr] {
		r.mu.Unlock()
		return
	}
	r.init()
	r.addrs[addr] = true
	if !r.probing {
		r.probing = true
		r.wg.Add(1)
		go t.probeUnreachable()
	}
	r.mu.Unlock()
	t.log.Info("quorum queues: node unreachable, its consumers' messages go to others", zap.String("addr", addr))
	t.syncReach()
}

// init makes r's map and stop channel; r.mu is held.
func (r *reach) init() {
	if r.addrs == nil {
		r.addrs, r.stop = map[string]bool{}, make(chan struct{})
	}
}

// goReach runs f on a goroutine that closeReach joins; f's stop is
// closed when the type closes.
func (t *Type) goReach(f func(stop <-chan struct{})) {
	r := &t.reach
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.init()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f(r.stop)
	}()
}

// nodeReachable records that the node at addr is reachable again; the
// queues led here serve its consumers again.
func (t *Type) nodeReachable(addr string) {
	if !t.forgetUnreachable(addr) {
		return
	}
	t.log.Info("quorum queues: node reachable again", zap.String("addr", addr))
	t.syncReach()
}

// forgetUnreachable drops addr from the unreachable nodes and reports
// whether it was one.
func (t *Type) forgetUnreachable(addr string) bool {
	r := &t.reach
	r.mu.Lock()
	defer r.mu.Unlock()
	was := r.addrs[addr]
	delete(r.addrs, addr)
	return was
}

// unreachableAddrs returns the addresses of the unreachable nodes.
func (t *Type) unreachableAddrs() []string {
	r := &t.reach
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.addrs))
	for a := range r.addrs {
		out = append(out, a)
	}
	return out
}

// isUnreachable reports whether node is unreachable.
func (t *Type) isUnreachable(node string) bool {
	addr := t.cfg.Net.NodeAddr(node)
	r := &t.reach
	r.mu.Lock()
	defer r.mu.Unlock()
	return addr != "" && r.addrs[addr]
}

// probeUnreachable dials each unreachable node every reachProbe until
// none is left or the type closes; a node whose link is up is reachable.
func (t *Type) probeUnreachable() {
	r := &t.reach
	defer r.wg.Done()
	tick := time.NewTicker(reachProbe)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		addrs := t.unreachableAddrs()
		if len(addrs) == 0 {
			r.mu.Lock()
			if len(r.addrs) == 0 {
				r.probing = false
				r.mu.Unlock()
				return
			}
			r.mu.Unlock()
			continue
		}
		for _, a := range addrs {
			if t.links.get(a).up() {
				t.nodeReachable(a)
			}
		}
	}
}

// closeReach stops the probe and what goReach runs, and joins them.
func (t *Type) closeReach() {
	r := &t.reach
	r.mu.Lock()
	if !r.closed && r.stop != nil {
		close(r.stop)
	}
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
}

// syncReach has every queue led here propose the nodes of its consumers
// that are unreachable, when the state says otherwise.
func (t *Type) syncReach() {
	for _, q := range t.leading() {
		q.syncReach()
	}
}

// reachConsumers has q, just elected, propose which of its consumers'
// nodes are unreachable (syncReach) once it has tried to reach each: a
// node it has no link to is dialled first, and a dial that fails makes
// the node unreachable.
func (q *Queue) reachConsumers() {
	if q.t.cfg.Net == nil {
		return
	}
	q.fsm.mu.Lock()
	nodes := q.fsm.state.ConsumerNodes()
	q.fsm.mu.Unlock()
	var dials []*link
	for _, n := range nodes {
		if addr := q.t.cfg.Net.NodeAddr(n); n != q.t.cfg.Node && addr != "" {
			if k := q.t.links.get(addr); k.dialling() {
				dials = append(dials, k)
			}
		}
	}
	if len(dials) == 0 {
		q.syncReach()
		return
	}
	q.t.goReach(func(stop <-chan struct{}) {
		for _, k := range dials {
			select {
			case <-k.dialDone:
			case <-stop:
				return
			}
		}
		if q.leading() {
			q.syncReach()
		}
	})
}

// syncReach proposes fifo.Unreachable with the nodes of q's consumers
// that are unreachable, unless the state names those already.
func (q *Queue) syncReach() {
	if q.t.cfg.Net == nil {
		return
	}
	q.fsm.mu.Lock()
	nodes, have := q.fsm.state.ConsumerNodes(), q.fsm.state.UnreachableNodes()
	q.fsm.mu.Unlock()
	want := slices.DeleteFunc(nodes, func(n string) bool { return !q.t.isUnreachable(n) })
	if !slices.Equal(want, have) {
		q.propose(fifo.Unreachable{Nodes: want, Now: now()}, nil, nil, nil)
	}
}
