package broker

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"
)

// DefaultDiskFreeLimit is RabbitMQ's disk_free_limit default: 50 MB.
const DefaultDiskFreeLimit = 50_000_000

// statfsFree returns the bytes available to an unprivileged user on the
// file system holding dir, as RabbitMQ's disk monitor reads them.
func statfsFree(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// checkDisk raises or clears the disk alarm: below the disk free limit
// (diskFreeLimit) in free bytes on the data dir's file system, publishing connections are
// blocked as by the memory alarm (connection.blocked "low on disk") until
// space returns. Messages already accepted are still written; should the
// disk fill anyway, the store fails the write, nacks the publishes waiting
// for it and damages nothing already on disk.
func (s *Server) checkDisk() {
	if s.cfg.InMemory {
		return
	}
	limit := s.diskFreeLimit()
	if limit <= 0 {
		if s.setAlarm(alarmDisk, false) {
			s.log.Info("disk alarm cleared: the disk free limit is disabled")
		}
		return
	}
	free, err := s.cfg.DiskFree(s.cfg.DataDir)
	if err != nil {
		if !s.diskProbeFailed.Swap(true) {
			s.log.Warn("cannot read free disk space", zap.String("dir", s.cfg.DataDir), zap.Error(err))
		}
		return
	}
	s.diskProbeFailed.Store(false)
	low := free < uint64(limit)
	if !s.setAlarm(alarmDisk, low) {
		return
	}
	if low {
		s.log.Warn("disk alarm set: free disk space below the limit, publishers blocked",
			zap.Uint64("free", free), zap.Int64("limit", limit))
	} else {
		s.log.Info("disk alarm cleared", zap.Uint64("free", free), zap.Int64("limit", limit))
	}
}

// diskFreeLimit is the disk free limit in force: the one set at run time,
// or Config.DiskFreeLimit; 0 or less disables the check.
func (s *Server) diskFreeLimit() int64 {
	if v := s.diskLimitSet.Load(); v != 0 {
		return v
	}
	return s.cfg.DiskFreeLimit
}

// setDiskFreeLimit changes the disk free limit while the node runs, as
// rabbitmqctl set_disk_free_limit does (0 disables the check), and checks
// the disk at once, so that the alarm is raised or cleared before it
// returns. The limit lasts until the node stops.
func (s *Server) setDiskFreeLimit(limit int64) {
	if limit <= 0 {
		limit = -1
	}
	s.diskLimitSet.Store(limit)
	s.log.Info("disk free limit set", zap.Int64("limit", limit))
	s.checkDisk()
}

// ParseSize parses a byte count as rabbitmq.conf writes them: a plain
// number of bytes, or a number with a unit: k, K, KiB, kiB (2^10), M, MiB
// (2^20), G, GiB (2^30), T, TiB (2^40) or kB, KB (10^3), MB (10^6), GB
// (10^9), TB (10^12). "50MB" is RabbitMQ's disk_free_limit default.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	mult := map[string]float64{
		"": 1, "b": 1, "B": 1,
		"k": 1 << 10, "K": 1 << 10, "KiB": 1 << 10, "kiB": 1 << 10,
		"M": 1 << 20, "MiB": 1 << 20, "G": 1 << 30, "GiB": 1 << 30, "T": 1 << 40, "TiB": 1 << 40,
		"kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	}[unit]
	if num == "" || mult == 0 {
		return 0, fmt.Errorf("invalid size %q: want bytes or a number with a unit such as 50MB or 1GiB", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f*mult > 1<<62 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return int64(f * mult), nil
}
