package cluster

import (
	"context"
	"net"
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
	return &raftLayer{serviceListener: l}, nil
}

// raftLayer is a service listener that also dials, and owns its streams.
type raftLayer struct {
	*serviceListener
	conns connSet
}

// Accept waits for the next stream of the group.
func (r *raftLayer) Accept() (net.Conn, error) {
	c, err := r.serviceListener.Accept()
	if err != nil {
		return nil, err
	}
	return r.conns.track(c)
}

// Dial opens a stream of the group to the node at address.
func (r *raftLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := r.t.Dial(ctx, string(address), r.service)
	if err != nil {
		return nil, err
	}
	return r.conns.track(c)
}

// Close stops the layer and closes its streams.
func (r *raftLayer) Close() error {
	r.serviceListener.Close()
	r.conns.closeAll()
	return nil
}
