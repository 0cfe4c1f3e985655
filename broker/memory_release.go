package broker

import (
	"runtime/debug"
	"runtime/metrics"
)

// Handing freed memory back. Go's runtime keeps the heap it grew for a
// backlog until its scavenger returns it, a little at a time, over
// minutes; an idle node does not even collect until its two-minute forced
// GC. So once the node has allocated releaseBusy bytes since the last
// release and then goes quiet (less than releaseQuiet allocated in one
// second of the clock), the clock goroutine collects and returns every
// free page at once (debug.FreeOSMemory). It runs at most once per busy
// spell, never while the node is busy, so it costs nothing under load.
const (
	releaseBusy  = 64 << 20
	releaseQuiet = 1 << 20
)

// allocsMetric is the bytes allocated since the process started.
const allocsMetric = "/gc/heap/allocs:bytes"

// memReleaser is the clock goroutine's state for releasing memory.
type memReleaser struct {
	last  uint64 // allocsMetric at the previous sample
	since uint64 // bytes allocated since the last release
}

// sample takes the cumulative allocation count and reports whether the
// node has gone quiet after a busy spell, which it then forgets.
func (r *memReleaser) sample(allocs uint64) bool {
	d := allocs - r.last
	if r.last == 0 || allocs < r.last {
		d = 0
	}
	r.last = allocs
	r.since += d
	if r.since < releaseBusy || d >= releaseQuiet {
		return false
	}
	r.since = 0
	return true
}

// releaseMemory returns freed memory to the system once the node goes
// quiet after a busy spell. Clock goroutine only.
func (s *Server) releaseMemory() {
	sample := []metrics.Sample{{Name: allocsMetric}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 || !s.memRelease.sample(sample[0].Value.Uint64()) {
		return
	}
	debug.FreeOSMemory()
	s.log.Debug("returned free memory to the system after a busy spell")
}
