package quorum

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/warrenmq/warren/queue/store"
)

// pagesDir is the folder, beside the WAL, of the node's page store: the
// volatile store (emptied at every start) that holds the page logs of
// its replicas (bodies.go).
const pagesDir = "pages"

// pageSegmentSize is the page logs' segment size; zero is the store's
// default (64 MiB). Tests lower it to see space come back sooner.
var pageSegmentSize int64

// openPages opens the node's page store under dir.
func openPages(dir string) (*store.Store, error) {
	return store.Open(filepath.Join(dir, pagesDir), store.Options{Volatile: true, SegmentSize: pageSegmentSize})
}

// openPageLog opens an empty page log for a replica of group. Each gets a
// name of its own: a replica restoring a snapshot opens a new log while
// the old one may still be read by a snapshot being written.
func (t *Type) openPageLog(group string) (*store.Log, error) {
	id := fmt.Sprintf("%s-%d", hashName(group), t.pageLogs.Add(1))
	l, _, err := t.pages.OpenLog(id, store.LogOptions{})
	return l, err
}

// spool holds a snapshot's encoded state from Snapshot to Release.
type spool interface {
	io.ReadWriteSeeker
	io.Closer
}

// newSpool returns an empty spool: an unlinked file in the page store's
// folder (the page cache holds it, not the heap), or memory when the
// node keeps no data.
func (t *Type) newSpool() (spool, error) {
	if t.pages == nil {
		return &memSpool{}, nil
	}
	f, err := os.CreateTemp(filepath.Join(t.cfg.Dir, pagesDir), "state-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// memSpool is a spool in memory.
type memSpool struct {
	buf bytes.Buffer
	r   *bytes.Reader
}

func (m *memSpool) Write(p []byte) (int, error) { return m.buf.Write(p) }

func (m *memSpool) Read(p []byte) (int, error) {
	if m.r == nil {
		m.r = bytes.NewReader(m.buf.Bytes())
	}
	return m.r.Read(p)
}

func (m *memSpool) Seek(off int64, whence int) (int64, error) {
	m.r = bytes.NewReader(m.buf.Bytes())
	return m.r.Seek(off, whence)
}

func (m *memSpool) Close() error { return nil }
