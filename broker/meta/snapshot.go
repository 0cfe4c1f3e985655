package meta

import (
	"fmt"
	"maps"
	"slices"

	"github.com/warrenmq/warren/protocol/fields"
)

// snapshotVersion is the first byte of a snapshot with the access
// section (users, permissions, vhost metadata, parameters) after the
// virtual hosts. Restore still reads snapshots of Version, written
// before, which end after the vhosts: they restore as never seeded,
// with none of those.
const snapshotVersion = 2

// Snapshot encodes the whole state, with the index of the last command
// applied, deterministically: equal states encode to equal bytes. It does
// no I/O; writing the bytes (Persist, in Raft's terms) is the store's.
func (s *State) Snapshot() []byte {
	w := writer{fields.Writer{B: []byte{snapshotVersion}}}
	w.Uvarint(s.applied)
	w.Uvarint(uint64(len(s.vhosts)))
	for _, name := range s.Vhosts() {
		v := s.vhosts[name]
		w.Str(name)
		w.Uvarint(uint64(len(v.exchanges)))
		for _, n := range slices.Sorted(maps.Keys(v.exchanges)) {
			x := v.exchanges[n]
			w.exchange(&x)
		}
		w.Uvarint(uint64(len(v.queues)))
		for _, n := range slices.Sorted(maps.Keys(v.queues)) {
			q := v.queues[n]
			w.queue(&q)
		}
		w.Uvarint(uint64(len(v.bindings)))
		for _, k := range slices.Sorted(maps.Keys(v.bindings)) {
			b := v.bindings[k]
			w.binding(&b)
		}
	}
	w.writeAccess(s)
	return w.B
}

// Restore builds a new state from a Snapshot's bytes. The caller swaps it
// in for the old one; a snapshot that cannot be decoded, or that names a
// thing twice or binds something missing, is ErrCorrupt.
func Restore(b []byte) (*State, error) {
	if len(b) == 0 || (b[0] != Version && b[0] != snapshotVersion) {
		return nil, fmt.Errorf("%w: snapshot version", ErrCorrupt)
	}
	r := newReader(b[1:])
	s := NewState()
	s.applied = r.Uvarint()
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		name := r.Str()
		if _, dup := s.vhosts[name]; dup {
			r.Fail("vhost '" + name + "' twice")
		}
		v := newVhostState()
		s.vhosts[name] = v
		r.restoreVhost(v)
	}
	if b[0] == snapshotVersion {
		r.restoreAccess(s)
		s.rebuildAllPolicies()
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *reader) restoreVhost(v *vhostState) {
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		x := r.exchange()
		if v.hasExchange(x.Name) {
			r.Fail("exchange '" + x.Name + "' twice")
		}
		v.exchanges[x.Name] = x
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		q := r.queue()
		if _, dup := v.queues[q.Name]; dup {
			r.Fail("queue '" + q.Name + "' twice")
		}
		v.queues[q.Name] = q
	}
	for n := r.Count(); n > 0 && r.Err == nil; n-- {
		b := r.binding()
		if r.Err == nil && (!v.hasExchange(b.Source) || !v.hasDestination(b.Destination)) {
			r.Fail("binding of a missing exchange or queue")
		}
		v.addBinding(string(BindingKey(nil, b)), b)
	}
}
