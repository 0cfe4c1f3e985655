package broker

import (
	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// noteLeader logs when the definitions leader this node sees changes:
// which node leads, or that there is none, which is why definitions
// changes are refused here until there is (defs_timeout.go). The
// membership loop calls it on every round; only that goroutine touches
// clusterNode.leader.
func (n *clusterNode) noteLeader() {
	_, id := n.raft.LeaderWithID()
	if id == n.leader {
		return
	}
	prev := n.leader
	n.leader = id
	if id == "" {
		n.log.Warn("no definitions leader: a majority of the cluster's nodes is not reachable from this node, or an election is under way; definitions changes are refused until there is one",
			zap.String("last_leader", string(prev)))
		return
	}
	n.log.Info("definitions leader", zap.String("leader", string(id)),
		zap.Bool("self", id == raft.ServerID(n.srv.cfg.NodeName)))
}
