package metrics

import (
	"slices"
	"time"

	"github.com/prometheus/procfs"
)

// collectNode emits node_coarse_metrics and node_metrics that a Go
// process has: open and most file descriptors, resident memory, the
// memory and disk limits of the alarms, the free disk space of the data
// dir, and the process's uptime (under RabbitMQ's name
// erlang_uptime_seconds, which the dashboards read).
func (c *collector) collectNode(e emitter, pfx string, want func(string) bool) {
	p := readProcess()
	if want("node_coarse_metrics") {
		if p.ok {
			e.value(pfx+"process_open_fds", "Open file descriptors", gauge, float64(p.openFDs))
			e.value(pfx+"process_resident_memory_bytes", "Memory used in bytes", gauge, float64(p.rss))
		}
		if free, err := c.b.DiskFree(); err == nil {
			e.value(pfx+"disk_space_available_bytes", "Disk space available in bytes", gauge, float64(free))
		}
	}
	if !want("node_metrics") {
		return
	}
	if p.ok {
		e.value(pfx+"process_max_fds", "Open file descriptors limit", gauge, float64(p.maxFDs))
		e.value(pfx+"erlang_uptime_seconds", "Node uptime", gauge, p.uptime.Seconds())
	}
	if limit := c.b.MemoryHighWatermark(); limit > 0 {
		e.value(pfx+"resident_memory_limit_bytes", "Memory high watermark in bytes", gauge, float64(limit))
	}
	if limit := c.b.DiskFreeLimit(); limit >= 0 {
		e.value(pfx+"disk_space_available_limit_bytes", "Free disk space low watermark in bytes", gauge, float64(limit))
	}
}

// process is what /proc says of this process.
type process struct {
	ok              bool
	openFDs, maxFDs uint64
	rss             uint64
	uptime          time.Duration
}

// readProcess reads /proc/self; ok is false where it cannot (not Linux).
func readProcess() process {
	p, err := procfs.Self()
	if err != nil {
		return process{}
	}
	st, err := p.Stat()
	if err != nil {
		return process{}
	}
	out := process{ok: true, rss: uint64(st.ResidentMemory())}
	if n, err := p.FileDescriptorsLen(); err == nil {
		out.openFDs = uint64(n)
	}
	if l, err := p.Limits(); err == nil {
		out.maxFDs = l.OpenFiles
	}
	if start, err := st.StartTime(); err == nil {
		out.uptime = time.Since(time.Unix(0, int64(start*float64(time.Second))))
	}
	return out
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
