package quorum

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	"github.com/warrenmq/warren/protocol/fields"
)

// The Raft RPCs of the node's shared transport (raftnet.go) are encoded by
// hand rather than with the msgpack codec raft's own NetworkTransport
// uses: every field of hashicorp's structs in a fixed order, integers as
// uvarints, byte strings length-prefixed. An idle group's heartbeat is
// then about 60 bytes, not msgpack's field names, and encoding it
// allocates nothing and reflects on nothing.
//
// The deprecated Leader of an AppendEntriesRequest and Candidate of a
// RequestVoteRequest are not sent: raft v1.7 fills RPCHeader.Addr, which
// it reads instead whenever it is set, and every node runs this code.
//
// A frame is a 4-byte big-endian length, then the frame's kind, then a
// uvarint request id. A request continues with its group's name
// (length-prefixed) and its RPC; a response with a status byte and then
// either the RPC's response or an error text.

// The kinds of frame.
const (
	kindResponse        byte = 0
	kindAppendEntries   byte = 1
	kindRequestVote     byte = 2
	kindRequestPreVote  byte = 3
	kindTimeoutNow      byte = 4
	kindInstallSnapshot byte = 5 // only as the first frame of a stream of its own
	kindBeat            byte = 6 // a node's beat, on its dialled stream (raftnet_beat.go)
	kindBeatAck         byte = 7 // a beat's acknowledgement, on the accepted stream
)

// The statuses of a response.
const (
	respOK    byte = 0
	respError byte = 1
)

const (
	// maxRaftFrame bounds one frame: an AppendEntries always carries at
	// least one entry, and one entry is at most a batch (maxBatchBytes)
	// plus the message that ended it (16 MiB at most).
	maxRaftFrame = 64 << 20
	// appendEntriesBytes is where an AppendEntries stops taking more of
	// the entries raft handed it: the rest go in the next request.
	appendEntriesBytes = 4 << 20
	// entryOverhead is what a log entry adds to its data on the wire, at
	// most.
	entryOverhead = 4*binary.MaxVarintLen64 + 1
	// maxTextLen bounds an error text in a response.
	maxTextLen = 1024
)

// errBadRaftFrame is a frame that does not decode: the stream it came on is
// dropped.
var errBadRaftFrame = errors.New("quorum raft transport: bad frame")

// appendFrameStart starts a frame of kind in b; finishFrame writes its
// length once it is complete.
func appendFrameStart(b []byte, kind byte, id uint64) ([]byte, int) {
	start := len(b)
	b = append(b, 0, 0, 0, 0, kind)
	return binary.AppendUvarint(b, id), start
}

// finishFrame writes the length of the frame that starts at start.
func finishFrame(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

func appendField(b, field []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(field)))
	return append(b, field...)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendPeer encodes an InstallSnapshotRequest's Leader, which raft
// fills with the sender's address: 0 when it equals the header's Addr,
// else its length plus one and the bytes.
func appendPeer(b, peer, addr []byte) []byte {
	if len(peer) > 0 && string(peer) == string(addr) {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(peer))+1)
	return append(b, peer...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendHeader(b []byte, h raft.RPCHeader) []byte {
	b = binary.AppendUvarint(b, uint64(h.ProtocolVersion))
	b = appendField(b, h.ID)
	return appendField(b, h.Addr)
}

// fitEntries returns how many of entries go in one AppendEntries: as
// many as fit in appendEntriesBytes, at least one.
func fitEntries(entries []*raft.Log) int {
	size := 0
	for i, e := range entries {
		size += len(e.Data) + len(e.Extensions) + entryOverhead
		if i > 0 && size > appendEntriesBytes {
			return i
		}
	}
	return len(entries)
}

// appendRequest encodes the RPC args (a pointer to one of raft's request
// structs other than InstallSnapshotRequest). An AppendEntries carries
// at most appendEntriesBytes of entries: args.Entries is cut to those
// sent, so that raft, which reads it back after the call, advances by
// what the follower got.
func appendRequest(b []byte, args any) []byte {
	switch a := args.(type) {
	case *raft.AppendEntriesRequest:
		if n := fitEntries(a.Entries); n < len(a.Entries) {
			a.Entries = a.Entries[:n]
		}
		b = appendHeader(b, a.RPCHeader)
		b = binary.AppendUvarint(b, a.Term)
		b = binary.AppendUvarint(b, a.PrevLogEntry)
		b = binary.AppendUvarint(b, a.PrevLogTerm)
		b = binary.AppendUvarint(b, a.LeaderCommitIndex)
		b = binary.AppendUvarint(b, uint64(len(a.Entries)))
		for _, e := range a.Entries {
			b = appendLog(b, e)
		}
	case *raft.RequestVoteRequest:
		b = appendHeader(b, a.RPCHeader)
		b = binary.AppendUvarint(b, a.Term)
		b = binary.AppendUvarint(b, a.LastLogIndex)
		b = binary.AppendUvarint(b, a.LastLogTerm)
		b = appendBool(b, a.LeadershipTransfer)
	case *raft.RequestPreVoteRequest:
		b = appendHeader(b, a.RPCHeader)
		b = binary.AppendUvarint(b, a.Term)
		b = binary.AppendUvarint(b, a.LastLogIndex)
		b = binary.AppendUvarint(b, a.LastLogTerm)
	case *raft.TimeoutNowRequest:
		b = appendHeader(b, a.RPCHeader)
	case *raft.InstallSnapshotRequest:
		b = appendHeader(b, a.RPCHeader)
		b = binary.AppendUvarint(b, uint64(a.SnapshotVersion))
		b = binary.AppendUvarint(b, a.Term)
		b = appendPeer(b, a.Leader, a.Addr)
		b = binary.AppendUvarint(b, a.LastLogIndex)
		b = binary.AppendUvarint(b, a.LastLogTerm)
		b = appendField(b, a.Peers)
		b = appendField(b, a.Configuration)
		b = binary.AppendUvarint(b, a.ConfigurationIndex)
		b = binary.AppendUvarint(b, uint64(a.Size))
	default:
		panic(fmt.Sprintf("quorum raft transport: no encoding for %T", args))
	}
	return b
}

func appendLog(b []byte, e *raft.Log) []byte {
	b = binary.AppendUvarint(b, e.Index)
	b = binary.AppendUvarint(b, e.Term)
	b = append(b, byte(e.Type))
	b = appendField(b, e.Data)
	b = appendField(b, e.Extensions)
	var at int64
	if !e.AppendedAt.IsZero() {
		at = e.AppendedAt.UnixNano()
	}
	return binary.AppendVarint(b, at)
}

// appendResponse encodes resp, a pointer to one of raft's response
// structs; ok is false for anything else.
func appendResponse(b []byte, resp any) (out []byte, ok bool) {
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		b = appendHeader(b, r.RPCHeader)
		b = binary.AppendUvarint(b, r.Term)
		b = binary.AppendUvarint(b, r.LastLog)
		b = appendBool(b, r.Success)
		b = appendBool(b, r.NoRetryBackoff)
	case *raft.RequestVoteResponse:
		b = appendHeader(b, r.RPCHeader)
		b = binary.AppendUvarint(b, r.Term)
		b = appendField(b, r.Peers)
		b = appendBool(b, r.Granted)
	case *raft.RequestPreVoteResponse:
		b = appendHeader(b, r.RPCHeader)
		b = binary.AppendUvarint(b, r.Term)
		b = appendBool(b, r.Granted)
	case *raft.TimeoutNowResponse:
		b = appendHeader(b, r.RPCHeader)
	case *raft.InstallSnapshotResponse:
		b = appendHeader(b, r.RPCHeader)
		b = binary.AppendUvarint(b, r.Term)
		b = appendBool(b, r.Success)
	default:
		return b, false
	}
	return b, true
}

// wire decodes a frame's fields: a fields.Reader whose failures wrap
// errBadRaftFrame, with the reads of this codec on top. The first failure
// sticks: every later read returns zero values. Lengths are checked
// against what is left before anything is allocated.
type wire struct{ fields.Reader }

func newWire(b []byte) *wire {
	return &wire{fields.Reader{B: b, Corrupt: errBadRaftFrame}}
}

func (w *wire) bool() bool {
	switch w.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	w.Fail("bad boolean")
	return false
}

// field returns the next length-prefixed field, a slice of the frame
// (nil when empty).
func (w *wire) field() []byte {
	n := w.Uvarint()
	if n > uint64(len(w.B)) {
		w.Fail("field longer than the frame")
		return nil
	}
	if n == 0 {
		return nil
	}
	f := w.B[:n:n]
	w.B = w.B[n:]
	return f
}

// ownField is field copied out of the frame, for what outlives it.
func (w *wire) ownField() []byte {
	f := w.field()
	if f == nil {
		return nil
	}
	return append([]byte(nil), f...)
}

// peer decodes appendPeer's encoding.
func (w *wire) peer(addr []byte) []byte {
	n := w.Uvarint()
	if n == 0 {
		return addr
	}
	if n-1 > uint64(len(w.B)) {
		w.Fail("field longer than the frame")
		return nil
	}
	if n == 1 {
		return nil
	}
	f := w.B[: n-1 : n-1]
	w.B = w.B[n-1:]
	return f
}

// int decodes a non-negative int field.
func (w *wire) int() int {
	v := w.Uvarint()
	if v > 1<<31 {
		w.Fail("integer out of range")
		return 0
	}
	return int(v)
}

func (w *wire) header() raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersion(w.int()), ID: w.field(), Addr: w.field()}
}

// end fails the frame if bytes are left over, and returns the error.
func (w *wire) end() error {
	if w.Err == nil && len(w.B) != 0 {
		w.Fail("bytes after the end")
	}
	return w.Err
}

// decodeRequest decodes the RPC of a request frame of kind; the result
// may share the frame's bytes, except for log entries' data, which are
// copied so that an entry raft keeps does not pin the whole frame.
func decodeRequest(kind byte, body []byte) (any, error) {
	w := newWire(body)
	var cmd any
	switch kind {
	case kindAppendEntries:
		cmd = w.appendEntries()
	case kindRequestVote:
		r := &raft.RequestVoteRequest{RPCHeader: w.header(), Term: w.Uvarint()}
		r.LastLogIndex, r.LastLogTerm = w.Uvarint(), w.Uvarint()
		r.LeadershipTransfer = w.bool()
		cmd = r
	case kindRequestPreVote:
		cmd = &raft.RequestPreVoteRequest{RPCHeader: w.header(), Term: w.Uvarint(),
			LastLogIndex: w.Uvarint(), LastLogTerm: w.Uvarint()}
	case kindTimeoutNow:
		cmd = &raft.TimeoutNowRequest{RPCHeader: w.header()}
	case kindInstallSnapshot:
		r := &raft.InstallSnapshotRequest{RPCHeader: w.header(), SnapshotVersion: raft.SnapshotVersion(w.int()),
			Term: w.Uvarint()}
		r.Leader = w.peer(r.Addr)
		r.LastLogIndex, r.LastLogTerm = w.Uvarint(), w.Uvarint()
		r.Peers, r.Configuration = w.field(), w.field()
		r.ConfigurationIndex = w.Uvarint()
		if size := w.Uvarint(); size > 1<<62 {
			w.Fail("snapshot size out of range")
		} else {
			r.Size = int64(size)
		}
		cmd = r
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", errBadRaftFrame, kind)
	}
	if err := w.end(); err != nil {
		return nil, err
	}
	return cmd, nil
}

// appendEntries decodes an AppendEntriesRequest. The entry count is
// checked against the bytes left (each entry takes at least 6) before
// the slice is made.
func (w *wire) appendEntries() *raft.AppendEntriesRequest {
	r := &raft.AppendEntriesRequest{RPCHeader: w.header(), Term: w.Uvarint()}
	r.PrevLogEntry, r.PrevLogTerm, r.LeaderCommitIndex = w.Uvarint(), w.Uvarint(), w.Uvarint()
	n := w.Uvarint()
	if n > uint64(len(w.B)/6) {
		w.Fail("more entries than bytes")
		return r
	}
	if n == 0 {
		return r
	}
	logs := make([]raft.Log, n)
	r.Entries = make([]*raft.Log, n)
	for i := range logs {
		e := &logs[i]
		e.Index, e.Term, e.Type = w.Uvarint(), w.Uvarint(), raft.LogType(w.Byte())
		e.Data, e.Extensions = w.ownField(), w.ownField()
		if at := w.Varint(); at != 0 {
			e.AppendedAt = time.Unix(0, at)
		}
		r.Entries[i] = e
	}
	return r
}

// decodeResponse decodes the body of a response into resp, a pointer to
// the raft response struct the caller passed; a response that carries an
// error returns it.
func decodeResponse(body []byte, resp any) error {
	w := newWire(body)
	switch status := w.Byte(); status {
	case respOK:
	case respError:
		text := w.field()
		if err := w.end(); err != nil {
			return err
		}
		return errors.New(string(text))
	default:
		return fmt.Errorf("%w: response status %d", errBadRaftFrame, status)
	}
	switch r := resp.(type) {
	case *raft.AppendEntriesResponse:
		r.RPCHeader = w.ownHeader(r.RPCHeader)
		r.Term, r.LastLog = w.Uvarint(), w.Uvarint()
		r.Success, r.NoRetryBackoff = w.bool(), w.bool()
	case *raft.RequestVoteResponse:
		r.RPCHeader = w.ownHeader(r.RPCHeader)
		r.Term, r.Peers, r.Granted = w.Uvarint(), w.ownField(), w.bool()
	case *raft.RequestPreVoteResponse:
		r.RPCHeader = w.ownHeader(r.RPCHeader)
		r.Term, r.Granted = w.Uvarint(), w.bool()
	case *raft.TimeoutNowResponse:
		r.RPCHeader = w.ownHeader(r.RPCHeader)
	case *raft.InstallSnapshotResponse:
		r.RPCHeader = w.ownHeader(r.RPCHeader)
		r.Term, r.Success = w.Uvarint(), w.bool()
	default:
		panic(fmt.Sprintf("quorum raft transport: no decoding for %T", resp))
	}
	return w.end()
}

// ownHeader decodes a response's header into the caller's, reusing its
// byte slices: raft's heartbeat loop passes the same response every
// time, so an idle group's heartbeat allocates nothing here.
func (w *wire) ownHeader(old raft.RPCHeader) raft.RPCHeader {
	v := raft.ProtocolVersion(w.int())
	return raft.RPCHeader{ProtocolVersion: v, ID: reuse(old.ID, w.field()), Addr: reuse(old.Addr, w.field())}
}

// reuse copies f into old's array when it fits.
func reuse(old, f []byte) []byte {
	if f == nil {
		return nil
	}
	return append(old[:0], f...)
}
