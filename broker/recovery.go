package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"go.uber.org/zap"
)

// This file opens a node's durable state at start-up: the definitions
// (defs_bolt.go), then, once each queue type has dropped what belongs to
// no saved queue (queue_types.go; the classic type opened the queue store
// and deletes the logs of queues that no longer exist), recreates the
// saved vhosts, exchanges, queues (each recovering its messages) and
// bindings. NewServer runs it before the listener opens.

// Paths inside Config.DataDir.
const (
	definitionsFile = "definitions.db"
	queuesDir       = "queues"
)

// openStorage opens the definitions under the data dir and recreates
// everything saved there; the queue types are open already.
func (s *Server) openStorage() error {
	start := time.Now()
	defs, err := openBoltDefs(filepath.Join(s.cfg.DataDir, definitionsFile))
	if err != nil {
		return err
	}
	s.defs = defs
	saved, err := defs.Load(func(kind defKind, key []byte, err error) {
		s.log.Error("saved definition cannot be read; skipped", zap.Uint8("kind", uint8(kind)),
			zap.Binary("key", key), zap.Error(err))
	})
	if err != nil {
		return err
	}
	if _, ok := saved["/"]; !ok {
		// A new data dir: save the default vhost.
		if err := defs.Commit([]defChange{{kind: defVhost, vhost: "/"}}); err != nil {
			return fmt.Errorf("broker: saving the default vhost: %w", err)
		}
		saved["/"] = &savedDefs{}
	}
	names := make([]string, 0, len(saved))
	for n := range saved {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := s.recoverQueueTypes(saved); err != nil {
		return fmt.Errorf("broker: recovering queues: %w", err)
	}
	var n recoveryCounts
	for _, name := range names {
		v := newVhost(s, name)
		s.vhosts[name] = v
		v.recover(saved[name], &n)
	}
	dir, err := filepath.Abs(s.cfg.DataDir)
	if err != nil {
		dir = s.cfg.DataDir
	}
	s.log.Info("recovered durable state", zap.String("data_dir", dir),
		zap.Int("vhosts", len(names)), zap.Int("exchanges", n.exchanges), zap.Int("queues", n.queues),
		zap.Int("bindings", n.bindings), zap.Uint64("messages", n.messages),
		zap.Uint64("damaged_records", s.damaged.Load()), zap.Int("skipped", n.skipped),
		zap.Duration("took", time.Since(start)))
	return nil
}

// recoveryCounts is what start-up recreated.
type recoveryCounts struct {
	exchanges, queues, bindings, skipped int
	messages                             uint64
}

// recover recreates a vhost's saved definitions.
func (v *vhost) recover(d *savedDefs, n *recoveryCounts) {
	for _, x := range d.exchanges {
		if _, err := v.apply(opDeclareExchange{def: x}); err != nil {
			v.log.Error("cannot recreate exchange", zap.String("exchange", x.Name), zap.Error(err))
			n.skipped++
			continue
		}
		n.exchanges++
	}
	for _, qd := range d.queues {
		args, err := v.srv.parseQueueArgs(qd.Args, qd.Name, v.name)
		if err == nil {
			var r metaResult
			r, err = v.apply(opDeclareQueue{def: qd, args: args})
			if err == nil {
				n.messages += uint64(r.queue.q.Stats(context.Background()).Ready)
			}
		}
		if err != nil {
			v.log.Error("cannot recreate queue; its messages stay on disk", zap.String("queue", qd.Name), zap.Error(err))
			n.skipped++
			continue
		}
		n.queues++
	}
	for _, b := range d.bindings {
		if _, err := v.apply(opBind{b: b}); err != nil {
			// Deletes remove bindings in the same transaction, so only a
			// queue that could not be recreated leaves one behind; it stays
			// saved for when the queue is back.
			v.log.Warn("cannot recreate binding", zap.String("source", b.Source),
				zap.Stringer("destination", b.Destination), zap.String("key", b.Key), zap.Error(err))
			n.skipped++
			continue
		}
		n.bindings++
	}
	v.mu.Lock()
	v.loading = false
	v.mu.Unlock()
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
