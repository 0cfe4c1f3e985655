package store

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// memFS is an in-memory FS that remembers what was synced, so a test can
// simulate a power loss: crash returns the file system as the disk would
// hold it, with only synced file contents and synced directory entries.
type memFS struct {
	mu       sync.Mutex
	dirs     map[string]map[string]*inode // what the running process sees
	durable  map[string]map[string]*inode // what survives a crash
	capacity int64                        // bytes of file data allowed; 0 = unlimited
	used     int64
}

type inode struct {
	data   []byte
	synced []byte
}

func newMemFS() *memFS {
	return &memFS{dirs: map[string]map[string]*inode{}, durable: map[string]map[string]*inode{}}
}

// crash returns what a power loss would leave.
func (m *memFS) crash() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemFS()
	c.capacity = m.capacity
	clones := map[*inode]*inode{}
	for d, ents := range m.durable {
		c.dirs[d] = map[string]*inode{}
		c.durable[d] = map[string]*inode{}
		for n, ino := range ents {
			cl := clones[ino]
			if cl == nil {
				cl = &inode{data: slices.Clone(ino.synced), synced: slices.Clone(ino.synced)}
				clones[ino] = cl
				c.used += int64(len(cl.data))
			}
			c.dirs[d][n], c.durable[d][n] = cl, cl
		}
	}
	return c
}

func (m *memFS) lookup(name string) (*inode, error) {
	ents := m.dirs[filepath.Dir(name)]
	ino := ents[filepath.Base(name)]
	if ino == nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	return ino, nil
}

func (m *memFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ents := m.dirs[filepath.Dir(name)]
	if ents == nil {
		return nil, &os.PathError{Op: "create", Path: name, Err: os.ErrNotExist}
	}
	if old := ents[filepath.Base(name)]; old != nil {
		m.used -= int64(len(old.data))
		old.data = old.data[:0]
		return &memFile{fs: m, ino: old, name: name}, nil
	}
	ino := &inode{}
	ents[filepath.Base(name)] = ino
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *memFS) OpenFile(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	return &memFile{fs: m, ino: ino, name: name}, nil
}

func (m *memFS) Open(name string) (File, error) { return m.OpenFile(name) }

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ents := m.dirs[filepath.Dir(name)]
	if ents[filepath.Base(name)] == nil {
		return &os.PathError{Op: "remove", Path: name, Err: os.ErrNotExist}
	}
	delete(ents, filepath.Base(name))
	return nil
}

func (m *memFS) RemoveAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := range m.dirs {
		if d == dir || strings.HasPrefix(d, dir+"/") {
			delete(m.dirs, d)
			delete(m.durable, d) // directories: durable at once, for simplicity
		}
	}
	return nil
}

func (m *memFS) Rename(oldName, newName string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, err := m.lookup(oldName)
	if err != nil {
		return err
	}
	delete(m.dirs[filepath.Dir(oldName)], filepath.Base(oldName))
	m.dirs[filepath.Dir(newName)][filepath.Base(newName)] = ino
	return nil
}

func (m *memFS) MkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if m.dirs[d] == nil {
			m.dirs[d] = map[string]*inode{}
			m.durable[d] = map[string]*inode{}
		}
	}
	return nil
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ents, ok := m.dirs[dir]
	if !ok {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: os.ErrNotExist}
	}
	var names []string
	for n := range ents {
		names = append(names, n)
	}
	for d := range m.dirs {
		if filepath.Dir(d) == dir && d != dir {
			names = append(names, filepath.Base(d))
		}
	}
	slices.Sort(names)
	return names, nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	ents, ok := m.dirs[dir]
	if !ok {
		return &os.PathError{Op: "sync", Path: dir, Err: os.ErrNotExist}
	}
	d := map[string]*inode{}
	for n, ino := range ents {
		d[n] = ino
	}
	m.durable[dir] = d
	return nil
}

type memFile struct {
	fs   *memFS
	ino  *inode
	name string
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	end := off + int64(len(p))
	grow := end - int64(len(f.ino.data))
	var err error
	if grow > 0 && f.fs.capacity > 0 && f.fs.used+grow > f.fs.capacity {
		// Disk full: write what fits, as a real file system may.
		room := f.fs.capacity - f.fs.used
		p = p[:max(0, int64(len(p))-grow+room)]
		end = off + int64(len(p))
		grow = end - int64(len(f.ino.data))
		err = &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
	}
	if grow > 0 {
		f.ino.data = append(f.ino.data, make([]byte, grow)...)
		f.fs.used += grow
	}
	copy(f.ino.data[off:], p)
	return len(p), err
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.ino.synced = slices.Clone(f.ino.data)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if size < int64(len(f.ino.data)) {
		f.fs.used -= int64(len(f.ino.data)) - size
		f.ino.data = f.ino.data[:size]
	} else {
		f.fs.used += size - int64(len(f.ino.data))
		f.ino.data = append(f.ino.data, make([]byte, size-int64(len(f.ino.data)))...)
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error { return nil }
