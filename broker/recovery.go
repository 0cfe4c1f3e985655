package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/queue"
)

// This file opens a node's definitions at start-up: it loads the state
// (the snapshot in definitions.db and the log entries after it, or a file
// of the first format, migrated), drops what does not outlive a restart,
// saves that as the new snapshot, lets each queue type drop what belongs
// to no saved queue (queue_types.go), then runs the reconciler's effects
// for everything in the state: vhosts, exchanges, every durable queue
// (each recovering its messages), bindings, users and vhost metadata.
// Definitions never seeded (a new data dir, or one from before users
// existed) get RabbitMQ's default vhost, user and permissions through a
// meta.Seed command (seed.go), unless definitions are loaded at boot.
// NewServer runs it before the listener opens.

// Paths inside Config.DataDir.
const (
	definitionsFile = "definitions.db"
	queuesDir       = "queues"
)

// openStorage loads the definitions under the data dir (none with
// Config.InMemory) and recreates everything in them; the queue types are
// open already.
func (s *Server) openStorage() error {
	start := time.Now()
	state, fresh := meta.NewState(), true
	var store defsStore
	if !s.cfg.InMemory {
		d, err := openBoltDefs(filepath.Join(s.cfg.DataDir, definitionsFile))
		if err != nil {
			return err
		}
		if state, fresh, err = s.loadDefinitions(d, s.cfg.Cluster == nil); err != nil {
			d.Close()
			return err
		}
		store = d
	}
	fsm := &defsFSM{srv: s, state: state}
	s.fsm = fsm
	if err := s.recoverQueueTypes(state); err != nil {
		if store != nil {
			store.Close()
		}
		return fmt.Errorf("broker: recovering queues: %w", err)
	}
	n := s.recreate(state)
	if s.cfg.Cluster != nil {
		if err := s.startCluster(fsm, store); err != nil {
			if store != nil {
				store.Close()
			}
			return err
		}
	} else {
		s.defs = newLocalLog(s.log, store, fsm)
	}
	if err := s.seedDefaults(state, fresh); err != nil {
		return err
	}
	if err := s.loadDefinitionsFile(); err != nil {
		return err
	}
	if s.cfg.InMemory {
		return nil
	}
	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		dir = s.cfg.DataDir
	}
	s.log.Info("recovered durable state", zap.String("data_dir", dir),
		zap.Int("vhosts", len(s.vhostList())), zap.Int("exchanges", n.exchanges), zap.Int("queues", n.queues),
		zap.Int("bindings", n.bindings), zap.Uint64("messages", n.messages),
		zap.Uint64("damaged_records", s.damaged.Load()), zap.Int("skipped", n.skipped),
		zap.Uint64("applied_index", state.Applied()), zap.Duration("took", time.Since(start)))
	return nil
}

// loadDefinitions returns the state saved in d, with what does not outlive
// a restart dropped on a single node (a cluster node proposes NodeDown
// instead, as the state is the cluster's), and
// saves it as the snapshot (so the log starts empty, a new file gets its
// format, and a file of the first format is migrated). fresh reports a
// new file.
func (s *Server) loadDefinitions(d *boltDefs, single bool) (*meta.State, bool, error) {
	format, err := d.format()
	if err != nil {
		return nil, false, err
	}
	var state *meta.State
	switch format {
	case 0:
		state = meta.NewState()
	case 1:
		state, err = s.migrateV1(d)
	default:
		state, err = replayDefinitions(d, !single)
	}
	if err != nil {
		return nil, false, err
	}
	if single {
		state.DropTransient()
	}
	if err := d.SaveSnapshot(state.Applied(), state.Snapshot()); err != nil {
		return nil, false, fmt.Errorf("broker: saving definitions: %w", err)
	}
	return state, format == 0, nil
}

// replayDefinitions restores the snapshot and applies the log entries
// after it, which follow it without a gap unless gaps is set (a cluster
// node's). An entry that cannot be
// decoded stops the start: a committed entry is never skipped.
func replayDefinitions(d *boltDefs, gaps bool) (*meta.State, error) {
	snap, entries, err := d.load()
	if err != nil {
		return nil, err
	}
	state := meta.NewState()
	if snap != nil {
		if state, err = meta.Restore(snap); err != nil {
			return nil, fmt.Errorf("broker: definitions snapshot: %w", err)
		}
	}
	for _, e := range entries {
		if e.index <= state.Applied() {
			continue // covered by the snapshot
		}
		// A single node's entries follow each other; a cluster node's
		// have gaps where the Raft log holds entries that are not
		// commands (elections, membership changes).
		if e.index != state.Applied()+1 && !gaps {
			return nil, fmt.Errorf("broker: definitions log: entry %d follows %d", e.index, state.Applied())
		}
		cmd, err := meta.Decode(e.data)
		if err != nil {
			return nil, fmt.Errorf("broker: definitions log entry %d: %w", e.index, err)
		}
		state.Apply(e.index, cmd)
	}
	return state, nil
}

// migrateV1 builds the state of a file of the first format by applying,
// in order, the commands that would have created it: each vhost, its
// exchanges, its queues (with new incarnations, homed on this node) and
// its bindings.
func (s *Server) migrateV1(d *boltDefs) (*meta.State, error) {
	saved, err := d.loadV1(func(kind defKind, key []byte, err error) {
		s.log.Error("saved definition cannot be read; skipped", zap.Uint8("kind", uint8(kind)),
			zap.Binary("key", key), zap.Error(err))
	})
	if err != nil {
		return nil, err
	}
	state := meta.NewState()
	apply := func(cmd meta.Command) {
		if r, _ := state.Apply(state.Applied()+1, cmd); r.Err != nil {
			s.log.Warn("saved definition not migrated", zap.Uint8("op", uint8(cmd.Op())), zap.Error(r.Err))
		}
	}
	names := make([]string, 0, len(saved))
	for n := range saved {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, vh := range names {
		d := saved[vh]
		apply(meta.AddVhost{Name: vh})
		for _, x := range d.exchanges {
			apply(meta.DeclareExchange{Vhost: vh, Exchange: x})
		}
		for _, q := range d.queues {
			q.Type = queue.TypeClassic
			if t, ok := q.Args["x-queue-type"].(string); ok {
				q.Type = t
			}
			q.Incarnation, q.Home = newIncarnation(), s.cfg.NodeName
			apply(meta.DeclareQueue{Vhost: vh, Queue: q})
		}
		for _, b := range d.bindings {
			apply(meta.Bind{Vhost: vh, Binding: b})
		}
	}
	s.log.Info("definitions migrated to the log-and-snapshot format", zap.Int("vhosts", len(names)))
	return state, nil
}

// recoveryCounts is what start-up recreated.
type recoveryCounts struct {
	exchanges, queues, bindings, skipped int
	messages                             uint64
}

// recreate runs, for everything in the loaded state, the effects that
// created it: each vhost with its exchanges, its queues homed here (a
// durable queue recovers its messages), then its bindings.
func (s *Server) recreate(state *meta.State) recoveryCounts {
	var n recoveryCounts
	for _, vh := range state.Vhosts() {
		effects := []meta.Effect{{Kind: meta.VhostAdded, Vhost: vh}}
		for _, x := range state.Exchanges(vh) {
			effects = append(effects, meta.Effect{Kind: meta.ExchangeAdded, Vhost: vh, Exchange: x,
				Policy: state.ExchangePolicy(vh, x.Name)})
			if x.Name != "" && !reservedName(x.Name) {
				n.exchanges++
			}
		}
		s.reconcile(effects, &applied{})
		for _, q := range state.Queues(vh) {
			var a applied
			s.reconcile([]meta.Effect{{Kind: meta.QueueStarted, Vhost: vh, Queue: q, Policy: state.QueuePolicy(vh, &q)}}, &a)
			if a.queue != nil && a.queue.remote {
				continue // counted by its home node
			}
			if a.startErr != nil || a.queue == nil {
				// Logged by reconcile; the definition and the messages stay
				// for when the queue can start.
				n.skipped++
				continue
			}
			n.queues++
			n.messages += uint64(a.queue.q.Stats(context.Background()).Ready)
		}
		var bindings []meta.Effect
		for _, b := range state.Bindings(vh) {
			bindings = append(bindings, meta.Effect{Kind: meta.BindingAdded, Vhost: vh, Binding: b})
		}
		s.reconcile(bindings, &applied{})
		n.bindings += len(bindings)
	}
	s.reconcile(state.AccessEffects(), &applied{})
	return n
}

// closeStorage closes the queue types (the classic type's store) and the
// definitions once every queue is closed.
func (s *Server) closeStorage() error {
	err := s.closeQueueTypes()
	if s.defs != nil {
		if derr := s.defs.Close(); err == nil {
			err = derr
		}
	}
	return err
}
