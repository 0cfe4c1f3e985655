package broker

import (
	"errors"
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// This file holds the durable side of definitions: the changes vhost.apply
// produces for durable vhosts, exchanges, queues and bindings, their binary
// encoding, and the definitions interface that stores them (defs_bolt.go
// on one node; a Raft log can replicate the same changes later).

// defKind is what a saved definition is.
type defKind uint8

// The kinds of saved definitions. Values are stored on disk: append only.
const (
	defVhost    defKind = 1
	defExchange defKind = 2
	defQueue    defKind = 3
	defBinding  defKind = 4
)

// defVersion is the first byte of every encoded definition.
const defVersion = 1

// defChange is one change to the saved definitions: a put (a durable
// entity was created) or a delete. A metaOp yields zero or more of them
// (deleting a queue also deletes its bindings, maybe an auto-delete
// exchange), committed together, in one fsynced transaction, before the
// op's reply is sent.
type defChange struct {
	del   bool
	kind  defKind
	vhost string
	x     *exchangeDef     // defExchange
	q     *queueDef        // defQueue
	b     exchange.Binding // defBinding
	name  string           // the name of a deleted vhost, exchange or queue
}

// key returns the change's key: the vhost and the entity's identity.
// Bindings are keyed by their whole canonical encoding (source,
// destination, key and arguments).
func (d *defChange) key() []byte {
	k := appendShort(nil, d.vhost)
	switch d.kind {
	case defVhost:
		return k
	case defExchange:
		if d.x != nil {
			return appendShort(k, d.x.Name)
		}
	case defQueue:
		if d.q != nil {
			return appendShort(k, d.q.Name)
		}
	case defBinding:
		return bindingKey(k, d.b)
	}
	return appendShort(k, d.name)
}

// bindingKey appends the canonical encoding of b: equal bindings (as
// exchange.Binding.Equal has it) encode to equal bytes, since
// protocol.AppendTable sorts keys.
func bindingKey(k []byte, b exchange.Binding) []byte {
	k = appendShort(k, b.Source)
	if b.Destination.Exchange {
		k = append(k, 'x')
	} else {
		k = append(k, 'q')
	}
	k = appendShort(k, b.Destination.Name)
	k = appendShort(k, b.Key)
	return protocol.AppendTable(k, b.Args)
}

// value encodes what a put saves; deletes save nothing.
func (d *defChange) value() []byte {
	v := []byte{defVersion}
	switch d.kind {
	case defExchange:
		x := d.x
		v = appendShort(v, x.Name)
		v = appendShort(v, x.Kind.String())
		v = append(v, flagByte(x.Durable, x.AutoDelete, x.Internal))
		v = protocol.AppendTable(v, x.Args)
	case defQueue:
		q := d.q
		v = appendShort(v, q.Name)
		v = append(v, flagByte(q.Durable, q.Exclusive, q.AutoDelete))
		v = protocol.AppendTable(v, q.Args)
	case defBinding:
		v = bindingKey(v, d.b)
	}
	return v
}

func flagByte(a, b, c bool) byte {
	var f byte
	if a {
		f |= 1
	}
	if b {
		f |= 2
	}
	if c {
		f |= 4
	}
	return f
}

// appendShort appends s with a length prefix (AMQP names are at most 255
// bytes; longer strings are cut, which the protocol never sends).
func appendShort(b []byte, s string) []byte {
	if len(s) > 255 {
		s = s[:255]
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// errDefCorrupt reports an undecodable saved definition.
var errDefCorrupt = errors.New("corrupt definition record")

// defReader decodes the fields of one saved definition.
type defReader struct {
	b   []byte
	err error
}

func (r *defReader) short() string {
	if r.err != nil || len(r.b) < 1 || len(r.b) < 1+int(r.b[0]) {
		r.err = errDefCorrupt
		return ""
	}
	n := int(r.b[0])
	s := string(r.b[1 : 1+n])
	r.b = r.b[1+n:]
	return s
}

func (r *defReader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errDefCorrupt
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *defReader) table() protocol.Table {
	if r.err != nil {
		return nil
	}
	t, n, err := protocol.DecodeTable(r.b)
	if err != nil {
		r.err = fmt.Errorf("%w: %v", errDefCorrupt, err)
		return nil
	}
	r.b = r.b[n:]
	return t
}

func newDefReader(v []byte) *defReader {
	r := &defReader{b: v}
	if r.byte() != defVersion {
		r.err = fmt.Errorf("%w: unknown version", errDefCorrupt)
	}
	return r
}

// decodeExchange decodes a saved exchange.
func decodeExchange(vhost string, v []byte) (exchangeDef, error) {
	r := newDefReader(v)
	var d exchangeDef
	d.Name = r.short()
	kind := r.short()
	f := r.byte()
	d.Args = r.table()
	if r.err != nil {
		return d, r.err
	}
	k, err := exchange.ParseKind(kind)
	if err != nil {
		return d, fmt.Errorf("%w: exchange kind %q", errDefCorrupt, kind)
	}
	d.Kind = k
	d.Durable, d.AutoDelete, d.Internal = f&1 != 0, f&2 != 0, f&4 != 0
	alt, err := exchange.AlternateArg(vhost, d.Name, d.Args)
	if err != nil {
		return d, err
	}
	d.Alternate = alt
	return d, nil
}

// decodeQueue decodes a saved queue.
func decodeQueue(v []byte) (queueDef, error) {
	r := newDefReader(v)
	var d queueDef
	d.Name = r.short()
	f := r.byte()
	d.Args = r.table()
	d.Durable, d.Exclusive, d.AutoDelete = f&1 != 0, f&2 != 0, f&4 != 0
	return d, r.err
}

// decodeBinding decodes a saved binding.
func decodeBinding(v []byte) (exchange.Binding, error) {
	r := newDefReader(v)
	var b exchange.Binding
	b.Source = r.short()
	b.Destination.Exchange = r.byte() == 'x'
	b.Destination.Name = r.short()
	b.Key = r.short()
	b.Args = r.table()
	return b, r.err
}

// savedDefs are the definitions of one vhost as loaded at start-up.
type savedDefs struct {
	exchanges []exchangeDef
	queues    []queueDef
	bindings  []exchange.Binding
}

// definitions keeps the durable definitions of a node. Commit makes a
// batch of changes durable (fsynced) atomically; Load returns everything
// saved, by vhost. A Raft-replicated implementation would append the same
// batches to its log and apply them on every node.
type definitions interface {
	// Commit applies changes atomically and durably.
	Commit(changes []defChange) error
	// Load returns the saved definitions of every vhost. Records that cannot
	// be decoded are reported through bad and skipped.
	Load(bad func(kind defKind, key []byte, err error)) (map[string]*savedDefs, error)
	// Close closes the store.
	Close() error
}
