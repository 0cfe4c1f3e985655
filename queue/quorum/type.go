package quorum

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
	"github.com/warrenmq/warren/queue/quorum/wal"
	"github.com/warrenmq/warren/queue/store"
)

// Config configures the quorum queue type of a node.
type Config struct {
	// Node is this node's name: its Raft server id in every group.
	Node string
	// Dir holds the node's write-ahead log and the groups' snapshots;
	// empty keeps everything in memory (nothing survives a restart).
	Dir string
	// Logger receives the type's logs; nil means none.
	Logger *zap.Logger
	// RaftLogger receives the Raft groups' logs; nil means none.
	RaftLogger hclog.Logger
	// Net reaches the other nodes of the cluster; nil on a single node,
	// where every queue is a group of one.
	Net Network
	// RestAfter is how long a cluster queue's group is idle before its
	// replicas rest (rest.go); 0 means 10 s.
	RestAfter time.Duration
	// WALFS is the WAL's file system; nil means the operating system's
	// (tests hold its fsyncs back).
	WALFS store.FS
}

// Type is the quorum queue type: each queue a Raft group running the
// fifo state machine, every group of the node logging to one shared WAL.
type Type struct {
	cfg Config
	log *zap.Logger
	wal *wal.WAL // nil in memory
	// pages holds the replicas' page logs (pages.go); nil in memory,
	// where bodies are never paged.
	pages    *store.Store
	pageLogs atomic.Uint64 // page logs opened, for their names

	links   *links  // nil on a single node
	raftNet raftNet // the groups' Raft transport in a cluster (raftnet.go)

	// snapshotEvery is the fewest entries between two snapshots of a
	// queue (snapshotEvery; tests lower it).
	snapshotEvery uint64
	// window, when above zero, replaces windowMessages (tests).
	window int

	reach reach // the nodes this node cannot reach (unreachable.go)

	// restStop ends the rest loop (rest.go), restDone once it ended;
	// nil on a single node.
	restStop, restDone chan struct{}
	restOnce           sync.Once

	mu     sync.Mutex
	queues map[string]*Queue // by group name
	down   map[string]bool   // nodes reported down
	closed bool
}

var _ queue.Type = (*Type)(nil)

// OpenType opens the quorum queue type, and the WAL in cfg.Dir.
func OpenType(cfg Config) (*Type, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.RaftLogger == nil {
		cfg.RaftLogger = hclog.NewNullLogger()
	}
	if cfg.RestAfter <= 0 {
		cfg.RestAfter = restAfter
	}
	t := &Type{cfg: cfg, log: cfg.Logger, queues: map[string]*Queue{}, down: map[string]bool{},
		snapshotEvery: snapshotEvery}
	if cfg.Dir != "" {
		w, err := wal.Open(filepath.Join(cfg.Dir, "wal"), wal.Options{Logger: cfg.Logger, FS: cfg.WALFS})
		if err != nil {
			return nil, err
		}
		t.wal = w
		p, err := openPages(cfg.Dir)
		if err != nil {
			w.Close()
			return nil, err
		}
		t.pages = p
	}
	if cfg.Net != nil {
		l, err := newLinks(t, cfg.Net)
		if err != nil {
			if t.wal != nil {
				t.wal.Close()
				t.pages.Close()
			}
			return nil, err
		}
		t.links = l
		t.restStop, t.restDone = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(t.restDone)
			t.restLoop(t.restStop)
		}()
	}
	return t, nil
}

// queue returns the running queue of group, or nil.
func (t *Type) queue(group string) *Queue {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.queues[group]
}

// NodeDown tells the type that node left the cluster or failed: every
// queue this node leads ends the consumers on it, returning what they
// held, and a leader elected later does the same.
func (t *Type) NodeDown(node string) {
	t.mu.Lock()
	t.down[node] = true
	t.mu.Unlock()
	if t.cfg.Net != nil {
		addr := t.cfg.Net.NodeAddr(node)
		t.forgetUnreachable(addr) // NodeDown ends its consumers
		t.wakeLedFrom(addr)
	}
	for _, q := range t.leading() {
		q.propose(fifo.NodeDown{Node: node, Now: now()}, nil, nil, nil)
	}
}

// leading returns the running queues whose replica here leads.
func (t *Type) leading() []*Queue {
	return slices.DeleteFunc(t.running(), func(q *Queue) bool { return !q.leading() })
}

// running returns the running queues.
func (t *Type) running() []*Queue {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Collect(maps.Values(t.queues))
}

// NodeUp tells the type that node is a live member again.
func (t *Type) NodeUp(node string) {
	t.mu.Lock()
	delete(t.down, node)
	t.mu.Unlock()
	if t.cfg.Net != nil {
		t.nodeReachable(t.cfg.Net.NodeAddr(node))
	}
}

// downNodes returns the nodes reported down.
func (t *Type) downNodes() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.down))
	for n := range t.down {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Name implements queue.Type.
func (t *Type) Name() string { return queue.TypeQuorum }

// Capabilities implements queue.Type: durable only, no global QoS, no
// x-max-priority (messages have RabbitMQ 4's two priority levels).
func (t *Type) Capabilities() queue.Capabilities {
	return queue.Capabilities{Args: queue.TypeArgs(queue.TypeQuorum)}
}

// groupName names the Raft group of queue vhost/name.
func groupName(vhost, name string) string {
	return fmt.Sprintf("%d:%s/%s", len(vhost), vhost, name)
}

// hashName is a short name for group, fit for a file or service name.
func hashName(group string) string {
	sum := sha256.Sum256([]byte(group))
	return hex.EncodeToString(sum[:12])
}

// snapDir is where a group keeps its snapshots.
func (t *Type) snapDir(group string) string {
	return filepath.Join(t.cfg.Dir, "snapshots", hashName(group))
}

// Declare implements queue.Type: it starts the queue's replica, which
// recovers its state from its snapshot and log when it has one.
func (t *Type) Declare(_ context.Context, d queue.Declaration, h queue.Hooks) (queue.Queue, error) {
	if !d.Durable || d.Exclusive || d.AutoDelete {
		return nil, protocol.NewError(protocol.PreconditionFailed,
			"invalid property for quorum queue '%s' in vhost '%s'", d.Name, d.VHost)
	}
	g := groupName(d.VHost, d.Name)
	q := &Queue{t: t, decl: d, group: g, hooks: h, log: t.log,
		observed: make(chan raft.Observation, 1), sessions: map[queue.Publisher]*session{}}
	q.args.Store(&d.Args)
	q.fsm = newFSM(q, fifo.NewState(fifo.ConfigFromArgs(d.Args, d.Args.DeadLetterStrategy, 0)))
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, errors.New("quorum queue type closed")
	}
	if t.queues[g] != nil {
		t.mu.Unlock()
		return nil, fmt.Errorf("quorum queue %s runs already", g)
	}
	t.queues[g] = q
	t.mu.Unlock()
	q.prop = newProposer(q)
	if err := t.startRaft(q, true); err != nil {
		q.prop.close()
		q.fsm.closeBodies()
		t.forget(q)
		return nil, err
	}
	if t.cfg.Net != nil {
		// Consumers of this node's previous life end: no channel of
		// this life can have subscribed yet, and its commands queue
		// behind this one.
		q.propose(fifo.NodeDown{Node: t.cfg.Node, Now: now()}, nil, nil, nil)
	}
	return q, nil
}

// startRaft starts q's replica: a group of one on a single node; in a
// cluster, a replica when this node is one of the queue's members
// (bootstrapped, the first time, with all of them when bootstrap is set;
// every member bootstraps the same configuration) or kept one's data
// (to leave the group, members.go), none otherwise.
func (t *Type) startRaft(q *Queue, bootstrap bool) error {
	return t.runRaft(q, bootstrap, nil, false)
}

// startReplica starts the Raft of a resting replica again on its
// transport g (rest.go); it stands for election at once when stand is
// set.
func (t *Type) startReplica(q *Queue, g *groupTrans, stand bool) error {
	return t.runRaft(q, false, g, stand)
}

// runRaft starts q's Raft: on g when it is set (a resting replica's
// transport), else on a transport of its own; it stands at once when
// stand is set or it bootstraps a new group as its first member.
func (t *Type) runRaft(q *Queue, bootstrap bool, g *groupTrans, stand bool) (err error) {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(t.cfg.Node)
	c.Logger = t.cfg.RaftLogger.Named(q.group)
	c.MaxAppendEntries = 512
	// Snapshots are asked for by the state machine (fsm.Apply), never
	// by count or timer.
	c.SnapshotThreshold = 1 << 62
	c.SnapshotInterval = 1 << 62
	c.TrailingLogs = 1024
	// A leader that removes itself steps down and is stopped by the
	// member worker (members.go): shutting down at once could leave the
	// removal's future unanswered.
	c.ShutdownOnRemove = false
	var trans raft.Transport
	var boot []raft.Server
	var fresh bool // a new group, bootstrapped here
	woken := g != nil
	members := q.members()
	if t.cfg.Net == nil || len(members) == 0 {
		// A group of one elects itself at once.
		c.HeartbeatTimeout = 50 * time.Millisecond
		c.ElectionTimeout = 50 * time.Millisecond
		c.LeaderLeaseTimeout = 50 * time.Millisecond
		addr, inmem := raft.NewInmemTransport(raft.ServerAddress(t.cfg.Node))
		trans, boot = inmem, []raft.Server{{ID: c.LocalID, Address: addr}}
	} else {
		if !slices.Contains(members, t.cfg.Node) {
			if !t.keptReplica(q.group) {
				return nil
			}
			defer q.syncMembersSoon()
		}
		clusterTiming.configure(c) // timing.go
		if !woken {
			var gerr error
			if g, gerr = t.raftNet.open(t.cfg.Net, t.log, q.group); gerr != nil {
				return gerr
			}
		}
		trans = g
		defer func() {
			if err != nil {
				if !woken {
					g.Close()
				}
				return
			}
			t.startStanding(q, g, c.LocalID, stand || (fresh && members[0] == t.cfg.Node), !fresh && !woken)
		}()
	}
	logs, stable, snaps, err := t.storage(q.group)
	if err != nil {
		return err
	}
	if gs, ok := logs.(*wal.GroupStore); ok {
		rl := &replicaLog{GroupStore: gs, leading: q.leading}
		q.rlog.Store(rl)
		logs = rl
		if g != nil {
			g.setCapCommit(rl.capCommit)
		}
	}
	has, err := raft.HasExistingState(logs, stable, snaps)
	if err != nil {
		return err
	}
	fresh = !has && bootstrap
	if fresh {
		if boot == nil {
			// Addresses are needed only here: a replica that restarts
			// finds its peers in its own configuration, before its node
			// has joined the cluster.
			if boot, err = t.bootServers(q, members); err != nil {
				return err
			}
		}
		if err := raft.BootstrapCluster(c, logs, stable, snaps, trans, raft.Configuration{Servers: boot}); err != nil {
			return err
		}
	}
	rt := trans
	if g != nil {
		rt = keptOpen{g}
	}
	r, err := raft.NewRaft(c, q.fsm, logs, stable, snaps, rt)
	if err != nil {
		return err
	}
	if !woken {
		q.trans = trans
		q.gt.Store(g)
	}
	if t.cfg.Net != nil {
		q.observer = raft.NewObserver(q.observed, false, func(o *raft.Observation) bool {
			_, ok := o.Data.(raft.LeaderObservation)
			return ok
		})
		r.RegisterObserver(q.observer)
	}
	q.r.Store(r)
	if t.cfg.Net != nil {
		// A leader Raft found before the observer was registered.
		select {
		case q.observed <- raft.Observation{}:
		default:
		}
	}
	q.prop.poke()
	return nil
}

// bootServers returns the first configuration of a group over members.
func (t *Type) bootServers(q *Queue, members []string) ([]raft.Server, error) {
	var boot []raft.Server
	for _, m := range members {
		addr := t.cfg.Net.NodeAddr(m)
		if addr == "" {
			return nil, fmt.Errorf("quorum queue %s: member %s has no address", q.decl.Name, m)
		}
		boot = append(boot, raft.Server{ID: raft.ServerID(m), Address: raft.ServerAddress(addr)})
	}
	return boot, nil
}

// storage returns the log, stable and snapshot stores of group.
func (t *Type) storage(group string) (raft.LogStore, raft.StableStore, raft.SnapshotStore, error) {
	if t.wal == nil {
		s := raft.NewInmemStore()
		return s, s, raft.NewInmemSnapshotStore(), nil
	}
	g, err := t.wal.Group(group)
	if err != nil {
		return nil, nil, nil, err
	}
	// One snapshot kept: a queue's snapshot holds its bodies, so a second
	// doubles what a backlog costs on disk (14 of 26 GB at 10 million
	// 1 KiB messages), and it could not be restored anyway once the log
	// entries after it were compacted away. The previous one is deleted
	// only once the next is complete.
	snaps, err := raft.NewFileSnapshotStoreWithLogger(t.snapDir(group), 1, t.cfg.RaftLogger)
	if err != nil {
		return nil, nil, nil, err
	}
	return g, g, snaps, nil
}

// dropGroup deletes what a deleted queue's group kept on disk.
func (t *Type) dropGroup(group string) error {
	if t.wal == nil {
		return nil
	}
	return errors.Join(t.wal.DeleteGroup(group), os.RemoveAll(t.snapDir(group)))
}

// forget removes a stopped queue.
func (t *Type) forget(q *Queue) {
	t.mu.Lock()
	if t.queues[q.group] == q {
		delete(t.queues, q.group)
	}
	t.mu.Unlock()
}

// Recover implements queue.Type: the log and snapshots of quorum queues
// that are no longer defined are deleted.
func (t *Type) Recover(_ context.Context, saved []queue.Ref) error {
	if t.wal == nil {
		return nil
	}
	keep := make([]string, len(saved))
	snaps := map[string]bool{}
	for i, r := range saved {
		keep[i] = groupName(r.VHost, r.Name)
		snaps[filepath.Base(t.snapDir(keep[i]))] = true
	}
	err := t.wal.Retain(keep)
	dir := filepath.Join(t.cfg.Dir, "snapshots")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !snaps[e.Name()] {
			err = errors.Join(err, os.RemoveAll(filepath.Join(dir, e.Name())))
		}
	}
	return err
}

// Close implements queue.Type: it closes the WAL and the page store once
// every queue is closed.
func (t *Type) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.closeReach()
	if t.restStop != nil {
		t.restOnce.Do(func() { close(t.restStop) })
		<-t.restDone
	}
	if t.links != nil {
		t.links.close()
	}
	if t.wal == nil {
		return nil
	}
	return errors.Join(t.wal.Close(), t.pages.Close())
}
