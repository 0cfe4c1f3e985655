package broker

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/warrenmq/warren/exchange"
)

// boltDefs keeps a node's durable definitions in a bbolt file
// (DataDir/definitions.db): one bucket per kind, keyed by vhost and name
// (bindings by their canonical encoding). bbolt gives atomic, fsynced
// transactions, survives kill -9 and power loss by its copy-on-write pages
// and double meta page, and needs no compaction of our own: definitions
// change rarely, so its cost (two fsyncs per commit) does not matter, and
// what it saves us is a hand-written log with snapshots and its recovery.
// Its file lock also stops a second broker from opening the same data dir.
type boltDefs struct {
	db *bolt.DB
}

var defBuckets = map[defKind][]byte{
	defVhost:    []byte("vhosts"),
	defExchange: []byte("exchanges"),
	defQueue:    []byte("queues"),
	defBinding:  []byte("bindings"),
}

// openBoltDefs opens (creating if needed) the definitions file at path.
func openBoltDefs(path string) (*boltDefs, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("broker: definitions %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range defBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("broker: definitions %s: %w", path, err)
	}
	return &boltDefs{db: db}, nil
}

// Commit implements definitions.
func (d *boltDefs) Commit(changes []defChange) error {
	if len(changes) == 0 {
		return nil
	}
	return d.db.Update(func(tx *bolt.Tx) error {
		for i := range changes {
			c := &changes[i]
			b := tx.Bucket(defBuckets[c.kind])
			if b == nil {
				return fmt.Errorf("broker: no bucket for definition kind %d", c.kind)
			}
			var err error
			if c.del {
				err = b.Delete(c.key())
			} else {
				err = b.Put(c.key(), c.value())
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Load implements definitions.
func (d *boltDefs) Load(bad func(kind defKind, key []byte, err error)) (map[string]*savedDefs, error) {
	out := make(map[string]*savedDefs)
	get := func(vh string) *savedDefs {
		s := out[vh]
		if s == nil {
			s = &savedDefs{}
			out[vh] = s
		}
		return s
	}
	err := d.db.View(func(tx *bolt.Tx) error {
		for _, kind := range []defKind{defVhost, defExchange, defQueue, defBinding} {
			err := tx.Bucket(defBuckets[kind]).ForEach(func(k, v []byte) error {
				r := &defReader{b: k}
				vh := r.short()
				if r.err != nil {
					bad(kind, k, r.err)
					return nil
				}
				var err error
				switch kind {
				case defVhost:
					get(vh)
				case defExchange:
					var x exchangeDef
					if x, err = decodeExchange(vh, v); err == nil {
						get(vh).exchanges = append(get(vh).exchanges, x)
					}
				case defQueue:
					var q queueDef
					if q, err = decodeQueue(v); err == nil {
						get(vh).queues = append(get(vh).queues, q)
					}
				case defBinding:
					var b exchange.Binding
					if b, err = decodeBinding(v); err == nil {
						get(vh).bindings = append(get(vh).bindings, b)
					}
				}
				if err != nil {
					bad(kind, k, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("broker: loading definitions: %w", err)
	}
	return out, nil
}

// Close implements definitions.
func (d *boltDefs) Close() error { return d.db.Close() }
