package perf

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReadProcParsesStatAndStatus(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A command name with a space and a parenthesis, as beam.smp's threads can have.
	stat := "42 (beam (smp) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 30 0 100 1000 300 18446744073709551615\n"
	status := "Name:\tbeam.smp\nVmPeak:\t  999 kB\nVmRSS:\t  123456 kB\nThreads:\t30\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := readProcFrom(root, 42)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU != 4*time.Second { // (250+150) ticks at 100 Hz
		t.Errorf("CPU %v, want 4s", s.CPU)
	}
	if s.RSS != 123456*1024 {
		t.Errorf("RSS %d, want %d", s.RSS, 123456*1024)
	}
}

func TestReadProcOfThisProcess(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if s.RSS <= 0 {
		t.Errorf("own RSS %d, want positive", s.RSS)
	}
}
