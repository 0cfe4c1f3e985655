package perf

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. The
// kernel fixes it at 100 for user space on every architecture Go supports
// on Linux.
const clockTicks = 100

// ProcSample is a broker process's resource use at one moment.
type ProcSample struct {
	// CPU is user plus system CPU time consumed since the process started.
	CPU time.Duration
	// RSS is the resident set size in bytes.
	RSS int64
}

// ReadProc samples a process's CPU time and resident memory from /proc.
func ReadProc(pid int) (ProcSample, error) {
	return readProcFrom("/proc", pid)
}

// readBroker samples the broker: BrokerPID and every one of
// OtherBrokerPIDs, added together.
func (c *Config) readBroker() (ProcSample, error) {
	return c.readBrokerFrom("/proc")
}

func (c *Config) readBrokerFrom(root string) (ProcSample, error) {
	total, err := readProcFrom(root, c.BrokerPID)
	if err != nil {
		return total, err
	}
	for _, pid := range c.OtherBrokerPIDs {
		s, err := readProcFrom(root, pid)
		if err != nil {
			return total, err
		}
		total.CPU += s.CPU
		total.RSS += s.RSS
	}
	return total, nil
}

func readProcFrom(root string, pid int) (ProcSample, error) {
	var s ProcSample
	stat, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", root, pid))
	if err != nil {
		return s, err
	}
	// The command name (field 2) is in parentheses and may hold spaces; the
	// fields after the last ')' start at field 3 (state).
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[end+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields after the name, want at least 13", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	s.CPU = time.Duration(utime+stime) * time.Second / clockTicks

	status, err := os.Open(fmt.Sprintf("%s/%d/status", root, pid))
	if err != nil {
		return s, err
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			fs := strings.Fields(rest) // "12345 kB"
			if len(fs) >= 1 {
				kb, err := strconv.ParseInt(fs[0], 10, 64)
				if err != nil {
					return s, fmt.Errorf("/proc/%d/status: bad VmRSS %q", pid, rest)
				}
				s.RSS = kb * 1024
			}
			break
		}
	}
	return s, sc.Err()
}
