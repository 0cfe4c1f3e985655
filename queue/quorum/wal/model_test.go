package wal

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/warrenmq/warren/queue/quorum/internal/crashcopy"
	"pgregory.net/rapid"
)

// modelGroup is what a group's store must hold: the entries from first on,
// and the stable keys.
type modelGroup struct {
	first  uint64
	logs   []raft.Log
	stable map[string][]byte
}

func (m *modelGroup) last() uint64 {
	if len(m.logs) == 0 {
		return 0
	}
	return m.first + uint64(len(m.logs)) - 1
}

// store is StoreLogs on the model: entries at held indexes replace them
// and what follows; entries that do not follow replace the whole log.
func (m *modelGroup) store(ls []raft.Log) {
	idx := ls[0].Index
	switch {
	case len(m.logs) == 0:
		m.first = idx
	case idx >= m.first && idx <= m.last():
		m.logs = m.logs[:idx-m.first]
	case idx != m.last()+1:
		m.logs, m.first = nil, idx
	}
	m.logs = append(m.logs, ls...)
}

var modelGroups = []string{"q1", "q2", "q3"}
var modelKeys = []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"}

// walMachine runs random operations on a WAL and on the model side by side.
type walMachine struct {
	t      *testing.T
	dir    string
	opts   Options
	w      *WAL
	groups map[string]*GroupStore
	model  map[string]*modelGroup
}

func (s *walMachine) open(rt *rapid.T) {
	w, err := Open(s.dir, s.opts)
	if err != nil {
		rt.Fatalf("Open: %v", err)
	}
	s.w = w
	s.groups = map[string]*GroupStore{}
	for _, n := range modelGroups {
		g, err := w.Group(n)
		if err != nil {
			rt.Fatalf("Group(%s): %v", n, err)
		}
		s.groups[n] = g
	}
}

func (s *walMachine) pick(rt *rapid.T) (string, *GroupStore, *modelGroup) {
	n := rapid.SampledFrom(modelGroups).Draw(rt, "group")
	return n, s.groups[n], s.model[n]
}

func (s *walMachine) storeLogs(rt *rapid.T) {
	_, g, m := s.pick(rt)
	var start uint64
	switch {
	case len(m.logs) == 0:
		start = rapid.Uint64Range(1, 30).Draw(rt, "start")
	default:
		switch rapid.IntRange(0, 5).Draw(rt, "where") {
		case 0: // a conflict
			start = rapid.Uint64Range(m.first, m.last()).Draw(rt, "conflict")
		case 1: // after an installed snapshot
			start = m.last() + rapid.Uint64Range(2, 20).Draw(rt, "gap")
		default:
			start = m.last() + 1
		}
	}
	n := rapid.IntRange(1, 6).Draw(rt, "n")
	term := rapid.Uint64Range(1, 9).Draw(rt, "term")
	ls := make([]raft.Log, n)
	ptrs := make([]*raft.Log, n)
	for i := range ls {
		ls[i] = raft.Log{Index: start + uint64(i), Term: term, Type: raft.LogCommand,
			Data: rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(rt, "data")}
		if rapid.IntRange(0, 4).Draw(rt, "ext") == 0 {
			ls[i].Extensions = []byte("ext")
		}
		ptrs[i] = &ls[i]
	}
	if err := g.StoreLogs(ptrs); err != nil {
		rt.Fatalf("StoreLogs: %v", err)
	}
	m.store(ls)
}

func (s *walMachine) deleteFront(rt *rapid.T) {
	_, g, m := s.pick(rt)
	if len(m.logs) == 0 {
		rt.Skip("empty")
	}
	k := rapid.IntRange(1, len(m.logs)).Draw(rt, "k")
	if err := g.DeleteRange(m.first, m.first+uint64(k)-1); err != nil {
		rt.Fatalf("DeleteRange: %v", err)
	}
	m.logs = m.logs[k:]
	m.first += uint64(k)
}

func (s *walMachine) deleteBack(rt *rapid.T) {
	_, g, m := s.pick(rt)
	if len(m.logs) == 0 {
		rt.Skip("empty")
	}
	k := rapid.IntRange(1, len(m.logs)).Draw(rt, "k")
	if err := g.DeleteRange(m.last()-uint64(k)+1, m.last()); err != nil {
		rt.Fatalf("DeleteRange: %v", err)
	}
	m.logs = m.logs[:len(m.logs)-k]
}

func (s *walMachine) set(rt *rapid.T) {
	_, g, m := s.pick(rt)
	key := rapid.SampledFrom(modelKeys).Draw(rt, "key")
	if rapid.Bool().Draw(rt, "uint64") {
		v := rapid.Uint64().Draw(rt, "v")
		if err := g.SetUint64([]byte(key), v); err != nil {
			rt.Fatalf("SetUint64: %v", err)
		}
		var b [8]byte
		putUint64(b[:], v)
		m.stable[key] = b[:]
		return
	}
	v := rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(rt, "val")
	if err := g.Set([]byte(key), v); err != nil {
		rt.Fatalf("Set: %v", err)
	}
	m.stable[key] = v
}

func (s *walMachine) deleteGroup(rt *rapid.T) {
	n, _, _ := s.pick(rt)
	if err := s.w.DeleteGroup(n); err != nil {
		rt.Fatalf("DeleteGroup: %v", err)
	}
	s.model[n] = &modelGroup{stable: map[string][]byte{}}
	g, err := s.w.Group(n)
	if err != nil {
		rt.Fatalf("Group: %v", err)
	}
	s.groups[n] = g
}

// crash reopens a copy of the directory taken while the WAL is open, as a
// kill -9 leaves it: every acknowledged write must be there.
func (s *walMachine) crash(rt *rapid.T) {
	dir := s.t.TempDir()
	crashcopy.Copy(s.t, s.dir, dir)
	if err := s.w.Close(); err != nil {
		rt.Fatalf("Close: %v", err)
	}
	s.dir = dir
	s.open(rt)
}

func (s *walMachine) restart(rt *rapid.T) {
	if err := s.w.Close(); err != nil {
		rt.Fatalf("Close: %v", err)
	}
	s.open(rt)
}

// check compares every group with its model.
func (s *walMachine) check(rt *rapid.T) {
	for _, n := range modelGroups {
		g, m := s.groups[n], s.model[n]
		first, err1 := g.FirstIndex()
		last, err2 := g.LastIndex()
		if err := errors.Join(err1, err2); err != nil {
			rt.Fatalf("%s: %v", n, err)
		}
		wantFirst := m.first
		if len(m.logs) == 0 {
			wantFirst = 0
		}
		if first != wantFirst || last != m.last() {
			rt.Fatalf("%s holds %d..%d, model %d..%d", n, first, last, wantFirst, m.last())
		}
		for i, want := range m.logs {
			var got raft.Log
			if err := g.GetLog(want.Index, &got); err != nil {
				rt.Fatalf("%s: GetLog(%d): %v", n, want.Index, err)
			}
			if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type ||
				!bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Extensions, want.Extensions) {
				rt.Fatalf("%s: entry %d = %+v, want %+v", n, i, got, want)
			}
		}
		for _, probe := range []uint64{m.first - 1, m.last() + 1} {
			var got raft.Log
			if err := g.GetLog(probe, &got); probe != 0 && !errors.Is(err, raft.ErrLogNotFound) {
				rt.Fatalf("%s: GetLog(%d) outside %d..%d: %v", n, probe, m.first, m.last(), err)
			}
		}
		for _, k := range modelKeys {
			got, err := g.Get([]byte(k))
			want, ok := m.stable[k]
			if !ok && !errors.Is(err, ErrKeyNotFound) || ok && (err != nil || !bytes.Equal(got, want)) {
				rt.Fatalf("%s: Get(%s) = %q, %v; want %q (set %v)", n, k, got, err, want, ok)
			}
		}
	}
}

// The WAL behaves as the model of a LogStore and StableStore under random
// operations of three groups, across restarts and process kills, with
// segments small enough that reclaiming and compaction run all the time.
// A kill keeps the page cache, so the files need no fsync here (what an
// fsync guards against, a power loss, is queue/store's tests' business,
// whose file system keeps only synced bytes across a simulated one).
func TestModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := &walMachine{t: t, dir: t.TempDir(), model: map[string]*modelGroup{}}
		s.opts = Options{
			FS:           noSyncFS{},
			SegmentSize:  int64(rapid.SampledFrom([]int{1 << 10, 4 << 10, 64 << 10}).Draw(rt, "segment")),
			CacheEntries: rapid.SampledFrom([]int{-1, 4, 0}).Draw(rt, "cache"),
		}
		for _, n := range modelGroups {
			s.model[n] = &modelGroup{stable: map[string][]byte{}}
		}
		s.open(rt)
		defer func() { s.w.Close() }()
		rt.Repeat(map[string]func(*rapid.T){
			"storeLogs":   s.storeLogs,
			"deleteFront": s.deleteFront,
			"deleteBack":  s.deleteBack,
			"set":         s.set,
			"deleteGroup": s.deleteGroup,
			"restart":     s.restart,
			"crash":       s.crash,
			"":            s.check,
		})
	})
}
