package broker

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	bolt "go.etcd.io/bbolt"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/queue/store"
)

// copyDir copies the tree at src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// localOf returns the server's single-node proposer.
func localOf(t *testing.T, s *Server) *localLog {
	t.Helper()
	l, ok := s.defs.(*localLog)
	if !ok {
		t.Fatalf("proposer is %T", s.defs)
	}
	return l
}

// withTurn runs f while holding the proposer's turn, so that f may read or
// swap what proposals use.
func withTurn(l *localLog, f func()) {
	l.turn <- struct{}{}
	defer func() { <-l.turn }()
	f()
}

// appliedIndex is the index of the last definitions entry applied.
func appliedIndex(s *Server) uint64 {
	l := s.defs.(*localLog)
	var n uint64
	withTurn(l, func() { n = l.fsm.state.Applied() })
	return n
}

// TestMigratesFirstFormat: a data dir written by the first format of
// definitions.db (testdata/v1-data, made by the broker before definitions
// were a state machine) starts with every durable exchange, queue (with its
// arguments and messages) and binding, and is rewritten in the current
// format, once.
func TestMigratesFirstFormat(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "v1-data"))
	check := func(s *Server) {
		t.Helper()
		want := []string{
			"v1-ae -> queue 'v1-q2' key= args=" + string(meta.BindingKey(nil, exchange.Binding{})),
			"v1-h -> queue 'v1-q2' key= args=" + string(meta.BindingKey(nil, exchange.Binding{Args: map[string]any{"x-match": "any", "h": "1"}})),
			"v1-x -> exchange 'v1-h' key= args=" + string(meta.BindingKey(nil, exchange.Binding{Args: map[string]any{"x-match": "any"}})),
			"v1-x -> queue 'v1-q' key=a.# args=" + string(meta.BindingKey(nil, exchange.Binding{Args: map[string]any{"k": "v"}})),
		}
		slices.Sort(want)
		if got := bindingList(s); !slices.Equal(got, want) {
			t.Errorf("bindings:\n%q\nwant\n%q", got, want)
		}
		ch := openChannel(t, dial(t, s))
		q, err := ch.QueueDeclarePassive("v1-q", true, false, false, false, nil)
		if err != nil || q.Messages != 2 {
			t.Fatalf("v1-q: %+v %v", q, err)
		}
		if _, err := ch.QueueDeclare("v1-q", true, false, false, false, nil); amqpCode(err) != 406 {
			t.Errorf("v1-q redeclared without its arguments: %v", err)
		}
		ch = openChannel(t, dial(t, s))
		if err := ch.ExchangeDeclare("v1-x", "topic", true, false, false, false, amqp.Table{"alternate-exchange": "v1-ae"}); err != nil {
			t.Errorf("v1-x with its alternate exchange: %v", err)
		}
		if err := ch.ExchangeDeclare("v1-h", "headers", true, true, false, false, nil); err != nil {
			t.Errorf("v1-h: %v", err)
		}
	}
	s := startAt(t, dir)
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, definitionsFile), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := &boltDefs{db: db}
	if f, err := d.format(); err != nil || f != defsFormat {
		t.Errorf("format after migration: %d %v", f, err)
	}
	db.View(func(tx *bolt.Tx) error {
		for _, b := range v1Buckets {
			if tx.Bucket(b) != nil {
				t.Errorf("bucket %s of the first format left", b)
			}
		}
		return nil
	})
	d.Close()
	check(startAt(t, dir))
}

// TestDecodeV1RefusesBadRecords: a damaged record of the first format is
// an error, never a definition with fields missing.
func TestDecodeV1RefusesBadRecords(t *testing.T) {
	for _, bad := range [][]byte{nil, {defVersion}, {9, 1, 'x'}, {defVersion, 5, 'a'}} {
		if _, err := decodeQueue(bad); err == nil {
			t.Errorf("decodeQueue(%v) accepted", bad)
		}
		if _, err := decodeBinding(bad); err == nil {
			t.Errorf("decodeBinding(%v) accepted", bad)
		}
	}
}

// TestAppliedIndexSurvivesRestart: the applied index is saved with the
// state, so a restart continues from it instead of applying again, and a
// log left by a crash (entries after the snapshot) is replayed once.
func TestAppliedIndexSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startAt(t, dir)
	ch := openChannel(t, dial(t, s))
	if _, err := ch.QueueDeclare("idx-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	before := appliedIndex(s)
	if before < 2 {
		t.Fatalf("applied index %d after adding / and declaring a queue", before)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash after two more commits: entries in the log, past the
	// snapshot Close wrote.
	d, err := openBoltDefs(filepath.Join(dir, definitionsFile))
	if err != nil {
		t.Fatal(err)
	}
	for i, cmd := range []meta.Command{
		meta.DeclareExchange{Vhost: "/", Exchange: meta.ExchangeDef{Name: "idx-x", Kind: exchange.Fanout, Durable: true}},
		meta.Bind{Vhost: "/", Binding: exchange.Binding{Source: "idx-x", Destination: exchange.Destination{Name: "idx-q"}}},
	} {
		if err := d.Append(before+1+uint64(i), meta.Encode(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()

	s = startAt(t, dir)
	if got := appliedIndex(s); got != before+2 {
		t.Fatalf("applied index after the restart %d, want %d", got, before+2)
	}
	if got := bindingList(s); len(got) != 1 || !strings.HasPrefix(got[0], "idx-x -> queue 'idx-q'") {
		t.Fatalf("bindings after replay: %q", got)
	}
	ch = openChannel(t, dial(t, s))
	if err := ch.ExchangeDeclare("idx-x2", "direct", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if got := appliedIndex(s); got != before+3 {
		t.Fatalf("next entry applied at %d, want %d", got, before+3)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = openBoltDefs(filepath.Join(dir, definitionsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, entries, err := d.load(); err != nil || len(entries) != 0 {
		t.Fatalf("log after a clean stop: %d entries, %v", len(entries), err)
	}
}

// TestCorruptLogEntryStopsStart: a committed entry that cannot be decoded
// (an op code this node does not know) or a gap in the log stops the start
// rather than being skipped.
func TestCorruptLogEntryStopsStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry []byte
		gap   uint64
		want  string
	}{
		{"unknown op code", []byte{meta.Version, 250}, 0, "op code 250"},
		{"malformed body", append(meta.Encode(meta.AddVhost{Name: "vv"}), 1), 0, "trailing bytes"},
		{"gap", meta.Encode(meta.AddVhost{Name: "vv"}), 5, "follows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := startAt(t, dir)
			next := appliedIndex(s) + 1 + tc.gap
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			d, err := openBoltDefs(filepath.Join(dir, definitionsFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Append(next, tc.entry); err != nil {
				t.Fatal(err)
			}
			d.Close()
			s, err = NewServer(Config{Listen: []string{"127.0.0.1:0"}, DataDir: dir})
			if err == nil {
				s.Close()
				t.Fatal("the node started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

// scriptedStore wraps the node's store: Append fails with fail, or waits
// for release (announcing it on entered) before committing.
type scriptedStore struct {
	defsStore
	fail    error
	entered chan struct{}
	release chan struct{}
}

func (s *scriptedStore) Append(index uint64, entry []byte) error {
	if s.fail != nil {
		return s.fail
	}
	if s.entered != nil {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.defsStore.Append(index, entry)
}

// TestFailedCommitChangesNothing: a command whose commit fails is answered
// with 541 and never applied: no exchange, no queue (and no queue log), no
// binding, and the applied index stays.
func TestFailedCommitChangesNothing(t *testing.T) {
	dir := t.TempDir()
	s := startAt(t, dir)
	c := dial(t, s)
	ch := openChannel(t, c)
	if _, err := ch.QueueDeclare("fc-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	l := localOf(t, s)
	var real defsStore
	withTurn(l, func() {
		real = l.store
		l.store = &scriptedStore{defsStore: real, fail: errors.New("disk on fire")}
	})
	index := appliedIndex(s)
	for _, tc := range []struct {
		name string
		call func(*amqp.Channel) error
	}{
		{"exchange", func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare("fc-x", "direct", true, false, false, false, nil)
		}},
		{"queue", func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare("fc-new", true, false, false, false, nil)
			return err
		}},
		{"binding", func(ch *amqp.Channel) error { return ch.QueueBind("fc-q", "k", "amq.direct", false, nil) }},
		{"queue delete", func(ch *amqp.Channel) error {
			_, err := ch.QueueDelete("fc-q", false, false, false)
			return err
		}},
	} {
		ch := openChannel(t, dial(t, s))
		if err := tc.call(ch); amqpCode(err) != 541 {
			t.Errorf("%s with a failing commit: %v, want 541", tc.name, err)
		}
	}
	if got := appliedIndex(s); got != index {
		t.Errorf("applied index moved from %d to %d", index, got)
	}
	withTurn(l, func() { l.store = real })
	v := s.vhost("/")
	if v.exchange("fc-x") != nil || v.running("fc-new", 0) != nil {
		t.Error("a declare whose commit failed took effect")
	}
	if _, err := os.Stat(filepath.Join(dir, queuesDir, store.LogID("/", "fc-new"))); !os.IsNotExist(err) {
		t.Errorf("a log for the queue whose declare failed: %v", err)
	}
	if b := bindingList(s); len(b) != 0 {
		t.Errorf("bindings %q", b)
	}
	// The queue whose delete failed to commit has deleted itself here and
	// comes back, empty, at the next start; the node goes on working.
	ch = openChannel(t, dial(t, s))
	if err := ch.ExchangeDeclare("fc-x", "direct", true, false, false, false, nil); err != nil {
		t.Fatalf("declare once the store works: %v", err)
	}
}

// TestSlowCommitDoesNotBlockPublishing: while a declare waits for its
// definitions commit, publishing to and consuming from an existing queue of
// the same vhost goes on: the commit runs without the vhost's lock.
func TestSlowCommitDoesNotBlockPublishing(t *testing.T) {
	s := startServer(t)
	ch := openChannel(t, dial(t, s))
	if _, err := ch.QueueDeclare("slow-q", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind("slow-q", "k", "amq.direct", false, nil); err != nil {
		t.Fatal(err)
	}
	l := localOf(t, s)
	st := &scriptedStore{entered: make(chan struct{}), release: make(chan struct{})}
	withTurn(l, func() {
		st.defsStore = l.store
		l.store = st
	})
	var wg sync.WaitGroup
	wg.Add(1)
	var declareErr error
	go func() {
		defer wg.Done()
		declareErr = openChannel(t, dial(t, s)).ExchangeDeclare("slow-x", "fanout", true, false, false, false, nil)
	}()
	select {
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the declare never reached its commit")
	}
	released := false
	release := func() {
		if !released {
			released = true
			close(st.release)
		}
	}
	defer release()

	pc := openChannel(t, dial(t, s))
	deliveries, err := pc.Consume("slow-q", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, pc, "", "slow-q", amqp.Publishing{Body: []byte("direct")})
	publish(t, pc, "amq.direct", "k", amqp.Publishing{Body: []byte("routed")})
	for _, want := range []string{"direct", "routed"} {
		if d := recvOne(t, deliveries); string(d.Body) != want {
			t.Fatalf("got %q, want %q", d.Body, want)
		}
	}
	release()
	wg.Wait()
	if declareErr != nil {
		t.Fatalf("the stuck declare: %v", declareErr)
	}
	if s.vhost("/").exchange("slow-x") == nil {
		t.Fatal("the stuck declare did not take effect once committed")
	}
}

// TestDeleteOnlyThatIncarnation: deleting a queue names the instance it
// deletes; a late delete of an instance that is gone leaves the queue
// declared since under the same name.
func TestDeleteOnlyThatIncarnation(t *testing.T) {
	s := startServer(t)
	ch := openChannel(t, dial(t, s))
	v := s.vhost("/")
	if _, err := ch.QueueDeclare("inc-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	v.mu.RLock()
	first := v.queues["inc-q"]
	v.mu.RUnlock()
	if _, err := ch.QueueDelete("inc-q", false, false, false); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDeclare("inc-q", true, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	publish(t, ch, "", "inc-q", amqp.Publishing{Body: []byte("kept")})
	eventually(t, "the message is queued", func() bool {
		q, err := ch.QueueDeclarePassive("inc-q", true, false, false, false, nil)
		return err == nil && q.Messages == 1
	})
	// A late delete of the first instance (an expiry that lost the race).
	if _, err := v.deleteQueue(first, false, false); err != nil {
		t.Fatal(err)
	}
	q, err := ch.QueueDeclarePassive("inc-q", true, false, false, false, nil)
	if err != nil || q.Messages != 1 {
		t.Fatalf("the second instance after a delete of the first: %+v %v", q, err)
	}
}
