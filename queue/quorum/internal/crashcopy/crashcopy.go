// Package crashcopy is a test helper of the quorum queue packages: it
// copies a live data directory as a kill -9 would leave it.
package crashcopy

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Copy copies the tree under src to dst, failing t on an error. Taken
// while nothing is being written, the copy is what a kill -9 would leave
// on disk (the page cache survives a process kill). A file removed
// between the listing and its copy (by a store's compactor) is skipped.
func Copy(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if os.IsNotExist(err) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// copyFile copies the file at p to target, unless p no longer exists.
func copyFile(p, target string) error {
	in, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(target)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
