package broker

import (
	"errors"
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol"
)

// This file reads the first format of definitions.db, written before
// definitions became a state machine: one bucket per kind, keyed by vhost
// and name, each value a version byte and the entity's fields. A node that
// finds it migrates it once (recovery.go, migrateV1) to the log-and-snapshot
// format.

// defKind is what a saved definition is.
type defKind uint8

// The kinds of definitions in the first format, as stored on disk.
const (
	defVhost    defKind = 1
	defExchange defKind = 2
	defQueue    defKind = 3
	defBinding  defKind = 4
)

// defVersion is the first byte of every encoded definition.
const defVersion = 1

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

// savedDefs are the definitions of one vhost in the first format.
type savedDefs struct {
	exchanges []exchangeDef
	queues    []queueDef
	bindings  []exchange.Binding
}
