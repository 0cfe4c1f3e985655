package perf

import (
	"encoding/binary"
	"errors"
)

// Stamp is what every message body starts with: enough for end-to-end
// latency and for exact accounting of lost and duplicated messages.
//
// Layout (16 bytes, big endian): 8 bytes send time in nanoseconds since the
// run began, 2 bytes producer id, 6 bytes sequence number.
type Stamp struct {
	// SentNanos is the send time in nanoseconds since the run's start.
	SentNanos int64
	// Producer is the publishing producer's id.
	Producer uint16
	// Seq is the producer's sequence number, from 0.
	Seq uint64
}

// maxSeq is the largest sequence number the 6-byte field holds.
const maxSeq = 1<<48 - 1

// errShortBody is returned for a body too short to hold a stamp.
var errShortBody = errors.New("message body shorter than the 16-byte stamp")

// Put writes the stamp into the first StampSize bytes of b.
func (s Stamp) Put(b []byte) {
	binary.BigEndian.PutUint64(b[0:8], uint64(s.SentNanos))
	binary.BigEndian.PutUint16(b[8:10], s.Producer)
	seq := s.Seq & maxSeq
	b[10] = byte(seq >> 40)
	b[11] = byte(seq >> 32)
	binary.BigEndian.PutUint32(b[12:16], uint32(seq))
}

// ReadStamp decodes the stamp at the start of a message body.
func ReadStamp(b []byte) (Stamp, error) {
	if len(b) < StampSize {
		return Stamp{}, errShortBody
	}
	return Stamp{
		SentNanos: int64(binary.BigEndian.Uint64(b[0:8])),
		Producer:  binary.BigEndian.Uint16(b[8:10]),
		Seq:       uint64(b[10])<<40 | uint64(b[11])<<32 | uint64(binary.BigEndian.Uint32(b[12:16])),
	}, nil
}
