package classic

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/store"
)

// This file is the classic queue type as the broker sees it through
// queue.Type: declaring a queue, recovering the node's durable queues at
// start-up, and the store the type owns.

var _ queue.Type = (*Type)(nil)

// TypeConfig configures a node's classic queue type.
type TypeConfig struct {
	// Dir is the store's directory, where durable queues keep their logs.
	// Empty keeps every queue in memory, durable ones included.
	Dir string
	// SpillDir is where queues page out their transient messages, in a
	// volatile store (store.Options.Volatile): it is emptied when the type
	// opens and never synced, so transient messages never survive a
	// restart. Empty keeps transient messages in memory.
	SpillDir string
	// Logger receives the type's and its queues' logs; nil means none.
	Logger *zap.Logger
	// OnDamage, when set, is told how many records the store dropped
	// because they were damaged, at open or when a log is read.
	OnDamage func(records uint64)
}

// Type is the classic queue type: it creates classic queues and owns the
// node's queue store.
type Type struct {
	store *store.Store // nil: in memory only
	spill *store.Store // nil: transient messages stay in memory
	log   *zap.Logger
}

// OpenType opens the classic type, and its store in c.Dir.
func OpenType(c TypeConfig) (*Type, error) {
	t := &Type{log: c.Logger}
	if t.log == nil {
		t.log = zap.NewNop()
	}
	if c.Dir != "" {
		o := store.Options{Logger: t.log.Named("store")}
		if c.OnDamage != nil {
			o.OnDamage = func(d store.Damage) { c.OnDamage(d.Records) }
		}
		st, err := store.Open(c.Dir, o)
		if err != nil {
			return nil, fmt.Errorf("classic: queue store: %w", err)
		}
		t.store = st
	}
	if c.SpillDir != "" {
		sp, err := store.Open(c.SpillDir, store.Options{Logger: t.log.Named("spill"), Volatile: true})
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("classic: transient message store: %w", err)
		}
		t.spill = sp
	}
	return t, nil
}

// Name returns queue.TypeClassic.
func (t *Type) Name() string { return queue.TypeClassic }

// Capabilities: classic queues support everything AMQP 0-9-1 asks of a
// queue, and RabbitMQ's classic-queue arguments.
func (t *Type) Capabilities() queue.Capabilities {
	return queue.Capabilities{
		GlobalQoS:  true,
		Priorities: true,
		Exclusive:  true,
		AutoDelete: true,
		NonDurable: true,
		Args:       queue.TypeArgs(queue.TypeClassic),
		// The queue decides if-unused and if-empty atomically.
		ConditionalDelete: true,
		ServerNamed:       true,
	}
}

// Declare creates a classic queue (New); a durable one recovers its
// messages from its log in the store. The context is not used.
func (t *Type) Declare(_ context.Context, d queue.Declaration, h queue.Hooks) (queue.Queue, error) {
	return New(d.Name, Options{
		VHost:      d.VHost,
		Durable:    d.Durable,
		Exclusive:  d.Exclusive,
		AutoDelete: d.AutoDelete,
		Args:       d.Args,
	}, Env{
		DeadLetter: h.DeadLetter,
		Expired:    h.Expired,
		Logger:     t.log,
		Store:      t.store,
		Spill:      t.spill,
	})
}

// Recover deletes the logs in the store that belong to none of the saved
// queues: the queue was deleted and the node stopped before its directory
// was removed. A log that cannot be deleted is logged and left. The
// context is not used.
func (t *Type) Recover(_ context.Context, saved []queue.Ref) error {
	if t.store == nil {
		return nil
	}
	known := make(map[string]bool, len(saved))
	for _, r := range saved {
		known[store.LogID(r.VHost, r.Name)] = true
	}
	ids, err := t.store.IDs()
	if err != nil {
		t.log.Warn("cannot list queue logs", zap.Error(err))
		return nil
	}
	for _, id := range ids {
		if !known[id] {
			t.deleteOrphan(id)
		}
	}
	return nil
}

// deleteOrphan deletes the log id, which no saved queue owns.
func (t *Type) deleteOrphan(id string) {
	lg, _, err := t.store.OpenLog(id, store.LogOptions{})
	if err == nil {
		err = lg.Delete()
	}
	if err != nil {
		t.log.Warn("cannot delete the log of a deleted queue", zap.String("log", id), zap.Error(err))
		return
	}
	t.log.Info("deleted the log of a queue that no longer exists", zap.String("log", id))
}

// Close closes the stores, syncing what is pending in the durable one.
// Every queue of the type must be closed first.
func (t *Type) Close() error {
	var errs []error
	if t.spill != nil {
		errs = append(errs, t.spill.Close())
	}
	if t.store != nil {
		errs = append(errs, t.store.Close())
	}
	return errors.Join(errs...)
}
