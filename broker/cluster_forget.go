package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/queue"
)

// Forgetting a node removes a node that is gone for good, as RabbitMQ's
// forget_cluster_node does: it is refused for a node that is running; the
// leader removes the node from the definitions' Raft group (so that the
// others' majority no longer counts it), commits NodeDown for it (its
// connections' exclusive queues and its non-durable queues go), then
// deletes the definitions of the classic queues homed on it, one
// DeleteQueue each, as rabbit_amqqueue:forget_all_durable does; their
// messages were on that node only. It then removes the node from the
// members of the quorum queues it was one of, as forget_cluster_node
// shrinks them (cluster_quorum_admin.go). A node that is not the leader sends
// the request on to the leader. A forgotten node that starts again with
// its old data rejoins as a new voter, and takes the definitions, without
// the deleted queues, from the cluster.

// ForgetResult is what forgetting a node did.
type ForgetResult struct {
	// Node is the node forgotten.
	Node string `json:"node"`
	// QueuesDeleted counts the queues homed on it whose definitions were
	// deleted.
	QueuesDeleted int `json:"queues_deleted"`
	// QuorumQueuesShrunk counts the quorum queues it was removed from as
	// a member.
	QuorumQueuesShrunk int `json:"quorum_queues_shrunk"`
}

// forget forgets node through the leader.
func (n *clusterNode) forget(ctx context.Context, node string, forwarded bool) (ForgetResult, error) {
	if node == "" {
		return ForgetResult{}, errors.New("no node named")
	}
	if err := n.checkNotRunning(node); err != nil {
		return ForgetResult{}, err
	}
	addr, id := n.raft.LeaderWithID()
	switch {
	case id == "":
		return ForgetResult{}, errNoLeader
	case string(id) == n.srv.cfg.NodeName:
		return n.forgetHere(ctx, node)
	case forwarded:
		return ForgetResult{}, fmt.Errorf("node %s is not the leader", n.srv.cfg.NodeName)
	}
	nc, err := n.port.Dial(ctx, string(addr), adminService)
	if err != nil {
		return ForgetResult{}, fmt.Errorf("the leader %s cannot be reached: %w", id, err)
	}
	reply, err := askAdmin(ctx, nc, adminRequest{Op: adminForget, Node: node, Forwarded: true})
	switch {
	case err != nil:
		return ForgetResult{}, fmt.Errorf("the leader %s: %w", id, err)
	case reply.Error != "":
		return ForgetResult{}, errors.New(reply.Error)
	case reply.Forget == nil:
		return ForgetResult{}, fmt.Errorf("the leader %s answered nothing", id)
	}
	return *reply.Forget, nil
}

// forgetHere forgets node on this node, the leader.
func (n *clusterNode) forgetHere(ctx context.Context, node string) (ForgetResult, error) {
	if err := n.checkNotRunning(node); err != nil {
		return ForgetResult{}, err
	}
	voter := false
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return ForgetResult{}, err
	}
	for _, sv := range f.Configuration().Servers {
		if string(sv.ID) == node {
			voter = true
		}
	}
	if !voter && len(n.srv.queuesHomedOn(node)) == 0 {
		// Never one of the cluster, or forgotten already.
		return ForgetResult{}, fmt.Errorf("node %s is not a member of this cluster", node)
	}
	if voter {
		timeout := n.cfg.CommitTimeout
		if dl, ok := ctx.Deadline(); ok {
			timeout = time.Until(dl)
		}
		if err := n.raft.RemoveServer(raft.ServerID(node), 0, timeout).Error(); err != nil {
			return ForgetResult{}, fmt.Errorf("removing %s from the definitions' Raft group: %w", node, err)
		}
		n.log.Info("node removed from the definitions' Raft group", zap.String("node", node))
	}
	if _, err := n.defs.Propose(ctx, meta.NodeDown{Node: node}); err != nil {
		return ForgetResult{}, fmt.Errorf("removing the transient queues of %s: %w", node, err)
	}
	res := ForgetResult{Node: node}
	for _, q := range n.srv.queuesHomedOn(node) {
		if _, err := n.defs.Propose(ctx, meta.DeleteQueue{Vhost: q.vhost, Name: q.def.Name, Incarnation: q.def.Incarnation}); err != nil {
			return res, fmt.Errorf("deleting queue '%s' in vhost '%s': %w", q.def.Name, q.vhost, err)
		}
		res.QueuesDeleted++
	}
	shrunk, err := n.shrinkQuorumQueues(ctx, node)
	res.QuorumQueuesShrunk = shrunk
	if err != nil {
		return res, fmt.Errorf("removing %s from the quorum queues: %w", node, err)
	}
	n.log.Info("node forgotten", zap.String("node", node), zap.Int("queues_deleted", res.QueuesDeleted),
		zap.Int("quorum_queues_shrunk", shrunk))
	return res, nil
}

// checkNotRunning refuses to forget a node membership sees alive.
func (n *clusterNode) checkNotRunning(node string) error {
	for _, m := range n.members.Members() {
		if m.Name == node && m.State == cluster.StateAlive {
			return fmt.Errorf("failed to remove node %s: it is still running; stop it first", node)
		}
	}
	return nil
}

// homedQueue is a queue's definition and its vhost.
type homedQueue struct {
	vhost string
	def   queueDef
}

// queuesHomedOn returns the classic queues whose home is node.
func (s *Server) queuesHomedOn(node string) []homedQueue {
	var out []homedQueue
	for _, v := range s.vhostList() {
		v.mu.RLock()
		for _, e := range v.queues {
			if e.def.Home == node && (e.def.Type == queue.TypeClassic || e.def.Type == "") {
				out = append(out, homedQueue{vhost: v.name, def: e.def})
			}
		}
		v.mu.RUnlock()
	}
	return out
}
