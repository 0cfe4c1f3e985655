package broker

import (
	"bufio"
	"os"
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

// memoryLimit returns the machine's (or the cgroup's) memory in bytes, or
// 0 when it cannot be read.
func memoryLimit() uint64 {
	var total uint64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				total = kb << 10
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && (total == 0 || n < total) {
			total = n
		}
	}
	return total
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
	s.mu.Lock()
	if high == (s.unblocked != nil) {
		s.mu.Unlock()
		return
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	if high {
		s.unblocked = make(chan struct{})
		s.memBlocked.Store(true)
	} else {
		close(s.unblocked)
		s.unblocked = nil
		s.memBlocked.Store(false)
	}
	s.mu.Unlock()
	if high {
		s.log.Warn("memory alarm set: publishers blocked", zap.Uint64("heap", used),
			zap.Int64("watermark", s.cfg.MemoryHighWatermark))
	} else {
		s.log.Info("memory alarm cleared", zap.Uint64("heap", used))
	}
	for _, c := range conns {
		if c.opened.Load() && c.published.Load() {
			c.notifyBlocked(high)
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
		c.sendMethod(0, &protocol.ConnectionBlocked{Reason: "low on memory"})
	} else {
		c.sendMethod(0, &protocol.ConnectionUnblocked{})
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// waitWhileBlocked pauses a publishing connection's read loop while the
// memory alarm is raised, as RabbitMQ stops reading from publishers: the
// client hears connection.blocked when the pause starts and
// connection.unblocked when it ends. The peer's silence does not count
// against its heartbeats meanwhile. Like RabbitMQ, a paused connection does
// not see the client's own connection.close until the alarm clears; a close
// from the broker (shutdown) ends the pause.
func (c *conn) waitWhileBlocked() {
	if !c.srv.memBlocked.Load() || !c.published.Load() {
		return
	}
	c.endBatch()
	c.paused.Store(true)
	c.notifyBlocked(true)
	defer func() {
		c.paused.Store(false)
		if !c.closeSent.Load() {
			c.notifyBlocked(false)
		}
	}()
	for c.srv.memBlocked.Load() && !c.closeSent.Load() {
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
