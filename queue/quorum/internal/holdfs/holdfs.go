// Package holdfs is a test helper of the quorum queue packages: the
// operating system's file system with fsyncs that a test can hold back.
package holdfs

import (
	"sync"

	"github.com/warrenmq/warren/queue/store"
)

// FS is store.OSFS whose files' Sync waits while the FS is held.
type FS struct {
	store.OSFS
	mu      sync.Mutex
	release chan struct{} // nil while not held; closed by Release
	waiting int           // syncs waiting
}

// Hold makes every Sync from now on wait until Release.
func (fs *FS) Hold() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.release == nil {
		fs.release = make(chan struct{})
	}
}

// Release lets the held syncs, and every later one, go on.
func (fs *FS) Release() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.release != nil {
		close(fs.release)
		fs.release = nil
	}
}

// Waiting reports how many syncs wait for Release.
func (fs *FS) Waiting() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.waiting
}

// Create implements store.FS.
func (fs *FS) Create(name string) (store.File, error) {
	f, err := fs.OSFS.Create(name)
	if err != nil {
		return nil, err
	}
	return file{f, fs}, nil
}

// OpenFile implements store.FS.
func (fs *FS) OpenFile(name string) (store.File, error) {
	f, err := fs.OSFS.OpenFile(name)
	if err != nil {
		return nil, err
	}
	return file{f, fs}, nil
}

type file struct {
	store.File
	fs *FS
}

// Sync waits while the FS is held, then syncs.
func (f file) Sync() error {
	f.fs.mu.Lock()
	release := f.fs.release
	if release != nil {
		f.fs.waiting++
	}
	f.fs.mu.Unlock()
	if release != nil {
		<-release
		f.fs.mu.Lock()
		f.fs.waiting--
		f.fs.mu.Unlock()
	}
	return f.File.Sync()
}
