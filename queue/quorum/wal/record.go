package wal

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// The kind of a WAL record travels in the flags byte of the store's record
// header, so the payload below holds only what the kind needs.
const (
	flagEntry   = 1 // a Raft log entry of one group
	flagStable  = 2 // a StableStore key and value of one group
	flagPoison  = 3 // the group's records were damaged: it stays stopped
	flagBarrier = 4 // empty; appended and waited for to make settles durable
)

// Every group record starts with
//
//	0  group id  8 bytes  the first 8 bytes of SHA-256 of the group's name
//	8  prev      8 bytes  the sequence number of the group's previous record (0: none)
//
// then, for an entry,
//
//	16 index      8 bytes
//	24 term       8 bytes
//	32 type       1 byte   raft.LogType
//	33 appended   8 bytes  AppendedAt in Unix nanoseconds, 0 for the zero time
//	41 data len   4 bytes, the data
//	   ext len    4 bytes, the extensions
//
// for a stable key, a 2-byte key length, the key and the value (the rest);
// for a poison record, the reason (the rest). Integers are little endian.
const (
	groupHdr    = 16
	entryFixed  = groupHdr + 8 + 8 + 1 + 8 + 4 + 4
	maxStableKy = 1 << 16
)

var errShort = errors.New("wal: record too short")

// groupID turns a group's name into the id its records carry. 64 bits of
// SHA-256 make a collision between two of a node's groups negligible
// (about n²/2⁶⁵ for n groups).
func groupID(name string) uint64 {
	h := sha256.Sum256([]byte(name))
	return binary.LittleEndian.Uint64(h[:8])
}

func appendGroupHdr(dst []byte, id, prev uint64) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, id)
	return binary.LittleEndian.AppendUint64(dst, prev)
}

// parseGroupHdr returns the group id, the previous record and the rest.
func parseGroupHdr(b []byte) (id, prev uint64, rest []byte, err error) {
	if len(b) < groupHdr {
		return 0, 0, nil, errShort
	}
	return binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), b[groupHdr:], nil
}

// appendEntry encodes one Raft log entry of group id.
func appendEntry(dst []byte, id, prev uint64, l *raft.Log) []byte {
	dst = appendGroupHdr(dst, id, prev)
	dst = binary.LittleEndian.AppendUint64(dst, l.Index)
	dst = binary.LittleEndian.AppendUint64(dst, l.Term)
	dst = append(dst, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(l.Extensions)))
	return append(dst, l.Extensions...)
}

// entryIndex reads the Raft index of an entry's body (after the group
// header) without decoding the rest.
func entryIndex(body []byte) (uint64, error) {
	if len(body) < entryFixed-groupHdr {
		return 0, errShort
	}
	return binary.LittleEndian.Uint64(body), nil
}

// decodeEntry decodes an entry's body into out, copying its data and
// extensions so that out does not alias body. Lengths are checked against
// what is there before anything is allocated.
func decodeEntry(body []byte, out *raft.Log) error {
	if len(body) < entryFixed-groupHdr {
		return errShort
	}
	out.Index = binary.LittleEndian.Uint64(body)
	out.Term = binary.LittleEndian.Uint64(body[8:])
	out.Type = raft.LogType(body[16])
	out.AppendedAt = time.Time{}
	if at := int64(binary.LittleEndian.Uint64(body[17:])); at != 0 {
		out.AppendedAt = time.Unix(0, at)
	}
	rest := body[25:]
	data, rest, err := lenPrefixed(rest)
	if err != nil {
		return err
	}
	ext, rest, err := lenPrefixed(rest)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("wal: %d bytes after an entry", len(rest))
	}
	out.Data, out.Extensions = clone(data), clone(ext)
	return nil
}

// lenPrefixed splits a 4-byte length and that many bytes off b.
func lenPrefixed(b []byte) ([]byte, []byte, error) {
	if len(b) < 4 {
		return nil, nil, errShort
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("wal: length %d past the record's end", n)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// clone copies b; nil and empty stay nil, as raft-boltdb returns them.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// appendStable encodes a stable key and value of group id.
func appendStable(dst []byte, id, prev uint64, key, val []byte) []byte {
	dst = appendGroupHdr(dst, id, prev)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(key)))
	dst = append(dst, key...)
	return append(dst, val...)
}

// decodeStable splits a stable record's body into key and value (aliasing
// body).
func decodeStable(body []byte) (key, val []byte, err error) {
	if len(body) < 2 {
		return nil, nil, errShort
	}
	n := int(binary.LittleEndian.Uint16(body))
	if n > len(body)-2 {
		return nil, nil, fmt.Errorf("wal: key length %d past the record's end", n)
	}
	return body[2 : 2+n], body[2+n:], nil
}

// putUint64 and getUint64 are SetUint64's encoding (big endian, as
// raft-boltdb's).
func putUint64(b []byte, v uint64) { binary.BigEndian.PutUint64(b, v) }
func getUint64(b []byte) uint64    { return binary.BigEndian.Uint64(b) }
