package quorum

import (
	"encoding/binary"
	"fmt"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// An entry is the data of one Raft log entry of a quorum queue: a batch
// of commands that were pending together, so that one entry (one log
// write, one replication round) carries many publishes. It is the number
// of commands (uvarint), then each command's length (uvarint) and
// encoding (fifo.AppendCommand), followed, for an Enqueue, by the
// message's length (uvarint) and encoding (queue.AppendMessage).
//
// The state machine names a message by the index of the command that
// enqueued it: the entry's Raft index shifted left by batchBits, plus the
// command's position in the entry. Indexes so made increase from one
// command to the next, which is all fifo.State asks of them.

// batchBits bounds the commands of one entry to 1 << batchBits.
const batchBits = 10

// maxBatch is the most commands one entry carries.
const maxBatch = 1 << batchBits

// maxBatchBytes ends a batch once its entry is this large.
const maxBatchBytes = 4 << 20

// commandIndex is the state machine's index of command i of the entry at
// Raft index index.
func commandIndex(index uint64, i int) uint64 { return index<<batchBits | uint64(i) }

// appendCommand appends one command of an entry, carrying m for an
// Enqueue.
func appendCommand(b []byte, cmd fifo.Command, m *queue.Message) []byte {
	var scratch [64]byte
	enc := fifo.AppendCommand(scratch[:0], cmd)
	b = binary.AppendUvarint(b, uint64(len(enc)))
	b = append(b, enc...)
	if m != nil {
		at := len(b)
		b = queue.AppendMessage(b, m)
		n := len(b) - at
		var hdr [binary.MaxVarintLen64]byte
		k := binary.PutUvarint(hdr[:], uint64(n))
		b = append(b, hdr[:k]...)
		copy(b[at+k:], b[at:at+n])
		copy(b[at:], hdr[:k])
	}
	return b
}

// decoded is one command of an entry.
type decoded struct {
	cmd fifo.Command
	msg *queue.Message // an Enqueue's message
}

// decodeEntry decodes an entry into out. An entry that does not decode
// completely is fifo.ErrCorrupt: a replica never skips a committed entry.
func decodeEntry(b []byte, out []decoded) ([]decoded, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxBatch {
		return out, fmt.Errorf("%w: entry header", fifo.ErrCorrupt)
	}
	b = b[k:]
	for range n {
		var field []byte
		var err error
		if field, b, err = lengthPrefixed(b); err != nil {
			return out, err
		}
		cmd, err := fifo.Decode(field)
		if err != nil {
			return out, err
		}
		d := decoded{cmd: cmd}
		if _, enq := cmd.(fifo.Enqueue); enq {
			if field, b, err = lengthPrefixed(b); err != nil {
				return out, err
			}
			if d.msg, err = queue.DecodeMessage(field); err != nil {
				return out, fmt.Errorf("%w: enqueued message: %v", fifo.ErrCorrupt, err)
			}
		}
		out = append(out, d)
	}
	if len(b) != 0 {
		return out, fmt.Errorf("%w: %d bytes after an entry's commands", fifo.ErrCorrupt, len(b))
	}
	return out, nil
}

// lengthPrefixed splits a uvarint-length-prefixed field off b.
func lengthPrefixed(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, fmt.Errorf("%w: truncated entry", fifo.ErrCorrupt)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
