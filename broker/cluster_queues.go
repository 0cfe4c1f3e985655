package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

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

// serveQueues serves this node's queues to the links of other nodes until
// ln closes; each link is served on a goroutine of its own, tracked by the
// server, and ends with ctx.
func (s *Server) serveQueues(ctx context.Context, ln net.Listener) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("accepting queue links stopped", zap.Error(err))
			}
			return
		}
		s.goTracked(func() {
			err := remote.Serve(ctx, nc, remote.ServerConfig{Lookup: s.homeQueue, Log: s.log})
			if err != nil && ctx.Err() == nil {
				s.log.Debug("queue link ended", zap.String("peer", nc.RemoteAddr().String()), zap.Error(err))
			}
		})
	}
}

// homeQueue returns the queue vhost/name this node is home to, for a
// peer's link.
func (s *Server) homeQueue(vhost, name string) (queue.Queue, error) {
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
