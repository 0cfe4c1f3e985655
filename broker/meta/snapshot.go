package meta

import (
	"fmt"
	"maps"
	"slices"
)

// Snapshot encodes the whole state, with the index of the last command
// applied, deterministically: equal states encode to equal bytes. It does
// no I/O; writing the bytes (Persist, in Raft's terms) is the store's.
func (s *State) Snapshot() []byte {
	w := writer{b: []byte{Version}}
	w.uvarint(s.applied)
	w.uvarint(uint64(len(s.vhosts)))
	for _, name := range s.Vhosts() {
		v := s.vhosts[name]
		w.str(name)
		w.uvarint(uint64(len(v.exchanges)))
		for _, n := range slices.Sorted(maps.Keys(v.exchanges)) {
			x := v.exchanges[n]
			w.exchange(&x)
		}
		w.uvarint(uint64(len(v.queues)))
		for _, n := range slices.Sorted(maps.Keys(v.queues)) {
			q := v.queues[n]
			w.queue(&q)
		}
		w.uvarint(uint64(len(v.bindings)))
		for _, k := range slices.Sorted(maps.Keys(v.bindings)) {
			b := v.bindings[k]
			w.binding(&b)
		}
	}
	return w.b
}

// Restore builds a new state from a Snapshot's bytes. The caller swaps it
// in for the old one; a snapshot that cannot be decoded, or that names a
// thing twice or binds something missing, is ErrCorrupt.
func Restore(b []byte) (*State, error) {
	if len(b) == 0 || b[0] != Version {
		return nil, fmt.Errorf("%w: snapshot version", ErrCorrupt)
	}
	r := reader{b: b[1:]}
	s := NewState()
	s.applied = r.uvarint()
	for n := r.count(); n > 0 && r.err == nil; n-- {
		name := r.str()
		if _, dup := s.vhosts[name]; dup {
			r.fail("vhost '" + name + "' twice")
		}
		v := newVhostState()
		s.vhosts[name] = v
		r.restoreVhost(v)
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return s, nil
}

// count reads a length, which cannot exceed the bytes left (every element
// takes at least one).
func (r *reader) count() uint64 {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("count past the end")
		return 0
	}
	return n
}

func (r *reader) restoreVhost(v *vhostState) {
	for n := r.count(); n > 0 && r.err == nil; n-- {
		x := r.exchange()
		if v.hasExchange(x.Name) {
			r.fail("exchange '" + x.Name + "' twice")
		}
		v.exchanges[x.Name] = x
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		q := r.queue()
		if _, dup := v.queues[q.Name]; dup {
			r.fail("queue '" + q.Name + "' twice")
		}
		v.queues[q.Name] = q
	}
	for n := r.count(); n > 0 && r.err == nil; n-- {
		b := r.binding()
		if r.err == nil && (!v.hasExchange(b.Source) || !v.hasDestination(b.Destination)) {
			r.fail("binding of a missing exchange or queue")
		}
		v.addBinding(string(BindingKey(nil, b)), b)
	}
}
