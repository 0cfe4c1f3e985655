package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/queue"
)

// The members of a quorum queue change as rabbitmq-queues add_member,
// delete_member and grow change them, through the admin service
// (`warren cluster quorum-add-member|quorum-delete-member|quorum-grow`),
// carried out by the node asked: it checks the request against its
// definitions and commits a meta.SetQueueMembers naming the queue's
// incarnation, which every node applies (vhost.setQueueMembers tells its
// queue/quorum queue, whose group's leader then changes the Raft
// configuration). The operation returns once the definition is
// committed; `warren cluster status` shows the group's voters following.
//
// As RabbitMQ's: adding a node that is a member already, or deleting one
// that is not, does nothing and succeeds; a node added must be running;
// the last member cannot be deleted. Grow adds NODE to every quorum queue
// that lacks it and has fewer than three members (RabbitMQ's default
// quorum_cluster_size): what is needed to bring queues back to three
// after a node was forgotten and replaced. RabbitMQ's `grow NODE all`
// adds NODE to every quorum queue lacking it, however many members it
// has, and `grow NODE even` to those with an even number; Warren's grow
// leaves a queue of three or more alone (quorum-add-member adds to one).
// A forget removes the forgotten node from every quorum queue it was a
// member of, as rabbitmqctl forget_cluster_node shrinks them.

// The quorum queue operations of the admin service.
const (
	adminQuorumAddMember    = "quorum_add_member"
	adminQuorumDeleteMember = "quorum_delete_member"
	adminQuorumGrow         = "quorum_grow"
)

// QuorumMembersResult is what adding or deleting a quorum queue's member
// did.
type QuorumMembersResult struct {
	Vhost string `json:"vhost"`
	Queue string `json:"queue"`
	Node  string `json:"node"`
	// Members are the queue's members now.
	Members []string `json:"members"`
	// Changed is false when there was nothing to do: the node was a
	// member already (add) or was not one (delete).
	Changed bool `json:"changed"`
}

// QuorumGrowResult is what growing the quorum queues onto a node did.
type QuorumGrowResult struct {
	Node string `json:"node"`
	// Queues are the queues grow tried to add the node to, by vhost and
	// name.
	Queues []QuorumGrown `json:"queues"`
}

// QuorumGrown is one queue grow tried to add the node to.
type QuorumGrown struct {
	Vhost string `json:"vhost"`
	Queue string `json:"queue"`
	// Members are the queue's members after the attempt.
	Members []string `json:"members"`
	// Error says why the node was not added; empty when it was.
	Error string `json:"error,omitempty"`
}

// QuorumAddMember adds node, which must be running, to the members of
// the quorum queue vhost/queue, as rabbitmq-queues add_member does.
func (c AdminClient) QuorumAddMember(ctx context.Context, vhost, queue, node string) (QuorumMembersResult, error) {
	return c.quorumMembers(ctx, adminRequest{Op: adminQuorumAddMember, Vhost: vhost, Queue: queue, Node: node})
}

// QuorumDeleteMember removes node from the members of the quorum queue
// vhost/queue, as rabbitmq-queues delete_member does.
func (c AdminClient) QuorumDeleteMember(ctx context.Context, vhost, queue, node string) (QuorumMembersResult, error) {
	return c.quorumMembers(ctx, adminRequest{Op: adminQuorumDeleteMember, Vhost: vhost, Queue: queue, Node: node})
}

// QuorumGrow adds node, which must be running, to every quorum queue
// that lacks it and has fewer than three members.
func (c AdminClient) QuorumGrow(ctx context.Context, node string) (QuorumGrowResult, error) {
	reply, err := c.ask(ctx, adminRequest{Op: adminQuorumGrow, Node: node})
	if err != nil {
		return QuorumGrowResult{}, err
	}
	if reply.Grow == nil {
		return QuorumGrowResult{}, fmt.Errorf("%s answered nothing", c.Addr)
	}
	return *reply.Grow, nil
}

func (c AdminClient) quorumMembers(ctx context.Context, req adminRequest) (QuorumMembersResult, error) {
	reply, err := c.ask(ctx, req)
	if err != nil {
		return QuorumMembersResult{}, err
	}
	if reply.Members == nil {
		return QuorumMembersResult{}, fmt.Errorf("%s answered nothing", c.Addr)
	}
	return *reply.Members, nil
}

// quorumAdmin carries out one quorum queue operation on this node.
func (n *clusterNode) quorumAdmin(ctx context.Context, req adminRequest) adminReply {
	ctx, cancel := context.WithTimeout(ctx, 2*n.cfg.CommitTimeout)
	defer cancel()
	n.quorumOps.Lock()
	defer n.quorumOps.Unlock()
	if req.Op == adminQuorumGrow {
		res, err := n.quorumGrow(ctx, req.Node)
		if err != nil {
			return adminReply{Error: err.Error()}
		}
		return adminReply{Grow: &res}
	}
	res, err := n.changeQuorumMember(ctx, req.Vhost, req.Queue, req.Node, req.Op == adminQuorumAddMember)
	if err != nil {
		return adminReply{Error: err.Error()}
	}
	return adminReply{Members: &res}
}

// changeQuorumMember adds node to, or deletes it from, the members of
// the quorum queue vhost/name.
func (n *clusterNode) changeQuorumMember(ctx context.Context, vhost, name, node string, add bool) (QuorumMembersResult, error) {
	res := QuorumMembersResult{Vhost: vhost, Queue: name, Node: node}
	if node == "" {
		return res, errors.New("no node named")
	}
	if add {
		if err := n.checkRunning(node); err != nil {
			return res, err
		}
	}
	members, changed, err := n.updateQuorumMembers(ctx, vhost, name, func(cur []string) ([]string, error) {
		switch member := slices.Contains(cur, node); {
		case add && member, !add && !member:
			return nil, nil
		case add:
			return append(slices.Clone(cur), node), nil
		case len(cur) == 1:
			return nil, fmt.Errorf("cannot delete %s, the last member of quorum queue '%s' in vhost '%s'", node, name, vhost)
		}
		return slices.DeleteFunc(slices.Clone(cur), func(m string) bool { return m == node }), nil
	})
	res.Members, res.Changed = members, changed
	return res, err
}

// quorumGrow adds node to every quorum queue that lacks it and has fewer
// than defaultQuorumSize members, vhost by vhost and name by name.
func (n *clusterNode) quorumGrow(ctx context.Context, node string) (QuorumGrowResult, error) {
	res := QuorumGrowResult{Node: node, Queues: []QuorumGrown{}}
	if node == "" {
		return res, errors.New("no node named")
	}
	if err := n.checkRunning(node); err != nil {
		return res, err
	}
	grows := func(members []string) bool {
		return len(members) > 0 && len(members) < defaultQuorumSize && !slices.Contains(members, node)
	}
	for _, hq := range n.srv.quorumQueues(func(def *queueDef) bool { return grows(def.Members) }) {
		members, changed, err := n.updateQuorumMembers(ctx, hq.vhost, hq.def.Name, func(cur []string) ([]string, error) {
			if !grows(cur) {
				return nil, nil
			}
			return append(slices.Clone(cur), node), nil
		})
		if err == nil && !changed {
			continue // grown meanwhile
		}
		g := QuorumGrown{Vhost: hq.vhost, Queue: hq.def.Name, Members: members}
		if err != nil {
			g.Error = err.Error()
		}
		res.Queues = append(res.Queues, g)
	}
	n.log.Info("quorum queues grown", zap.String("node", node), zap.Int("queues", len(res.Queues)))
	return res, nil
}

// shrinkQuorumQueues removes node, which is being forgotten, from the
// members of every quorum queue it is one of, and returns how many it
// left. A queue whose only member it is keeps it: its messages were on
// that node only.
func (n *clusterNode) shrinkQuorumQueues(ctx context.Context, node string) (int, error) {
	shrunk := 0
	for _, hq := range n.srv.quorumQueues(func(def *queueDef) bool { return slices.Contains(def.Members, node) }) {
		_, changed, err := n.updateQuorumMembers(ctx, hq.vhost, hq.def.Name, func(cur []string) ([]string, error) {
			if !slices.Contains(cur, node) {
				return nil, nil
			}
			if len(cur) == 1 {
				n.log.Warn("the forgotten node was the only member of a quorum queue, whose messages are lost",
					zap.String("node", node), zap.String("queue", hq.def.Name), zap.String("vhost", hq.vhost))
				return nil, nil
			}
			return slices.DeleteFunc(slices.Clone(cur), func(m string) bool { return m == node }), nil
		})
		if err != nil {
			return shrunk, err
		}
		if changed {
			shrunk++
		}
	}
	return shrunk, nil
}

// memberTries bounds how often a change of members is made again after
// the members changed meanwhile.
const memberTries = 3

// updateQuorumMembers commits the members change returns from the
// current members of the quorum queue vhost/name (nil: nothing to do),
// as a meta.SetQueueMembers made from them. Refused because they changed
// meanwhile (another node's change, committed before and now applied
// here), it is made again from the new ones. It returns the queue's
// members and whether they changed.
func (n *clusterNode) updateQuorumMembers(ctx context.Context, vhost, name string,
	change func(cur []string) ([]string, error)) ([]string, bool, error) {
	var err error
	for range memberTries {
		var def queueDef
		if def, err = n.srv.quorumQueue(vhost, name); err != nil {
			return nil, false, err
		}
		members, cerr := change(def.Members)
		if cerr != nil || members == nil {
			return def.Members, false, cerr
		}
		cmd := meta.SetQueueMembers{Vhost: vhost, Name: name, Incarnation: def.Incarnation, Members: members, Was: def.Members}
		a, perr := n.defs.Propose(ctx, cmd)
		switch pe := timedOut(cmd, n.srv.cfg.NodeName, perr); {
		case pe != nil:
			return def.Members, false, pe
		case perr != nil:
			return def.Members, false, fmt.Errorf("the definitions change was not committed: %w", perr)
		case a.Err == nil:
			if a.Changed {
				n.log.Info("quorum queue members set", zap.String("queue", name), zap.String("vhost", vhost),
					zap.Strings("members", a.Queue.Members))
			}
			return a.Queue.Members, a.Changed, nil
		}
		err = a.Err
		if cur, qerr := n.srv.quorumQueue(vhost, name); qerr != nil || slices.Equal(cur.Members, def.Members) {
			break // refused for another reason than a change meanwhile
		}
	}
	return nil, false, err
}

// checkRunning refuses a node that membership does not see alive.
func (n *clusterNode) checkRunning(node string) error {
	for _, m := range n.members.Members() {
		if m.Name == node {
			if m.State != cluster.StateAlive {
				return fmt.Errorf("node %s is not running (%s)", node, m.State)
			}
			return nil
		}
	}
	return fmt.Errorf("node %s is not a member of this cluster", node)
}

// quorumQueue returns the definition of the quorum queue vhost/name, or
// an error saying why there is none whose members can change.
func (s *Server) quorumQueue(vhost, name string) (queueDef, error) {
	v := s.vhost(vhost)
	if v == nil {
		return queueDef{}, fmt.Errorf("virtual host '%s' does not exist", vhost)
	}
	v.mu.RLock()
	e := v.queues[name]
	var def queueDef
	if e != nil {
		def = e.def
	}
	v.mu.RUnlock()
	switch {
	case e == nil:
		return def, fmt.Errorf("queue '%s' was not found in virtual host '%s'", name, vhost)
	case def.Type == "" || def.Type == queue.TypeClassic:
		return def, fmt.Errorf("queue '%s' in vhost '%s' is a classic queue, not a quorum queue", name, vhost)
	case def.Type != queue.TypeQuorum:
		return def, fmt.Errorf("queue '%s' in vhost '%s' is a %s queue, not a quorum queue", name, vhost, def.Type)
	case len(def.Members) == 0:
		return def, fmt.Errorf("quorum queue '%s' in vhost '%s' was declared on a single node and has no members to change", name, vhost)
	}
	return def, nil
}

// quorumQueues returns the quorum queues whose definitions keep says,
// by vhost and name.
func (s *Server) quorumQueues(keep func(*queueDef) bool) []homedQueue {
	var out []homedQueue
	for _, v := range s.vhostList() {
		v.mu.RLock()
		for _, name := range slices.Sorted(maps.Keys(v.queues)) {
			if def := v.queues[name].def; def.Type == queue.TypeQuorum && keep(&def) {
				out = append(out, homedQueue{vhost: v.name, def: def})
			}
		}
		v.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b homedQueue) int { return cmpStrings(a.vhost, b.vhost, a.def.Name, b.def.Name) })
	return out
}
