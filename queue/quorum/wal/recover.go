package wal

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/warrenmq/warren/queue/store"
	"go.uber.org/zap"
)

// recover reads every live record of the WAL, in order, into the groups'
// state, then stops the groups that damaged records may have belonged to.
func (w *WAL) recover(from uint64) error {
	if from == 0 {
		from = 1
	}
	r := w.log.NewReader(from)
	defer r.Close()
	var garbage []uint64
	var undecodable []store.Damage
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("wal: recover: %w", err)
		}
		if rec.Flags == flagBarrier {
			garbage = append(garbage, rec.Seq)
			continue
		}
		settle, err := w.replay(rec)
		if err != nil {
			// A record with a valid checksum that does not decode was
			// written by a newer version or is damaged: whose it is is
			// unknown, so it counts as damage.
			w.zl.Error("quorum WAL record cannot be decoded", zap.Uint64("seq", rec.Seq), zap.Error(err))
			undecodable = append(undecodable, store.Damage{First: rec.Seq, End: rec.Seq + 1, Reason: err.Error()})
			continue
		}
		garbage = append(garbage, settle...)
	}
	damage := append(w.takeDamage(), undecodable...)
	if err := w.stopDamaged(damage); err != nil {
		return err
	}
	for _, g := range w.groups {
		g.breaks = nil
	}
	if len(garbage) > 0 {
		if err := w.log.Settle(garbage...); err != nil {
			return fmt.Errorf("wal: recover: %w", err)
		}
	}
	return nil
}

// replay applies one record to its group and returns the records it makes
// obsolete.
func (w *WAL) replay(rec store.Record) ([]uint64, error) {
	id, prev, body, err := parseGroupHdr(rec.Data)
	if err != nil {
		return nil, err
	}
	g := w.groups[id]
	if g == nil {
		g = w.newGroup(id)
		w.groups[id] = g
	}
	var obsolete []uint64
	switch rec.Flags {
	case flagEntry:
		index, err := entryIndex(body)
		if err != nil {
			return nil, err
		}
		obsolete = g.makeRoomLocked(index)
		g.seqs = append(g.seqs, rec.Seq)
	case flagStable:
		key, val, err := decodeStable(body)
		if err != nil {
			return nil, err
		}
		if old, ok := g.stable[string(key)]; ok {
			obsolete = append(obsolete, old.seq)
		}
		g.stable[string(key)] = stableRec{seq: rec.Seq, val: slices.Clone(val)}
	case flagPoison:
		g.poison = rec.Seq
		g.failed = fmt.Errorf("%w: %s", ErrCorrupt, body)
	default:
		return nil, fmt.Errorf("wal: unknown record kind %d", rec.Flags)
	}
	if prev != g.last {
		g.breaks = append(g.breaks, prev)
	}
	g.last = rec.Seq
	return obsolete, nil
}

// stopDamaged stops every group that a damaged stretch of the WAL may have
// held records of, and makes that durable with a poison record, since the
// store has dropped the damaged records and will not report them again.
//
// A group's records form a chain (each names the one the group wrote
// before it), so a lost record followed by another of its group is found
// by that one's link. A lost record that no surviving record links to was
// the last of its group: every group that wrote nothing after it may have
// been its writer, and all of them are stopped. A group stopped wrongly
// costs a replica (rebuilt from its peers); one that went on with a hole
// would diverge.
func (w *WAL) stopDamaged(damage []store.Damage) error {
	var hit []*GroupStore
	for _, d := range damage {
		if d.End <= d.First || d.Records == 0 {
			continue // a torn tail, or records already deleted: nothing live lost
		}
		explained := uint64(0)
		for _, g := range w.groups {
			n := 0
			for _, p := range g.breaks {
				if p >= d.First && p < d.End {
					n++
				}
			}
			if n > 0 {
				explained += uint64(n)
				hit = append(hit, g)
			}
		}
		if explained >= d.End-d.First {
			continue
		}
		for _, g := range w.groups {
			if g.last < d.End-1 {
				hit = append(hit, g)
			}
		}
	}
	reason := "records lost in the WAL (" + describe(damage) + ")"
	var seq uint64
	for _, g := range hit {
		if s := g.stopLocked(reason); s != 0 {
			seq = s
		}
	}
	if seq != 0 {
		if err := <-w.log.Wait(seq); err != nil {
			return fmt.Errorf("wal: recover: %w", err)
		}
	}
	return nil
}

// describe summarises damage reports for a poison record.
func describe(damage []store.Damage) string {
	s := ""
	for i, d := range damage {
		if d.End <= d.First {
			continue
		}
		if i > 0 && s != "" {
			s += "; "
		}
		s += fmt.Sprintf("records %d..%d: %s", d.First, d.End-1, d.Reason)
		if d.File != "" {
			s += fmt.Sprintf(" in %s at %d", d.File, d.Offset)
		}
	}
	return s
}
