package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// rotatingFile is the audit log's file: appended to, and once a write
// would take it past max bytes, renamed to NAME-TIMESTAMP.EXT (UTC, to
// the millisecond) and started afresh, keeping the keep newest rotated
// files. It starts no goroutine; its caller serialises calls.
type rotatingFile struct {
	path string
	max  int64
	keep int
	f    *os.File
	size int64
}

// openRotatingFile opens path for appending, creating it (and its
// directory) if missing, readable by the node's user only.
func openRotatingFile(path string, max int64, keep int) (*rotatingFile, error) {
	r := &rotatingFile{path: path, max: max, keep: keep}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit log: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("audit log: %s is not a regular file", r.path)
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// write appends b, rotating first if b would take the file past max (a
// line is never split between files).
func (r *rotatingFile) write(b []byte) error {
	if r.f == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	if r.size > 0 && r.size+int64(len(b)) > r.max {
		if err := r.rotate(); err != nil {
			return err
		}
	}
	n, err := r.f.Write(b)
	r.size += int64(n)
	return err
}

// rotate renames the file aside, opens a new one and removes the oldest
// rotated files past keep.
func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	r.f = nil
	if err := os.Rename(r.path, r.backupName(time.Now())); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	if err := r.open(); err != nil {
		return err
	}
	return r.prune()
}

// backupName is NAME-2006-01-02T15-04-05.000.EXT for t, with a counter
// when a file of that name exists (two rotations in one millisecond).
func (r *rotatingFile) backupName(t time.Time) string {
	ext := filepath.Ext(r.path)
	base := strings.TrimSuffix(r.path, ext) + "-" + t.UTC().Format(backupStamp)
	name := base + ext
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); os.IsNotExist(err) {
			return name
		}
		name = fmt.Sprintf("%s.%d%s", base, i, ext)
	}
}

// backups returns the rotated files of path, oldest first.
func (r *rotatingFile) backups() ([]string, error) {
	ext := filepath.Ext(r.path)
	prefix := filepath.Base(strings.TrimSuffix(r.path, ext)) + "-"
	entries, err := os.ReadDir(filepath.Dir(r.path))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ext) && isStamp(n[len(prefix):]) {
			out = append(out, filepath.Join(filepath.Dir(r.path), n))
		}
	}
	slices.Sort(out) // the timestamps sort as the times do
	return out, nil
}

// backupStamp is the layout of a rotated file's time.
const backupStamp = "2006-01-02T15-04-05.000"

// isStamp reports whether s starts with a time in backupStamp's layout.
func isStamp(s string) bool {
	if len(s) < len(backupStamp) {
		return false
	}
	_, err := time.Parse(backupStamp, s[:len(backupStamp)])
	return err == nil
}

// prune removes the oldest rotated files beyond keep.
func (r *rotatingFile) prune() error {
	bs, err := r.backups()
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	for len(bs) > r.keep {
		if err := os.Remove(bs[0]); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		bs = bs[1:]
	}
	return nil
}

func (r *rotatingFile) close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
