package store

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// File is one open file of the store. Every write goes through WriteAt at an
// offset the store tracks itself, so a test can wrap File to record the order
// of writes and syncs, or keep only what was synced.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Sync flushes the file's written data to stable storage (fsync).
	Sync() error
	// Truncate changes the file's size; the store uses it to cut a torn
	// tail and to take back a write that failed half-way.
	Truncate(size int64) error
	// Size returns the file's current size in bytes.
	Size() (int64, error)
	// Close releases the file.
	Close() error
}

// FS is the file system the store works on. OSFS is the real one; tests
// substitute layers that record operations or simulate a crash.
type FS interface {
	// Create creates (or truncates) a file for reading and writing.
	Create(name string) (File, error)
	// OpenFile opens an existing file for reading and writing.
	OpenFile(name string) (File, error)
	// Open opens an existing file for reading only.
	Open(name string) (File, error)
	// Remove deletes a file.
	Remove(name string) error
	// RemoveAll deletes a directory and everything below it.
	RemoveAll(dir string) error
	// Rename atomically replaces newName with oldName.
	Rename(oldName, newName string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string) error
	// ReadDir lists the names of the entries of a directory.
	ReadDir(dir string) ([]string, error)
	// SyncDir makes the directory's entries (created, renamed and removed
	// files) durable.
	SyncDir(dir string) error
}

// OSFS is the operating system's file system.
type OSFS struct{}

type osFile struct{ *os.File }

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Create implements FS.
func (OSFS) Create(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// OpenFile implements FS.
func (OSFS) OpenFile(name string) (File, error) {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Open implements FS.
func (OSFS) Open(name string) (File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// RemoveAll implements FS.
func (OSFS) RemoveAll(dir string) error { return os.RemoveAll(dir) }

// Rename implements FS.
func (OSFS) Rename(oldName, newName string) error { return os.Rename(oldName, newName) }

// MkdirAll implements FS.
func (OSFS) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

// ReadDir implements FS.
func (OSFS) ReadDir(dir string) ([]string, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(es))
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names, nil
}

// SyncDir implements FS.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// isNotExist reports whether err says a file does not exist, for any FS
// that wraps os errors or returns fs.ErrNotExist.
func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// parentDir is the directory holding path.
func parentDir(path string) string { return filepath.Dir(path) }

// noSyncFS is the file system of a volatile store: its files and
// directories are never synced.
type noSyncFS struct{ FS }

type noSyncFile struct{ File }

// Sync implements File and does nothing.
func (noSyncFile) Sync() error { return nil }

// SyncDir implements FS and does nothing.
func (noSyncFS) SyncDir(string) error { return nil }

// Create implements FS.
func (f noSyncFS) Create(name string) (File, error) { return noSyncFile{}.wrap(f.FS.Create(name)) }

// OpenFile implements FS.
func (f noSyncFS) OpenFile(name string) (File, error) { return noSyncFile{}.wrap(f.FS.OpenFile(name)) }

// wrap makes the opened file's Sync do nothing.
func (noSyncFile) wrap(fl File, err error) (File, error) {
	if err != nil {
		return nil, err
	}
	return noSyncFile{fl}, nil
}
