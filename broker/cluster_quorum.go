package broker

import (
	"context"
	"net"
	"slices"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum"
)

// A quorum queue in a cluster is a Raft group over its members (three by
// default, x-quorum-initial-group-size for fewer), chosen by the declaring
// node and recorded in the queue's definition, the first the node its
// leader locator placed the leader on. Every node runs the queue
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

// The leader locators RabbitMQ's quorum queues take, as
// x-queue-leader-locator, the queue-leader-locator policy key and
// queue_leader_locator in rabbitmq.conf: where a new queue's leader is
// placed.
const (
	// leaderClientLocal places it on the declaring node (the default).
	leaderClientLocal = "client-local"
	// leaderBalanced places it on the live voter that the fewest quorum
	// queues were placed on.
	leaderBalanced = "balanced"
)

// leaderLocator is the leader locator of a quorum queue about to be
// declared, resolved as RabbitMQ's rabbit_queue_location resolves it:
// the queue-leader-locator of the policy in force on the queue (pol,
// operator policies merged), which wins over the queue's
// x-queue-leader-locator argument (in args), which wins over the node's
// configured locator (Config.QueueLeaderLocator). RabbitMQ's earlier
// values random and least-leaders, which a policy may still set, mean
// balanced; anything else means client-local.
func leaderLocator(pol policy.Definition, args protocol.Table, configured string) string {
	v, ok := pol.String("queue-leader-locator")
	if !ok {
		v, ok = args["x-queue-leader-locator"].(string)
	}
	if !ok {
		v = configured
	}
	switch v {
	case leaderBalanced, "random", "least-leaders":
		return leaderBalanced
	}
	return leaderClientLocal
}

// quorumMembers chooses the members of the quorum queue def of vhost,
// declared on this node, from this node and the other voters of the
// definitions' group that are alive: the first of them is the queue's
// leader, whose replica stands for election at once (queue/quorum's
// startStanding), as the queue's leader locator places it
// (placeQuorumMembers); size is the queue's
// x-quorum-initial-group-size (0: the default).
func (n *clusterNode) quorumMembers(vhost string, def *queueDef, size int64) []string {
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
	var locator string
	var placed map[string]int
	n.srv.fsm.read(func(st *meta.State) {
		locator = leaderLocator(st.QueuePolicy(vhost, def).Definition, def.Args, n.srv.cfg.QueueLeaderLocator)
		if locator == leaderBalanced {
			placed = st.LeaderPlacements()
		}
	})
	return placeQuorumMembers(self, others, size, locator, placed)
}

// placeQuorumMembers orders the members of a new quorum queue, up to
// size (0: the default), from the candidates self (the declaring node)
// and others: the leader first, then the other candidates in name order.
// The leader is self with client-local; with balanced, the candidate
// that leads the fewest quorum queues by placed (each node's count of
// the quorum queues whose first member it is, meta.State's
// LeaderPlacements), the name that sorts first among equals. The
// declaring node is a member with balanced only if it falls within
// size. Placed counts where leaders were placed, which every node reads
// alike from the definitions, not where they are now (after a failover
// the two differ), and not the declares still being committed.
func placeQuorumMembers(self string, others []string, size int64, locator string, placed map[string]int) []string {
	if size <= 0 {
		size = defaultQuorumSize
	}
	cands := slices.Compact(slices.Sorted(slices.Values(append([]string{self}, others...))))
	leader := self
	if locator == leaderBalanced {
		leader = cands[0]
		for _, c := range cands[1:] {
			if placed[c] < placed[leader] {
				leader = c
			}
		}
	}
	members := []string{leader}
	for _, c := range cands {
		if int64(len(members)) >= size {
			break
		}
		if c != leader {
			members = append(members, c)
		}
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
