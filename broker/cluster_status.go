package broker

import (
	"slices"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/queue"
)

// ClusterStatus is one node's view of its cluster, as `warren cluster
// status` prints it.
type ClusterStatus struct {
	// Node is the node that answered.
	Node string `json:"node"`
	// Leader is the definitions' Raft leader, "" while there is none.
	Leader string `json:"leader"`
	// Voters are the definitions' Raft group, sorted by name.
	Voters []ClusterVoter `json:"voters"`
	// Members are the nodes of the cluster, sorted by name: every member
	// alive, and those failed or left that are still voters (a node that
	// is gone for good stays one until it is forgotten).
	Members []ClusterMember `json:"members"`
	// Vhosts are the virtual hosts this node serves, sorted.
	Vhosts []string `json:"vhosts"`
	// Queues are the queues of the definitions, sorted by home node, vhost
	// and name.
	Queues []ClusterQueue `json:"queues"`
}

// ClusterVoter is a voter of the definitions' Raft group.
type ClusterVoter struct {
	Node string `json:"node"`
	// Addr is its cluster address as Raft knows it.
	Addr string `json:"addr"`
}

// ClusterMember is a node of the cluster.
type ClusterMember struct {
	Name string `json:"name"`
	// State is "alive", "failed" or "left" (as membership sees it), or
	// "unknown" for a voter membership has not seen since this node
	// started.
	State string `json:"state"`
	// ClusterAddr is its cluster port's address.
	ClusterAddr string `json:"cluster_addr"`
	// AMQPAddr is where its AMQP clients connect.
	AMQPAddr string `json:"amqp_addr"`
	// Voter: it is a voter of the definitions' Raft group.
	Voter bool `json:"voter"`
	// Alarms are the resource alarms it has raised ("memory", "disk"),
	// which block the publishers of every node.
	Alarms []string `json:"alarms"`
}

// ClusterQueue is a queue's definition and where it lives.
type ClusterQueue struct {
	// Node is the queue's home node, which holds its messages.
	Node    string `json:"node"`
	Vhost   string `json:"vhost"`
	Name    string `json:"name"`
	Type    string `json:"type"`
	Durable bool   `json:"durable"`
	// Members and Leader are a quorum queue's replicas and, as this node
	// knows it, the one that leads ("" when none is known).
	Members []string `json:"members,omitempty"`
	Leader  string   `json:"leader,omitempty"`
	// Voters are the voters of a quorum queue's Raft group as this node's
	// replica knows them, sorted; none where this node holds no replica.
	// They follow Members once the group's leader has carried out a
	// change of members.
	Voters []string `json:"voters,omitempty"`
	// Resting is set while this node's replica of a quorum queue rests:
	// its group was idle, and its Raft is stopped until it is needed.
	Resting bool `json:"resting,omitempty"`
}

// status gathers this node's view of the cluster: membership, the Raft
// group and the queues of the definitions as this node applied them.
func (n *clusterNode) status() ClusterStatus {
	st := ClusterStatus{Node: n.srv.cfg.NodeName, Voters: []ClusterVoter{}, Members: []ClusterMember{}}
	if _, id := n.raft.LeaderWithID(); id != "" {
		st.Leader = string(id)
	}
	voters := map[string]string{}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, sv := range f.Configuration().Servers {
			if sv.Suffrage == raft.Voter {
				voters[string(sv.ID)] = string(sv.Address)
				st.Voters = append(st.Voters, ClusterVoter{Node: string(sv.ID), Addr: string(sv.Address)})
			}
		}
	}
	slices.SortFunc(st.Voters, func(a, b ClusterVoter) int { return strings.Compare(a.Node, b.Node) })
	st.Members = n.statusMembers(voters)
	st.Queues = n.srv.statusQueues()
	st.Vhosts = []string{}
	for _, v := range n.srv.vhostList() {
		st.Vhosts = append(st.Vhosts, v.name)
	}
	slices.Sort(st.Vhosts)
	return st
}

// ClusterMembers lists the nodes of this node's cluster as `warren cluster
// status` does (every member alive, and the voters failed or left),
// sorted by name; nil for a node that is not one of a cluster's, or that
// has not joined it yet.
func (s *Server) ClusterMembers() []ClusterMember {
	n := s.cluster
	if n == nil || !n.joined.Load() {
		return nil
	}
	return n.statusMembers(n.voters())
}

// voters maps the definitions' Raft voters to their addresses; empty
// while the configuration cannot be read.
func (n *clusterNode) voters() map[string]string {
	voters := map[string]string{}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, sv := range f.Configuration().Servers {
			if sv.Suffrage == raft.Voter {
				voters[string(sv.ID)] = string(sv.Address)
			}
		}
	}
	return voters
}

// statusMembers lists the members alive and the voters.
func (n *clusterNode) statusMembers(voters map[string]string) []ClusterMember {
	out := []ClusterMember{}
	seen := map[string]bool{}
	for _, m := range n.members.Members() {
		_, voter := voters[m.Name]
		if m.State != cluster.StateAlive && !voter {
			continue // forgotten, or never one of the group
		}
		seen[m.Name] = true
		set := n.remoteAlarmsOf(m.Name)
		if m.Name == n.srv.cfg.NodeName {
			set = n.srv.ownAlarmSet()
		}
		out = append(out, ClusterMember{Name: m.Name, State: m.State.String(), ClusterAddr: m.Addr,
			AMQPAddr: m.Meta.AMQPAddr, Voter: voter, Alarms: alarmList(set)})
	}
	for name, addr := range voters {
		if !seen[name] {
			out = append(out, ClusterMember{Name: name, State: "unknown", ClusterAddr: addr, Voter: true, Alarms: []string{}})
		}
	}
	slices.SortFunc(out, func(a, b ClusterMember) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// statusQueues lists the queues of every vhost this node serves. A
// quorum queue's leader and voters are asked of it with no vhost lock
// held, since its replica answers them through Raft.
func (s *Server) statusQueues() []ClusterQueue {
	out := []ClusterQueue{}
	var qs []queue.Queue
	for _, v := range s.vhostList() {
		v.mu.RLock()
		for _, e := range v.queues {
			out = append(out, ClusterQueue{Node: e.def.Home, Vhost: v.name, Name: e.def.Name, Type: e.def.Type,
				Durable: e.def.Durable, Members: slices.Clone(e.def.Members)})
			qs = append(qs, e.q)
		}
		v.mu.RUnlock()
	}
	for i, q := range qs {
		if l, ok := q.(interface{ Leader() string }); ok {
			out[i].Leader = l.Leader()
		}
		if r, ok := q.(interface{ Voters() []string }); ok {
			out[i].Voters = r.Voters()
		}
		if r, ok := q.(interface{ Resting() bool }); ok {
			out[i].Resting = r.Resting()
		}
	}
	slices.SortFunc(out, func(a, b ClusterQueue) int {
		return cmpStrings(a.Node, b.Node, a.Vhost, b.Vhost, a.Name, b.Name)
	})
	return out
}

// cmpStrings compares pairs in order, the first that differs deciding.
func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}
