package store

import (
	"encoding/binary"
	"errors"
	"slices"
)

// A settle record's payload is a list of runs of settled sequence numbers,
// each as two uvarints: the gap from the end of the previous run (from the
// record's seq for the first) and the run's length minus one. Acks near the
// head of a queue arrive in order, so most records hold one short run.

// span is the run [start, start+n).
type span struct {
	start, n uint64
}

func (s span) end() uint64 { return s.start + s.n }

// maxSettlePayload bounds one settle record's payload.
const maxSettlePayload = 64 << 10

// appendSpans appends settle records for spans (sorted, disjoint) to dst.
func appendSpans(dst []byte, spans []span) []byte {
	var payload []byte
	var base, prevEnd uint64
	flush := func() {
		if len(payload) > 0 {
			dst = appendRecord(dst, kindSettle, 0, base, payload)
			payload = payload[:0]
		}
	}
	for _, sp := range spans {
		if sp.n == 0 {
			continue
		}
		if len(payload) == 0 {
			base, prevEnd = sp.start, sp.start
		}
		payload = binary.AppendUvarint(payload, sp.start-prevEnd)
		payload = binary.AppendUvarint(payload, sp.n-1)
		prevEnd = sp.end()
		if len(payload) >= maxSettlePayload-2*binary.MaxVarintLen64 {
			flush()
		}
	}
	flush()
	return dst
}

// spansOf turns sorted sequence numbers into runs, dropping duplicates.
func spansOf(dst []span, seqs []uint64) []span {
	for _, s := range seqs {
		if n := len(dst); n > 0 && dst[n-1].end() == s {
			dst[n-1].n++
			continue
		} else if n > 0 && dst[n-1].end() > s {
			continue
		}
		dst = append(dst, span{s, 1})
	}
	return dst
}

var errBadSettle = errors.New("malformed settle record")

// decodeSpans appends the runs of one settle record to dst.
func decodeSpans(dst []span, base uint64, payload []byte) ([]span, error) {
	prevEnd := base
	for len(payload) > 0 {
		gap, n1 := binary.Uvarint(payload)
		if n1 <= 0 {
			return dst, errBadSettle
		}
		payload = payload[n1:]
		l, n2 := binary.Uvarint(payload)
		if n2 <= 0 {
			return dst, errBadSettle
		}
		payload = payload[n2:]
		start := prevEnd + gap
		if start < prevEnd || start+l+1 <= start {
			return dst, errBadSettle
		}
		dst = append(dst, span{start, l + 1})
		prevEnd = start + l + 1
	}
	return dst, nil
}

// mergeSpans sorts spans and merges overlapping or adjacent ones.
func mergeSpans(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	out := spans[:0]
	for _, s := range spans {
		if n := len(out); n > 0 && s.start <= out[n-1].end() {
			if s.end() > out[n-1].end() {
				out[n-1].n = s.end() - out[n-1].start
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// settledSpans returns the runs of settled records of a segment.
func (s *segment) settledSpans(dst []span) []span {
	for w, word := range s.settled {
		for word != 0 {
			b := uint64(trailingZeros(word))
			seq := s.first + uint64(w)*64 + b
			word &^= 1 << b
			if seq >= s.end() {
				break
			}
			if n := len(dst); n > 0 && dst[n-1].end() == seq {
				dst[n-1].n++
			} else {
				dst = append(dst, span{seq, 1})
			}
		}
	}
	return dst
}
