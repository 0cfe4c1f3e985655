package protocol

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// specPath is the generator's input, relative to this package.
const specPath = "internal/gen/amqp0-9-1.spec"

// TestGeneratedFilesUpToDate runs the generator into a temporary directory
// and fails if any generated file differs from the committed one, so that a
// change to the generator or the spec cannot be forgotten.
func TestGeneratedFilesUpToDate(t *testing.T) {
	out := t.TempDir()
	abs, err := filepath.Abs(specPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "./internal/gen", "-spec", abs, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator failed: %v\n%s", err, b)
	}
	generated, err := filepath.Glob(filepath.Join(out, "*.go"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("generator wrote no files (%v)", err)
	}
	// A committed generated file the generator no longer writes is stale.
	committed, _ := filepath.Glob("*_gen*.go")
	for _, c := range committed {
		if _, err := os.Stat(filepath.Join(out, c)); err != nil {
			t.Errorf("%s is committed but no longer generated: delete it", c)
		}
	}
	for _, g := range generated {
		name := filepath.Base(g)
		want, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Errorf("%s is generated but not committed: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is out of date: run go generate ./protocol", name)
		}
	}
}
