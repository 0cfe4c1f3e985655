package broker

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/warrenmq/warren/exchange"
)

// boltDefs keeps a node's definitions in a bbolt file
// (DataDir/definitions.db) as a Raft node keeps its FSM: a log of committed
// commands (bucket "log", keyed by big-endian index) and a snapshot of the
// state with the index it covers (bucket "meta", key "snapshot"; the
// applied index is inside the snapshot, written in the same transaction
// that drops the entries it covers). The key "version" says the format.
// bbolt gives atomic, fsynced transactions, survives kill -9 and power
// loss by its copy-on-write pages and double meta page; an append costs
// its two fsyncs, paid without any vhost lock held. Its file lock also
// stops a second broker from opening the same data dir.
type boltDefs struct {
	db *bolt.DB
}

// defsFormat is the current format of definitions.db. Format 1 (no
// version key, one bucket per kind) is read by defs_v1.go and migrated.
const defsFormat = 2

var (
	bucketMeta  = []byte("meta")
	bucketLog   = []byte("log")
	keyVersion  = []byte("version")
	keySnapshot = []byte("snapshot")
)

// v1Buckets are the buckets of format 1, by kind.
var v1Buckets = map[defKind][]byte{
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
	return &boltDefs{db: db}, nil
}

// format reports what the file holds: 0 when it is new, 1 for the first
// format, defsFormat for the current one.
func (d *boltDefs) format() (int, error) {
	f := 0
	err := d.db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bucketMeta); m != nil {
			v, err := strconv.Atoi(string(m.Get(keyVersion)))
			if err != nil || v != defsFormat {
				return fmt.Errorf("broker: definitions format %q is not one this node reads", m.Get(keyVersion))
			}
			f = v
			return nil
		}
		if tx.Bucket(v1Buckets[defVhost]) != nil {
			f = 1
		}
		return nil
	})
	return f, err
}

// logEntry is one committed command as stored.
type logEntry struct {
	index uint64
	data  []byte
}

// load returns the snapshot (nil if none was written) and the entries
// after it, in index order.
func (d *boltDefs) load() (snap []byte, entries []logEntry, err error) {
	err = d.db.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket(bucketMeta); m != nil {
			if s := m.Get(keySnapshot); s != nil {
				snap = append([]byte(nil), s...)
			}
		}
		lb := tx.Bucket(bucketLog)
		if lb == nil {
			return nil
		}
		return lb.ForEach(func(k, v []byte) error {
			if len(k) != 8 {
				return fmt.Errorf("broker: definitions log key %x", k)
			}
			entries = append(entries, logEntry{index: binary.BigEndian.Uint64(k), data: append([]byte(nil), v...)})
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("broker: loading definitions: %w", err)
	}
	return snap, entries, nil
}

// Append implements defsStore.
func (d *boltDefs) Append(index uint64, entry []byte) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		lb, err := tx.CreateBucketIfNotExists(bucketLog)
		if err != nil {
			return err
		}
		return lb.Put(binary.BigEndian.AppendUint64(nil, index), entry)
	})
}

// SaveSnapshot implements defsStore. It also marks the file as the
// current format and drops the buckets of format 1, so a migration is one
// transaction.
func (d *boltDefs) SaveSnapshot(index uint64, snap []byte) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		if err := m.Put(keyVersion, []byte(strconv.Itoa(defsFormat))); err != nil {
			return err
		}
		if err := m.Put(keySnapshot, snap); err != nil {
			return err
		}
		for _, name := range v1Buckets {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return err
				}
			}
		}
		lb := tx.Bucket(bucketLog)
		if lb == nil {
			return nil
		}
		c := lb.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= index; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadV1 returns the definitions of a file in the first format, by vhost.
// Records that cannot be decoded are reported through bad and skipped.
func (d *boltDefs) loadV1(bad func(kind defKind, key []byte, err error)) (map[string]*savedDefs, error) {
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
			b := tx.Bucket(v1Buckets[kind])
			if b == nil {
				continue
			}
			err := b.ForEach(func(k, v []byte) error {
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

// Close implements defsStore.
func (d *boltDefs) Close() error { return d.db.Close() }
