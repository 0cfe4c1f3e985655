package broker

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/remote"
)

// Any node serves any queue. A classic queue lives on its home node, the
// node it was declared on (RabbitMQ's client-local placement); every other
// node's vhost holds, under the queue's name, a proxy (queue/remote) that
// carries each operation to the home node over the cluster port's service
// "queues", one link per peer node, and posts back what the queue
// answers. Routing happens on the node the client is connected to, so a
// publish reaches the home node as one transfer however many of its
// queues it routes to.

// queuesService is the cluster port's service for queue links.
const queuesService = "queues"

// queueLinks holds this node's links to the queues of its peers.
type queueLinks struct {
	n *clusterNode

	mu    sync.Mutex
	links map[string]*remote.Link // by node name
}

// queue returns the proxy for vhost/name homed on node.
func (l *queueLinks) queue(node, vhost, name string) queue.Queue {
	l.mu.Lock()
	link := l.links[node]
	if link == nil {
		link = remote.NewLink(remote.LinkConfig{
			Peer: node,
			Dial: func(ctx context.Context) (net.Conn, error) {
				addr := l.n.addrOf(node)
				if addr == "" {
					return nil, fmt.Errorf("node %s is not a member of the cluster", node)
				}
				return l.n.port.Dial(ctx, addr, queuesService)
			},
			Log: l.n.log,
		})
		l.links[node] = link
	}
	l.mu.Unlock()
	return link.Queue(vhost, name)
}

// close ends every link.
func (l *queueLinks) close() {
	l.mu.Lock()
	links := l.links
	l.links = map[string]*remote.Link{}
	l.mu.Unlock()
	for _, link := range links {
		link.Close()
	}
}

// serveQueueLink serves this node's queues to one peer's link until it
// ends or ctx does.
func (s *Server) serveQueueLink(ctx context.Context, nc net.Conn) {
	err := remote.Serve(ctx, nc, remote.ServerConfig{Lookup: s.homeQueue, Log: s.log})
	if err != nil && ctx.Err() == nil {
		s.log.Debug("queue link ended", zap.String("peer", nc.RemoteAddr().String()), zap.Error(err))
	}
}

// homeQueue returns the queue vhost/name this node is home to, for a
// peer's link. A peer may know of the queue before this node has applied
// its declare (two nodes declaring one name at once: the other node
// applies this node's declare first); on a miss this node catches up with
// the leader's commit index, within catchUpTimeout, and looks again.
func (s *Server) homeQueue(vhost, name string) (queue.Queue, error) {
	if q, err := s.localQueue(vhost, name); err == nil || s.cluster == nil {
		return q, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), catchUpTimeout)
	defer cancel()
	if err := s.cluster.catchUp(ctx); err != nil {
		s.log.Debug("catching up with the definitions' leader failed", zap.Error(err))
	}
	return s.localQueue(vhost, name)
}

// catchUpTimeout bounds homeQueue's wait for the definitions to catch up.
const catchUpTimeout = 2 * time.Second

// catchUp waits until this node has applied every definitions entry the
// leader had committed when asked.
func (n *clusterNode) catchUp(ctx context.Context) error {
	addr, id := n.raft.LeaderWithID()
	var index uint64
	switch {
	case id == raft.ServerID(n.srv.cfg.NodeName):
		index = n.raft.CommitIndex()
	case addr != "":
		var err error
		if index, err = askCommitIndex(ctx, n.port, string(addr)); err != nil {
			return err
		}
	default:
		return errNoLeader
	}
	return n.defs.fsm.waitSeen(ctx, index)
}

// localQueue returns the queue vhost/name this node runs and is home to.
func (s *Server) localQueue(vhost, name string) (queue.Queue, error) {
	v := s.vhost(vhost)
	if v == nil {
		return nil, protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", name, vhost)
	}
	v.mu.RLock()
	e := v.queues[name]
	v.mu.RUnlock()
	if e == nil || e.remote {
		return nil, protocol.NewError(protocol.NotFound, "no queue '%s' in vhost '%s'", name, vhost)
	}
	return e.q, nil
}

// startRemote routes to the queue def homed on another node, through its
// proxy.
func (v *vhost) startRemote(def queueDef) (*queueEntry, error) {
	args, err := v.srv.parseQueueArgs(def.Args, def.Name, v.name)
	if err != nil {
		return nil, err
	}
	e := &queueEntry{def: def, args: args, owner: ownerOf(def.Owner), remote: true,
		q: v.srv.cluster.queues.queue(def.Home, v.name, def.Name)}
	v.mu.Lock()
	v.queues[def.Name] = e
	v.mu.Unlock()
	return e, nil
}

// checkedStats is what a proxy of a queue on another node adds to
// queue.Queue (queue/remote): its counts, or why it cannot be reached.
type checkedStats interface {
	CheckedStats(ctx context.Context) (queue.Stats, error)
}

// remoteStats returns the counts of q, a queue on another node, or the
// exception that tells why they cannot be read: RabbitMQ's 404 "home node
// ... is down or inaccessible" when its node is down, as its passive
// declare and redeclare of such a queue answer.
func remoteStats(ctx context.Context, q queue.Queue) (queue.Stats, error) {
	if c, ok := q.(checkedStats); ok {
		return c.CheckedStats(ctx)
	}
	return q.Stats(ctx), nil
}
