package broker

import (
	"context"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/broker/meta"
)

// A cluster node commits NodeDown for itself once its definitions' Raft
// group has a leader, removing what its previous life left (the exclusive
// queues of connections that are gone, its non-durable queues). Until
// that commit, the node's own definitions changes wait (gatedDefs): a
// queue declared on it before would be deleted by a NodeDown committed
// after it. Everything the node proposes on its clients' behalf goes
// through the gate; the cluster loop's own NodeDown and Seed proposals
// go to raftDefs directly.
//
// The loop learns of a new leader from a Raft observer (leaderEvents), so
// the NodeDown, and whatever waits for it, does not wait for the loop's
// next tick.

// gatedDefs is the proposer of a cluster node: raftDefs, whose proposals
// other than NodeDown wait until cleared is closed.
type gatedDefs struct {
	*raftDefs
	cleared chan struct{} // closed once this node's own NodeDown is committed
	poke    func()        // wakes the cluster loop
}

// newGatedDefs returns d behind a closed gate; poke wakes the loop that
// opens it.
func newGatedDefs(d *raftDefs, poke func()) *gatedDefs {
	return &gatedDefs{raftDefs: d, cleared: make(chan struct{}), poke: poke}
}

// Propose implements proposer: it waits until the node's previous life is
// cleared, within the commit timeout, then proposes cmd through Raft.
func (g *gatedDefs) Propose(ctx context.Context, cmd meta.Command) (applied, error) {
	if _, down := cmd.(meta.NodeDown); down {
		return g.raftDefs.Propose(ctx, cmd)
	}
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	select {
	case <-g.cleared:
	default:
		g.poke()
		select {
		case <-g.cleared:
		case <-ctx.Done():
			return applied{}, errNoLeader
		}
	}
	return g.raftDefs.Propose(ctx, cmd)
}

// open lets proposals through; it is called once, by the loop.
func (g *gatedDefs) open() { close(g.cleared) }

// leaderEvents registers a Raft observer of leader changes and returns
// its channel (capacity 1; an observation that finds it full is dropped,
// which loses nothing since the loop looks at the current state). The
// observer lives as long as r, and runs no goroutine.
func leaderEvents(r *raft.Raft) <-chan raft.Observation {
	ch := make(chan raft.Observation, 1)
	o := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	r.RegisterObserver(o)
	return ch
}
