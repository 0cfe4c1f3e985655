package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/cluster"
	"github.com/warrenmq/warren/queue/remote"
)

// This file makes a node one of a cluster's: the cluster port
// (cluster.Transport), membership (cluster.Membership, memberlist), and
// the definitions' Raft group over the members, which replaces the single
// node's localLog as the proposer (defs_raft.go).
//
// Forming: a node whose Raft log is empty waits until membership shows
// BootstrapExpect nodes alive, none of which has a Raft state of its own
// yet, and bootstraps the group with exactly those nodes, sorted by name;
// every node of a new cluster does the same with the same set, so two
// clusters cannot form by a race. A node that finds a cluster already
// formed waits for its leader to add it.
//
// The leader keeps the group's voters in step with membership (adding a
// node that joined, or updating the address of one that came back on
// another port) and proposes NodeDown for a node that failed or left,
// so that the exclusive queues of its connections and its non-durable
// queues go, as RabbitMQ removes them. A restarted node proposes NodeDown
// for itself once the group has a leader, since its connections and
// transient queues did not survive the restart. Each NodeDown names the
// lives it ends (a node's life is its start time, announced in its
// membership tags and recorded in each queue it declares), so one
// committed late never removes what the node's next life declared.

// ClusterConfig makes a node one of a cluster's.
type ClusterConfig struct {
	// Listen is the cluster port: Raft, gossip and forwarding between the
	// nodes, such as "0.0.0.0:25672" (RabbitMQ's inter-node port).
	Listen string
	// Advertise is the address the other nodes reach this one at; empty
	// means Listen's (which must then name a host).
	Advertise string
	// Join are cluster addresses of other nodes; this node keeps trying
	// them until one answers, so nodes may start in any order.
	Join []string
	// BootstrapExpect is how many nodes form a new cluster: the first
	// start waits until that many are up. 1 makes a one-node cluster.
	BootstrapExpect int
	// Secret is shared by the cluster's nodes, as RabbitMQ's Erlang
	// cookie: a node with another one cannot connect.
	Secret string
	// CommitTimeout bounds how long a definitions change waits for the
	// cluster to commit it; 0 means 15 s.
	CommitTimeout time.Duration
	// QuorumRestAfter is how long a quorum queue's group is idle before
	// its replicas rest (queue/quorum's rest.go); 0 means 10 s.
	QuorumRestAfter time.Duration
}

// defaultCommitTimeout is ClusterConfig.CommitTimeout's default.
const defaultCommitTimeout = 15 * time.Second

// Services of the cluster port the broker uses.
const raftDefsService = "raft/defs"

// Paths inside Config.DataDir for a cluster node.
const raftDir = "raft"

// clusterNode is a node's part in its cluster.
type clusterNode struct {
	srv     *Server
	log     *zap.Logger
	cfg     ClusterConfig
	port    *cluster.Transport
	members *cluster.Membership
	joined  atomic.Bool // members and raft are set
	raft    *raft.Raft
	defs    *raftDefs
	gate    *gatedDefs              // the proposer the node's clients use (cluster_gate.go)
	leaders <-chan raft.Observation // leader changes, for the loop
	store   *raftboltdb.BoltStore
	replies *replyLinks
	queues  *queueLinks
	ctx     context.Context // ends at shutdown: the queue links served
	cancel  context.CancelFunc

	events chan struct{} // capacity 1: membership changed
	stop   chan struct{}
	done   chan struct{}

	leader raft.ServerID // the definitions leader last logged (cluster_leader.go); the loop's

	mu       sync.Mutex
	downSent map[string]bool // nodes whose NodeDown this leader proposed since they were last alive

	quorumOps sync.Mutex // serializes the quorum queue member operations asked of this node (cluster_quorum_admin.go)

	alarms *alarmGossip // this node's alarms to the others, theirs to this node (cluster_alarms.go)
}

// openCluster opens the cluster port, so that the queues homed on other
// nodes can be routed to (through their proxies) as the node recreates
// its definitions; startCluster then starts the rest.
func (s *Server) openCluster() error {
	cfg := *s.cfg.Cluster
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = defaultCommitTimeout
	}
	if cfg.BootstrapExpect < 1 {
		return errors.New("broker: a cluster node needs BootstrapExpect of 1 or more")
	}
	n := &clusterNode{srv: s, log: s.log.Named("cluster"), cfg: cfg, events: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}), downSent: map[string]bool{}, alarms: newAlarmGossip()}
	port, err := cluster.Listen(cluster.TransportConfig{Addr: cfg.Listen, Advertise: cfg.Advertise, Secret: cfg.Secret, Log: n.log})
	if err != nil {
		return fmt.Errorf("broker: cluster port: %w", err)
	}
	n.port = port
	n.queues = &queueLinks{n: n, links: map[string]*remote.Link{}}
	n.replies = &replyLinks{port: port, log: n.log, links: map[string]*replyLink{}}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	s.cluster = n
	return nil
}

// startCluster starts Raft, with fsm holding the state loaded from
// definitions.db, serves the cluster port's services and joins the
// cluster; Raft becomes the proposer.
func (s *Server) startCluster(fsm *defsFSM, store defsStore) error {
	n := s.cluster
	if err := n.openRaft(fsm, store); err != nil {
		return err
	}
	services := []struct {
		name   string
		handle func(net.Conn)
	}{
		{defsService, func(nc net.Conn) { s.commitForwarded(nc, n.raft, n.defs.fsm) }},
		{repliesService, s.readReplies},
		{queuesService, func(nc net.Conn) { s.serveQueueLink(n.ctx, nc) }},
		{adminService, func(nc net.Conn) { s.answerAdmin(n.ctx, nc) }},
	}
	for _, sv := range services {
		ln, err := n.port.Listen(sv.name)
		if err != nil {
			return fmt.Errorf("broker: cluster port: %w", err)
		}
		s.goTracked(func() { s.serveStreams(ln, sv.name, sv.handle) })
	}
	members, err := cluster.Join(cluster.MembershipConfig{
		Node:      s.cfg.NodeName,
		Transport: n.port,
		Meta:      n.localMeta(),
		Seeds:     n.cfg.Join,
		Log:       n.log,
		Events: func(ev cluster.Event) {
			n.changed()
			n.remoteAlarmsChanged(ev)
			s.quorumMembership(ev)
		},
	})
	if err != nil {
		return fmt.Errorf("broker: cluster membership: %w", err)
	}
	n.members = members
	n.joined.Store(true)
	n.gate = newGatedDefs(n.defs, n.changed)
	n.leaders = leaderEvents(n.raft)
	s.defs = n.gate
	go n.loop()
	n.startAlarms()
	n.log.Info("cluster node started", zap.String("cluster_addr", n.port.Addr()),
		zap.Strings("join", n.cfg.Join), zap.Int("bootstrap_expect", n.cfg.BootstrapExpect))
	return nil
}

// serveStreams hands each stream ln accepts for service to handle, on a
// goroutine of its own tracked by the server, until ln is closed.
func (s *Server) serveStreams(ln net.Listener, service string, handle func(net.Conn)) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Warn("accepting cluster streams stopped", zap.String("service", service), zap.Error(err))
			}
			return
		}
		s.goTracked(func() { handle(nc) })
	}
}

// openRaft opens the definitions' Raft group on the node's stores.
func (n *clusterNode) openRaft(fsm *defsFSM, store defsStore) error {
	s := n.srv
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.NodeName)
	rc.Logger = cluster.NewHCLogger(n.log, "raft")
	configureDefsTiming(rc) // defs_timing.go
	rc.SnapshotThreshold = 1024
	rc.TrailingLogs = 1024
	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	if s.cfg.InMemory {
		mem := raft.NewInmemStore()
		logs, stable, snaps = mem, mem, raft.NewInmemSnapshotStore()
	} else {
		dir := filepath.Join(s.cfg.DataDir, raftDir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("broker: raft folder: %w", err)
		}
		bs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
		if err != nil {
			return fmt.Errorf("broker: raft log: %w", err)
		}
		n.store = bs
		fss, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, rc.Logger)
		if err != nil {
			return fmt.Errorf("broker: raft snapshots: %w", err)
		}
		logs, stable, snaps = bs, bs, fss
	}
	layer, err := n.port.RaftLayer(raftDefsService)
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: rc.Logger,
	})
	rfsm := newRaftFSM(n.log, store, fsm)
	r, err := raft.NewRaft(rc, rfsm, logs, stable, snaps, trans)
	if err != nil {
		trans.Close() // the raft store is closed by shutdown
		return fmt.Errorf("broker: raft: %w", err)
	}
	n.raft = r
	n.defs = &raftDefs{log: n.log, raft: r, fsm: rfsm, node: s.cfg.NodeName, timeout: n.cfg.CommitTimeout,
		forward: func(ctx context.Context, addr raft.ServerAddress, entry []byte) (uint64, error) {
			return forwardTo(ctx, n.port, addr, entry)
		},
		visible: n.waitVisible}
	return nil
}

// changed notes a membership change for the loop.
func (n *clusterNode) changed() {
	select {
	case n.events <- struct{}{}:
	default:
	}
}

// clusterTick is how often the loop looks at membership without an event.
const clusterTick = time.Second

// loop forms the cluster, then keeps Raft's voters and the definitions in
// step with membership, until stop.
func (n *clusterNode) loop() {
	defer close(n.done)
	selfDown := false // NodeDown for this node's previous life is committed
	t := time.NewTicker(clusterTick)
	defer t.Stop()
	for {
		n.bootstrap()
		n.noteLeader()
		if !selfDown {
			if selfDown = n.proposeDown(n.srv.cfg.NodeName, n.srv.life-1); selfDown {
				n.gate.open()
			}
		}
		if n.raft.State() == raft.Leader {
			n.reconcileMembers()
		}
		select {
		case <-n.stop:
			return
		case <-n.events:
		case <-n.leaders:
		case <-t.C:
		}
	}
}

// bootstrap forms a new cluster when this node has no Raft state and
// BootstrapExpect nodes are alive, none of them in a cluster yet.
func (n *clusterNode) bootstrap() {
	if n.raft.State() != raft.Follower || n.hasLeaderOrConfig() {
		return
	}
	alive := n.alive()
	if len(alive) < n.cfg.BootstrapExpect {
		return
	}
	for _, m := range alive {
		if m.Name == n.srv.cfg.NodeName {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		formed, err := askFormed(ctx, n.port, m.Addr)
		cancel()
		if err != nil || formed {
			// A node in a cluster already (this one restarted with an
			// empty data dir, or joins late): its leader adds this one.
			return
		}
	}
	if len(alive) > n.cfg.BootstrapExpect {
		n.log.Warn("more nodes are up than BootstrapExpect; waiting for a formed cluster to add this one",
			zap.Int("alive", len(alive)), zap.Int("bootstrap_expect", n.cfg.BootstrapExpect))
		return
	}
	servers := make([]raft.Server, 0, len(alive))
	for _, m := range alive {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.Addr)})
	}
	slices.SortFunc(servers, func(a, b raft.Server) int { return strings.Compare(string(a.ID), string(b.ID)) })
	if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		if !errors.Is(err, raft.ErrCantBootstrap) {
			n.log.Warn("bootstrapping the definitions' Raft group failed", zap.Error(err))
		}
		return
	}
	n.log.Info("cluster formed", zap.Int("nodes", len(servers)))
	n.addDefaultVhost()
}

// hasLeaderOrConfig reports whether this node knows of a formed cluster:
// its own Raft configuration is not empty, or a leader has reached it.
func (n *clusterNode) hasLeaderOrConfig() bool {
	if addr, _ := n.raft.LeaderWithID(); addr != "" {
		return true
	}
	f := n.raft.GetConfiguration()
	return f.Error() == nil && len(f.Configuration().Servers) > 0
}

// addrOf returns the cluster address of the member node, or "".
func (n *clusterNode) addrOf(node string) string {
	for _, m := range n.members.Members() {
		if m.Name == node {
			return m.Addr
		}
	}
	return ""
}

// alive returns the members alive now.
func (n *clusterNode) alive() []cluster.Member {
	var out []cluster.Member
	for _, m := range n.members.Members() {
		if m.State == cluster.StateAlive {
			out = append(out, m)
		}
	}
	return out
}

// reconcileMembers, on the leader, adds alive members that are not voters
// (or whose address changed), and proposes NodeDown once for each member
// that failed or left.
func (n *clusterNode) reconcileMembers() {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	voters := map[raft.ServerID]raft.ServerAddress{}
	for _, sv := range f.Configuration().Servers {
		voters[sv.ID] = sv.Address
	}
	for _, m := range n.members.Members() {
		id := raft.ServerID(m.Name)
		if m.State != cluster.StateAlive {
			if _, ok := voters[id]; ok && !n.wasDown(m.Name) && n.proposeDown(m.Name, lifeOf(m)) {
				n.markDown(m.Name, true)
			}
			continue
		}
		n.markDown(m.Name, false)
		if addr, ok := voters[id]; !ok || addr != raft.ServerAddress(m.Addr) {
			if err := n.raft.AddVoter(id, raft.ServerAddress(m.Addr), 0, 10*time.Second).Error(); err != nil {
				n.log.Warn("adding a node to the definitions' Raft group failed", zap.String("node", m.Name), zap.Error(err))
				continue
			}
			n.log.Info("node added to the definitions' Raft group", zap.String("node", m.Name), zap.String("addr", m.Addr))
		}
	}
}

func (n *clusterNode) wasDown(node string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.downSent[node]
}

func (n *clusterNode) markDown(node string, down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if down {
		n.downSent[node] = true
	} else {
		delete(n.downSent, node)
	}
}

// lifeTag is the membership tag carrying a node's life (Server.life).
const lifeTag = "life"

// lifeOf returns the life member m last announced, 0 if none: a
// NodeDown up to it removes what that life and the ones before declared.
func lifeOf(m cluster.Member) uint64 {
	life, _ := strconv.ParseUint(m.Meta.Tags[lifeTag], 10, 64)
	return life
}

// proposeDown commits NodeDown for node's lives up to upTo, reporting
// whether it was committed; without a leader it gives up at once, to try
// again later.
func (n *clusterNode) proposeDown(node string, upTo uint64) bool {
	if addr, _ := n.raft.LeaderWithID(); addr == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.CommitTimeout)
	defer cancel()
	if _, err := n.defs.Propose(ctx, meta.NodeDown{Node: node, UpTo: upTo}); err != nil {
		n.log.Warn("removing a node's transient queues failed; will try again", zap.String("node", node), zap.Error(err))
		return false
	}
	n.log.Info("transient and exclusive queues of a node removed", zap.String("node", node))
	return true
}

// shutdown leaves the cluster (the others see this node leave, not fail),
// stops the loop and Raft, and closes the cluster port; it also undoes a
// start that failed half way. The definitions' local store is closed
// later, with the queue types (closeStorage).
func (n *clusterNode) shutdown() {
	if n.members != nil {
		n.stopAlarms()
		if err := n.members.Leave(5 * time.Second); err != nil {
			n.log.Warn("leaving the cluster", zap.Error(err))
		}
		close(n.stop)
		<-n.done
	}
	if n.raft != nil {
		if err := n.raft.Shutdown().Error(); err != nil {
			n.log.Warn("stopping raft", zap.Error(err))
		}
	}
	if n.members != nil {
		n.members.Close()
	}
	n.cancel()
	n.queues.close()
	n.replies.close()
	n.port.Close()
	if n.store != nil {
		n.store.Close()
	}
}
