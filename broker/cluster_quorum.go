package broker

import (
	"context"
	"net"
	"slices"
	"strings"

	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum"
)

// A quorum queue in a cluster is a Raft group over its members (three by
// default, x-quorum-initial-group-size for fewer), chosen by the declaring
// node and recorded in the queue's definition. Every node runs the queue
// (vhost_meta.go's homedHere): a member holds a replica, any node's
// channels reach the leader through queue/quorum's links, and the leader
// sends deliveries to the consumer's node. quorumNet is the type's view
// of the cluster port.

// defaultQuorumSize is a quorum queue's members when the declare does not
// say (RabbitMQ's default quorum_cluster_size is 3).
const defaultQuorumSize = 3

// quorumNet implements quorum.Network on this node's cluster port.
type quorumNet struct{ n *clusterNode }

var _ quorum.Network = quorumNet{}

// Addr implements quorum.Network.
func (q quorumNet) Addr() string { return q.n.port.Addr() }

// NodeAddr implements quorum.Network: the member's address from
// membership, else from the definitions' Raft configuration; "" until the
// node has joined (a replica recovered at start-up finds its peers in its
// own Raft configuration).
func (q quorumNet) NodeAddr(node string) string {
	if node == q.n.srv.cfg.NodeName {
		return q.n.port.Addr()
	}
	if !q.n.joined.Load() {
		return ""
	}
	if addr := q.n.addrOf(node); addr != "" {
		return addr
	}
	if f := q.n.raft.GetConfiguration(); f.Error() == nil {
		{
			for _, sv := range f.Configuration().Servers {
				if string(sv.ID) == node {
					return string(sv.Address)
				}
			}
		}
	}
	return ""
}

// Dial implements quorum.Network.
func (q quorumNet) Dial(ctx context.Context, addr, service string) (net.Conn, error) {
	return q.n.port.Dial(ctx, addr, service)
}

// Listen implements quorum.Network.
func (q quorumNet) Listen(service string) (net.Listener, error) { return q.n.port.Listen(service) }

// quorumMembers chooses the members of a quorum queue declared on this
// node: this node first (RabbitMQ's client-local leader locator), then
// the other voters of the definitions' group that are alive, in name
// order, up to size (0: the default).
func (n *clusterNode) quorumMembers(size int64) []string {
	if size <= 0 {
		size = defaultQuorumSize
	}
	self := n.srv.cfg.NodeName
	alive := map[string]bool{}
	for _, m := range n.alive() {
		alive[m.Name] = true
	}
	var others []string
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, sv := range f.Configuration().Servers {
			if id := string(sv.ID); id != self && alive[id] {
				others = append(others, id)
			}
		}
	}
	slices.SortFunc(others, strings.Compare)
	members := []string{self}
	for _, o := range others {
		if int64(len(members)) >= size {
			break
		}
		members = append(members, o)
	}
	return members
}

// quorumMembership tells the quorum queue type of members that failed,
// left or came back, so that leaders end the consumers on a node that is
// gone.
func (s *Server) quorumMembership(ev cluster.Event) {
	t, _ := s.types.Lookup(queue.TypeQuorum).(*quorum.Type)
	if t == nil || ev.Member.Name == s.cfg.NodeName {
		return
	}
	switch ev.Kind {
	case cluster.EventFail, cluster.EventLeave:
		t.NodeDown(ev.Member.Name)
	case cluster.EventJoin:
		t.NodeUp(ev.Member.Name)
	}
}
