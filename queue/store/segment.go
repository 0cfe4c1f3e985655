package store

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"path/filepath"
	"strconv"
	"strings"
)

const (
	segSuffix = ".seg"
	ackName   = "settled.log"
	ackTmp    = "settled.tmp"

	// indexEvery is how many records apart the sparse offset index of a
	// segment keeps an entry, so a reader can start near any sequence
	// number without a per-message index.
	indexEvery = 1024
)

// segName is the file name of the segment whose first record is first.
func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

// parseSegName returns the first sequence number named by a segment file.
func parseSegName(name string) (uint64, bool) {
	if !strings.HasSuffix(name, segSuffix) || len(name) != 20+len(segSuffix) {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
	return n, err == nil && n > 0
}

// segment is the in-memory state of one segment file: its sequence range,
// which records of it are settled (one bit each, allocated on the first
// settle), and a sparse offset index. This is the only per-message memory
// the store keeps: one bit per message, plus 8 bytes per indexEvery.
type segment struct {
	first   uint64 // sequence number of the first record
	count   uint64 // the segment covers [first, first+count)
	live    uint64 // records not settled
	size    int64  // bytes in the file (for the active segment: written or buffered)
	sealed  bool   // no more appends; ends with a seal record
	settled []uint64
	index   []int64 // index[i] is an offset at or before record first+i*indexEvery; may be short
	path    string
	gen     uint64 // bumped when compaction replaces the file
	// compacting is set while the compactor rewrites the file.
	compacting bool
	packedLive uint64 // live records when last compacted (0: never)
}

// end is one past the last sequence number of the segment.
func (s *segment) end() uint64 { return s.first + s.count }

// contains reports whether seq falls in the segment's range.
func (s *segment) contains(seq uint64) bool { return seq >= s.first && seq < s.end() }

// isSettled reports whether seq (in range) has been settled.
func (s *segment) isSettled(seq uint64) bool {
	i := seq - s.first
	w := i / 64
	return w < uint64(len(s.settled)) && s.settled[w]&(1<<(i%64)) != 0
}

// settle marks seq (in range) settled, reporting false if it already was.
func (s *segment) settle(seq uint64) bool {
	i := seq - s.first
	w := i / 64
	if w >= uint64(len(s.settled)) {
		n := (s.count + 63) / 64
		if n <= w {
			n = w + 1
		}
		grown := make([]uint64, n, n+n/4)
		copy(grown, s.settled)
		s.settled = grown
	}
	bit := uint64(1) << (i % 64)
	if s.settled[w]&bit != 0 {
		return false
	}
	s.settled[w] |= bit
	s.live--
	return true
}

// offsetFor returns a file offset at or before the record seq.
func (s *segment) offsetFor(seq uint64) int64 {
	if seq <= s.first {
		return 0
	}
	i := (seq - s.first) / indexEvery
	if i >= uint64(len(s.index)) {
		if len(s.index) == 0 {
			return 0
		}
		i = uint64(len(s.index)) - 1
	}
	return s.index[i]
}

// noteOffset records the offset of seq in the sparse index if it is due.
func (s *segment) noteOffset(seq uint64, off int64) {
	i := seq - s.first
	if i%indexEvery == 0 && i/indexEvery == uint64(len(s.index)) {
		s.index = append(s.index, off)
	}
}

// sealRecord is the last record of a sealed segment: its range.
func sealRecord(dst []byte, first, count uint64) []byte {
	var p [sealPayload]byte
	binary.LittleEndian.PutUint64(p[0:], first)
	binary.LittleEndian.PutUint64(p[8:], count)
	return appendRecord(dst, kindSeal, 0, first+count-1, p[:])
}

// readSeal reads the seal record at the end of a segment file of the given
// size, reporting false when there is no valid one naming first.
func readSeal(f File, size int64, first uint64) (count uint64, ok bool) {
	if size < sealSize {
		return 0, false
	}
	var b [sealSize]byte
	if _, err := f.ReadAt(b[:], size-sealSize); err != nil {
		return 0, false
	}
	h, ok := parseHeader(b[:])
	if !ok || h.kind != kindSeal || h.length != sealPayload || !checksumOK(b[:]) {
		return 0, false
	}
	f0 := binary.LittleEndian.Uint64(b[hdrSize:])
	count = binary.LittleEndian.Uint64(b[hdrSize+8:])
	if f0 != first || count == 0 || h.seq != first+count-1 {
		return 0, false
	}
	return count, true
}

func segPath(dir string, first uint64) string { return filepath.Join(dir, segName(first)) }

func trailingZeros(w uint64) int { return bits.TrailingZeros64(w) }
