package perf

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// fakeProc writes /proc/PID/stat and status under root for a process
// with the given CPU ticks (user and system) and RSS in kB.
func fakeProc(t *testing.T, root string, pid, utime, stime, rssKB int) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A command name with a space and a parenthesis, as beam.smp's threads can have.
	stat := fmt.Sprintf("%d (beam (smp) x) S 1 42 42 0 -1 4194560 100 0 0 0 %d %d 0 0 20 0 30 0 100 1000 300 18446744073709551615\n", pid, utime, stime)
	status := fmt.Sprintf("Name:\tbeam.smp\nVmPeak:\t  999 kB\nVmRSS:\t  %d kB\nThreads:\t30\n", rssKB)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadProcParsesStatAndStatus(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 42, 250, 150, 123456)
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

func TestBrokerOfSeveralProcessesIsTheirSum(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 10, 100, 0, 1000)
	fakeProc(t, root, 11, 50, 50, 2000)
	fakeProc(t, root, 12, 0, 100, 3000)
	c := Config{BrokerPID: 10, OtherBrokerPIDs: []int{11, 12}}
	s, err := c.readBrokerFrom(root)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU != 3*time.Second || s.RSS != 6000*1024 {
		t.Errorf("got CPU %v, RSS %d; want 3s and %d", s.CPU, s.RSS, 6000*1024)
	}
	c.OtherBrokerPIDs = append(c.OtherBrokerPIDs, 13)
	if _, err := c.readBrokerFrom(root); err == nil {
		t.Error("a process that is gone was not reported")
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
