package broker

import (
	"bufio"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// defaultWatermarkFraction is RabbitMQ's vm_memory_high_watermark: the
// share of the machine's memory past which publishers are blocked.
const defaultWatermarkFraction = 0.4

// alarmEvery is how many clock ticks pass between memory checks.
const alarmEvery = 20

// heapMetric is the live heap as runtime/metrics reports it.
const heapMetric = "/memory/classes/heap/objects:bytes"

// cgroupNoLimit is the smallest value read from a cgroup memory limit
// that means "no limit": cgroup v1 reports an unlimited group as the
// largest page-aligned int64 (9223372036854771712).
const cgroupNoLimit = 1 << 62

// memoryLimit returns the memory the node may use, in bytes: the machine's
// (MemTotal in /proc/meminfo) or, when lower, its cgroup's limit (cgroup v2
// memory.max, or cgroup v1 memory/memory.limit_in_bytes), so that in a
// container the watermark is a share of the container's limit. It returns
// 0 when nothing can be read. root is the file system root: "/" but in
// tests.
func memoryLimit(root string) uint64 {
	total := memTotal(filepath.Join(root, "proc/meminfo"))
	for _, p := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if n := cgroupLimit(filepath.Join(root, p)); n != 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// memTotal returns MemTotal from a meminfo file in bytes, or 0.
func memTotal(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit returns the limit in a cgroup memory limit file in bytes, or
// 0 when the file is missing or unreadable or sets no limit ("max" in
// cgroup v2, a huge number in v1).
func cgroupLimit(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n >= cgroupNoLimit {
		return 0
	}
	return n
}

// alarm is one resource alarm; the server's alarms are a set of them.
type alarm uint32

// The resource alarms, as RabbitMQ's memory and disk alarms.
const (
	alarmMemory alarm = 1 << iota
	alarmDisk
)

// blockedReason is the reason connection.blocked gives for a set of
// alarms, as rabbit_reader words it.
func blockedReason(set alarm) string {
	switch set {
	case alarmMemory:
		return "low on memory"
	case alarmDisk:
		return "low on disk"
	}
	return "low on memory & disk"
}

// checkMemory raises or clears the memory alarm. While it is raised,
// connections that publish stop being read (as RabbitMQ's memory alarm
// blocks publishers) and those that support it hear connection.blocked.
func (s *Server) checkMemory() {
	if s.cfg.MemoryHighWatermark == 0 {
		return
	}
	sample := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	used := sample[0].Value.Uint64()
	high := used > uint64(s.cfg.MemoryHighWatermark)
	if !s.setAlarm(alarmMemory, high) {
		return
	}
	if high {
		s.log.Warn("memory alarm set: publishers blocked", zap.Uint64("heap", used),
			zap.Int64("watermark", s.cfg.MemoryHighWatermark))
	} else {
		s.log.Info("memory alarm cleared", zap.Uint64("heap", used))
	}
}

// setAlarm raises or clears one of this node's own alarms and reports
// whether that changed it. Publishing connections are blocked while any
// alarm is in force, this node's or, in a cluster, another node's
// (cluster_alarms.go); they hear connection.blocked when the first is
// raised and connection.unblocked when the last clears. A change is
// gossiped to the other nodes of the cluster.
func (s *Server) setAlarm(a alarm, on bool) bool {
	s.mu.Lock()
	own := s.ownAlarms &^ a
	if on {
		own |= a
	}
	if own == s.ownAlarms {
		s.mu.Unlock()
		return false
	}
	s.ownAlarms = own
	conns, blocked, notify := s.updateAlarmsLocked()
	s.mu.Unlock()
	if notify {
		notifyConns(conns, blocked)
	}
	if s.cluster != nil {
		s.cluster.publishAlarms()
	}
	return true
}

// setRemoteAlarms sets the alarms raised on the other nodes of the
// cluster, which block this node's publishers as its own do.
func (s *Server) setRemoteAlarms(set alarm) {
	s.mu.Lock()
	if set == s.remoteAlarms {
		s.mu.Unlock()
		return
	}
	s.remoteAlarms = set
	conns, blocked, notify := s.updateAlarmsLocked()
	s.mu.Unlock()
	if notify {
		notifyConns(conns, blocked)
	}
}

// ownAlarmSet returns this node's own alarms.
func (s *Server) ownAlarmSet() alarm {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ownAlarms
}

// updateAlarmsLocked recomputes the alarms in force from this node's and
// the cluster's, with s.mu held. When blocking starts or ends it returns
// the connections to tell, and notify true.
func (s *Server) updateAlarmsLocked() (conns []*conn, blocked, notify bool) {
	old := s.alarms
	set := s.ownAlarms | s.remoteAlarms
	if set == old {
		return nil, false, false
	}
	s.alarms = set
	s.blocked.Store(set != 0)
	switch {
	case old == 0:
		s.unblocked = make(chan struct{})
	case set == 0:
		close(s.unblocked)
		s.unblocked = nil
	default:
		// Still blocked, for other reasons: nothing to tell clients.
		return nil, false, false
	}
	conns = make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	return conns, set != 0, true
}

// notifyConns tells the publishing connections that blocking started or
// ended.
func notifyConns(conns []*conn, blocked bool) {
	for _, c := range conns {
		if c.opened.Load() && c.published.Load() {
			c.notifyBlocked(blocked)
		}
	}
}

// notifyBlocked sends connection.blocked or connection.unblocked to a
// client that announced the connection.blocked capability.
// It is sent once per change, whichever of the alarm and the read loop
// gets there first, and is safe from any goroutine.
func (c *conn) notifyBlocked(blocked bool) {
	if !c.blockSent.CompareAndSwap(!blocked, blocked) {
		return
	}
	if v, _ := c.capabilities["connection.blocked"].(bool); !v {
		return
	}
	if blocked {
		c.srv.mu.Lock()
		set := c.srv.alarms
		c.srv.mu.Unlock()
		if set == 0 {
			set = alarmMemory
		}
		c.sendMethod(0, &protocol.ConnectionBlocked{Reason: blockedReason(set)})
	} else {
		c.sendMethod(0, &protocol.ConnectionUnblocked{})
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// markPublisher records that the client publishes. It runs when a
// basic.publish method arrives, before its content: the read loop checks
// for alarms before every frame, so under an alarm even the first message
// is held (not routed, not confirmed) until the alarm clears, as
// rabbit_reader stops reading a publisher at its first content frame.
func (c *conn) markPublisher() {
	if !c.published.Load() {
		c.published.Store(true)
	}
}

// waitWhileBlocked pauses a publishing connection's read loop while an
// alarm (memory or disk) is raised, as RabbitMQ stops reading from
// publishers. The read loop calls it before each frame while the server is
// blocked, so frames already buffered (a pipelined publish) are held too.
// The client hears connection.blocked when the pause starts and
// connection.unblocked when it ends. The peer's silence does not count
// against its heartbeats meanwhile. Like RabbitMQ, a paused connection does
// not see the client's own connection.close until the alarm clears; a close
// from the broker (shutdown) ends the pause.
func (c *conn) waitWhileBlocked() {
	if !c.srv.blocked.Load() || !c.published.Load() {
		return
	}
	c.paused.Store(true)
	c.notifyBlocked(true)
	defer func() {
		c.paused.Store(false)
		if !c.closeSent.Load() {
			c.notifyBlocked(false)
		}
	}()
	for c.srv.blocked.Load() && !c.closeSent.Load() {
		c.srv.mu.Lock()
		ch := c.srv.unblocked
		c.srv.mu.Unlock()
		if ch == nil {
			return
		}
		select {
		case <-ch:
			return
		case <-c.srv.stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
