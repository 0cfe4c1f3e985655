package cluster

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// RaftLayer returns a raft.StreamLayer for one Raft group, over the
// transport's streams tagged with service (e.g. "raft/defs"), for
// raft.NewNetworkTransportWithConfig. Every group gets its own service on
// the node's one cluster port. Its address is the transport's advertised
// address, which is the group's raft.ServerAddress for this node.
//
// Closing the layer (raft.NetworkTransport.Close does) also closes every
// stream it dialled or accepted, which raft's NetworkTransport does not
// track, so that a group shut down while the node runs on leaves no
// connection or goroutine behind.
func (t *Transport) RaftLayer(service string) (raft.StreamLayer, error) {
	l, err := t.listen(service)
	if err != nil {
		return nil, err
	}
	return &raftLayer{serviceListener: l, conns: map[*raftConn]struct{}{}}, nil
}

// raftLayer is a service listener that also dials, and owns its streams.
type raftLayer struct {
	*serviceListener

	mu     sync.Mutex
	closed bool
	conns  map[*raftConn]struct{}
}

// Accept waits for the next stream of the group.
func (r *raftLayer) Accept() (net.Conn, error) {
	c, err := r.serviceListener.Accept()
	if err != nil {
		return nil, err
	}
	return r.track(c)
}

// Dial opens a stream of the group to the node at address.
func (r *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := r.t.Dial(ctx, string(address), r.service)
	if err != nil {
		return nil, err
	}
	return r.track(c)
}

func (r *raftLayer) track(c net.Conn) (net.Conn, error) {
	rc := &raftConn{Conn: c, layer: r}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	r.conns[rc] = struct{}{}
	return rc, nil
}

// Close stops the layer and closes its streams.
func (r *raftLayer) Close() error {
	r.serviceListener.Close()
	r.mu.Lock()
	r.closed = true
	conns := r.conns
	r.conns = map[*raftConn]struct{}{}
	r.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return nil
}

// raftConn is a stream of a raftLayer, forgotten by it when closed.
type raftConn struct {
	net.Conn
	layer *raftLayer
}

// Close closes the stream.
func (c *raftConn) Close() error {
	c.layer.mu.Lock()
	delete(c.layer.conns, c)
	c.layer.mu.Unlock()
	return c.Conn.Close()
}
