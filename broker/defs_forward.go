package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// A node that is not the definitions leader forwards each command to the
// leader over the cluster port's service "defs": one stream per command,
// carrying
//
//	request   kind 1 octet (1: commit), length uvarint, the encoded command
//	response  status 1 octet, then for 0 (committed) the index, 8 octets
//	          big endian; for 1 nothing (not the leader: ask again); for 2
//	          a uvarint length and the error's text
//
// The leader commits it with raft.Apply and answers once it is committed;
// the forwarding node then waits for its own FSM to apply that index.
// The same service answers a forming node's question, kind 2, whether
// this node is in a cluster already: status 0 and one octet, 1 if its
// Raft configuration names any node; and, kind 3, the leader's commit
// index: status 0 and the index, 8 octets big endian (a node catching up
// before it answers for a queue it does not know yet, catchUp); and, kind
// 4 followed by an index (8 octets big endian), whether this node has
// applied that index: status 0 once it has, 2 if it has not within a
// second (defs_visible.go).

// defsService is the cluster port's service for forwarded commands.
const defsService = "defs"

const (
	forwardCommit      = 1
	forwardFormed      = 2
	forwardCommitIndex = 3
	forwardApplied     = 4

	forwardOK        = 0
	forwardNotLeader = 1
	forwardFailed    = 2

	// maxForwarded bounds a forwarded command; a definition is small, and
	// a frame_max of AMQP bounds what a client can put in one.
	maxForwarded = 16 << 20
	// forwardIOTimeout bounds reading a request from a peer.
	forwardIOTimeout = 10 * time.Second
)

// clusterPort is what the broker uses of the node's one cluster port
// (cluster.Transport): streams to other nodes by service, and the
// streams they open to this one.
type clusterPort interface {
	Dial(ctx context.Context, addr, service string) (net.Conn, error)
	Listen(service string) (net.Listener, error)
}

// forwardTo sends entry to the leader at addr and returns the index it
// was committed at. raft.ErrNotLeader means the node was not (or no
// longer) the leader and never proposed it.
func forwardTo(ctx context.Context, port clusterPort, addr raft.ServerAddress, entry []byte) (uint64, error) {
	nc, err := port.Dial(ctx, string(addr), defsService)
	if err != nil {
		// Nothing was sent: as good as no leader, so the caller waits for
		// one and tries again.
		return 0, fmt.Errorf("%w: %v", raft.ErrNotLeader, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	req := binary.AppendUvarint([]byte{forwardCommit}, uint64(len(entry)))
	if _, err := nc.Write(append(req, entry...)); err != nil {
		return 0, fmt.Errorf("%w: %v", raft.ErrNotLeader, err)
	}
	r := bufio.NewReader(nc)
	status, err := r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("the definitions leader %s did not answer: %w", addr, err)
	}
	switch status {
	case forwardOK:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("the definitions leader %s did not answer: %w", addr, err)
		}
		return binary.BigEndian.Uint64(b[:]), nil
	case forwardNotLeader:
		return 0, raft.ErrNotLeader
	case forwardFailed:
		msg, err := readBytes(r, 4096)
		if err != nil {
			return 0, fmt.Errorf("the definitions leader %s did not answer: %w", addr, err)
		}
		return 0, fmt.Errorf("the definitions leader %s: %s", addr, msg)
	}
	return 0, fmt.Errorf("the definitions leader %s answered status %d", addr, status)
}

// readBytes reads a uvarint length and that many bytes, at most max.
func readBytes(r *bufio.Reader, max uint64) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%d bytes, more than %d", n, max)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(r, b)
	return b, err
}

// askCommitIndex asks the node at addr, the leader, for its commit index.
func askCommitIndex(ctx context.Context, port clusterPort, addr string) (uint64, error) {
	nc, err := port.Dial(ctx, addr, defsService)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := nc.Write([]byte{forwardCommitIndex}); err != nil {
		return 0, err
	}
	var b [9]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		return 0, err
	}
	if b[0] != forwardOK {
		return 0, fmt.Errorf("the definitions leader %s answered status %d", addr, b[0])
	}
	return binary.BigEndian.Uint64(b[1:]), nil
}

// askFormed asks the node at addr whether it is in a cluster already.
func askFormed(ctx context.Context, port clusterPort, addr string) (bool, error) {
	nc, err := port.Dial(ctx, addr, defsService)
	if err != nil {
		return false, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if _, err := nc.Write([]byte{forwardFormed}); err != nil {
		return false, err
	}
	var b [2]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil {
		return false, err
	}
	return b[0] == forwardOK && b[1] == 1, nil
}

// commitForwarded reads one forwarded command and answers whether the
// leader committed it, or answers whether this node is in a cluster.
func (s *Server) commitForwarded(nc net.Conn, r *raft.Raft, fsm *raftFSM) {
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(forwardIOTimeout))
	br := bufio.NewReader(nc)
	kind, err := br.ReadByte()
	if err != nil {
		return
	}
	if kind == forwardCommitIndex {
		nc.SetWriteDeadline(time.Now().Add(forwardIOTimeout))
		nc.Write(binary.BigEndian.AppendUint64([]byte{forwardOK}, r.CommitIndex()))
		return
	}
	if kind == forwardApplied {
		nc.SetWriteDeadline(time.Now().Add(forwardIOTimeout))
		answerApplied(nc, br, fsm)
		return
	}
	if kind == forwardFormed {
		formed := byte(0)
		if f := r.GetConfiguration(); f.Error() == nil && len(f.Configuration().Servers) > 0 {
			formed = 1
		}
		nc.SetWriteDeadline(time.Now().Add(forwardIOTimeout))
		nc.Write([]byte{forwardOK, formed})
		return
	}
	entry, err := readBytes(br, maxForwarded)
	if err != nil || kind != forwardCommit {
		s.log.Warn("malformed forwarded definitions command", zap.String("peer", nc.RemoteAddr().String()),
			zap.Uint8("kind", kind), zap.Error(err))
		return
	}
	nc.SetReadDeadline(time.Time{})
	var resp []byte
	f := r.Apply(entry, forwardIOTimeout)
	switch err := f.Error(); {
	case err == nil:
		nudgeFollowers(r)
		resp = binary.BigEndian.AppendUint64([]byte{forwardOK}, f.Index())
	case errors.Is(err, raft.ErrNotLeader):
		resp = []byte{forwardNotLeader}
	default:
		msg := err.Error()
		resp = append(binary.AppendUvarint([]byte{forwardFailed}, uint64(len(msg))), msg...)
	}
	nc.SetWriteDeadline(time.Now().Add(forwardIOTimeout))
	nc.Write(resp)
}
