package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
)

// Options configure a Store.
type Options struct {
	// FS is the file system; nil means OSFS.
	FS FS
	// Logger receives damage reports and failures; nil means no logging.
	Logger *zap.Logger
	// SegmentSize is the size at which a log starts a new segment file;
	// zero means 64 MiB. Space is reclaimed a segment at a time.
	SegmentSize int64
	// Verify makes OpenLog check the checksum of every record of every
	// segment, instead of only the segments that lack a valid seal record
	// (always including the last one). Without it, damage in the middle of a
	// sealed segment is found, reported and skipped when a Reader reaches it.
	Verify bool
	// OnDamage, when set, is told about every damaged record the store drops,
	// at open or when a Reader finds it; it is called with no lock held.
	OnDamage func(Damage)
	// SyncParallelism is how many fsyncs one round runs at once; zero means 8.
	SyncParallelism int
	// Volatile makes a store whose contents never outlive the process, for
	// transient messages paged out of memory: Open empties its directory
	// first, and nothing is ever fsynced (writes still go to the OS, so a
	// Reader reads them back; OnDurable still reports appends as written).
	Volatile bool
}

// Damage describes records a log dropped because their bytes were torn or
// corrupt.
type Damage struct {
	// Log is the id of the log.
	Log string
	// File is the damaged file's path.
	File string
	// Offset is where the damaged bytes start, and Bytes how many there are.
	Offset, Bytes int64
	// Records is how many records were lost (sequence numbers that were in
	// the file and are not any more, not counting settled ones). It is zero
	// when a torn tail held no complete record, or for the settle log, where
	// lost settles only mean redelivery.
	Records uint64
	// First and End bound the sequence numbers of the records lost, settled
	// or not: [First, End). They are equal when no record was lost (a torn
	// tail at the end of the log, damage in the settle log), so a log shared
	// by several writers can tell whose records were hit.
	First, End uint64
	// Reason says what was wrong.
	Reason string
}

// Stats are a store's counters since Open.
type Stats struct {
	// Rounds is the number of group-commit rounds that synced something.
	Rounds uint64
	// Fsyncs counts file and directory syncs.
	Fsyncs uint64
	// Records counts records made durable.
	Records uint64
}

// Store is one node's storage for durable classic queues: a directory with a
// subdirectory per queue log, and the single group-commit loop that syncs
// the files of all of them.
type Store struct {
	dir      string
	fs       FS
	zl       *zap.Logger
	segSize  int64
	verify   bool
	onDamage func(Damage)
	par      int

	mu     sync.Mutex
	logs   map[string]*Log
	dirty  []*Log
	queued map[*Log]bool
	closed bool

	compactQ    chan compactReq
	compactDone chan struct{}

	wake chan struct{}
	quit chan struct{}
	done chan struct{}

	rounds, fsyncs, records atomic.Uint64
}

// Open opens (creating if needed) the store in dir and starts its sync loop.
func Open(dir string, o Options) (*Store, error) {
	s := &Store{
		dir:         dir,
		fs:          o.FS,
		zl:          o.Logger,
		segSize:     o.SegmentSize,
		verify:      o.Verify,
		onDamage:    o.OnDamage,
		par:         o.SyncParallelism,
		logs:        make(map[string]*Log),
		queued:      make(map[*Log]bool),
		wake:        make(chan struct{}, 1),
		compactQ:    make(chan compactReq, 64),
		compactDone: make(chan struct{}),
		quit:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	if s.fs == nil {
		s.fs = OSFS{}
	}
	if s.zl == nil {
		s.zl = zap.NewNop()
	}
	if s.segSize <= 0 {
		s.segSize = 64 << 20
	}
	if s.segSize < 4*sealSize {
		return nil, fmt.Errorf("store: segment size %d too small", s.segSize)
	}
	if s.par <= 0 {
		s.par = 8
	}
	if o.Volatile {
		if err := s.fs.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("store: empty %s: %w", dir, err)
		}
		s.fs = noSyncFS{s.fs}
	}
	if err := s.fs.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	go s.loop()
	go s.compactor()
	return s, nil
}

// LogID turns a queue's vhost and name, which may hold any characters, into
// a log id that is safe as a directory name, as RabbitMQ names queue
// directories by a hash of the queue's resource name.
func LogID(vhost, name string) string {
	h := sha256.New()
	h.Write([]byte(vhost))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// validID reports whether id is usable as a directory name.
func validID(id string) bool {
	if id == "" || len(id) > 200 || id == "." || id == ".." {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// IDs lists the logs present on disk, opened or not, so the classic queue
// type can find the logs of queues that no longer exist.
func (s *Store) IDs() ([]string, error) {
	names, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, n := range names {
		if validID(n) {
			ids = append(ids, n)
		}
	}
	return ids, nil
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{Rounds: s.rounds.Load(), Fsyncs: s.fsyncs.Load(), Records: s.records.Load()}
}

// Close closes every open log (syncing what is pending) and stops the sync
// loop.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	logs := make([]*Log, 0, len(s.logs))
	for _, l := range s.logs {
		logs = append(logs, l)
	}
	s.mu.Unlock()
	var errs []error
	for _, l := range logs {
		errs = append(errs, l.Close())
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.done
	close(s.compactQ)
	<-s.compactDone
	return errors.Join(errs...)
}

// forget drops a closed log from the store.
func (s *Store) forget(l *Log) {
	s.mu.Lock()
	if s.logs[l.id] == l {
		delete(s.logs, l.id)
	}
	s.mu.Unlock()
}

// markDirty queues l for the next sync round.
func (s *Store) markDirty(l *Log) {
	s.mu.Lock()
	if !s.queued[l] {
		s.queued[l] = true
		s.dirty = append(s.dirty, l)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// loop is the group commit: each round takes every log that changed, writes
// their buffers, syncs all their dirty files at once, then tells each log
// how far it is durable. Whatever arrives while a round runs waits for the
// next one, so one fsync serves every record written in the meantime.
func (s *Store) loop() {
	defer close(s.done)
	var batch []*Log
	var jobs []syncJob
	for {
		select {
		case <-s.wake:
		case <-s.quit:
			return
		}
		s.mu.Lock()
		batch, s.dirty = s.dirty, batch[:0]
		for _, l := range batch {
			delete(s.queued, l)
		}
		s.mu.Unlock()
		jobs = jobs[:0]
		for _, l := range batch {
			if j, ok := l.prepareSync(); ok {
				jobs = append(jobs, j)
			}
		}
		clear(batch)
		if len(jobs) == 0 {
			continue
		}
		s.syncAll(jobs)
		for _, j := range jobs {
			before := j.l.durableMark()
			j.l.finishSync(j)
			if after := j.l.durableMark(); after > before {
				s.records.Add(after - before)
			}
		}
		s.rounds.Add(1)
		clear(jobs)
	}
}

// syncAll runs the fsyncs of a round, up to s.par at a time, recording the
// first error of each job.
func (s *Store) syncAll(jobs []syncJob) {
	type op struct {
		job  int
		file File // nil: the log's directory
	}
	var ops []op
	for i, j := range jobs {
		if j.err != nil {
			continue
		}
		if j.dir {
			ops = append(ops, op{job: i})
		}
		for _, f := range j.files {
			ops = append(ops, op{i, f})
		}
	}
	errs := make([]error, len(ops))
	run := func(k int) {
		o := ops[k]
		if o.file == nil {
			errs[k] = s.fs.SyncDir(jobs[o.job].l.dir)
		} else {
			errs[k] = o.file.Sync()
		}
	}
	if len(ops) == 1 {
		run(0)
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < min(s.par, len(ops)); w++ {
			wg.Go(func() {
				for {
					k := int(next.Add(1)) - 1
					if k >= len(ops) {
						return
					}
					run(k)
				}
			})
		}
		wg.Wait()
	}
	s.fsyncs.Add(uint64(len(ops)))
	for k, err := range errs {
		if err != nil && jobs[ops[k].job].err == nil {
			jobs[ops[k].job].err = fmt.Errorf("store: sync %s: %w", jobs[ops[k].job].l.id, err)
		}
	}
}

// logDir is where the log id keeps its files.
func (s *Store) logDir(id string) string { return filepath.Join(s.dir, id) }
