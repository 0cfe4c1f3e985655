package quorum

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// A snapshot install does not go on the stream a node shares with a
// peer: it opens a stream of its own to the peer's raftService, whose
// first frame is the InstallSnapshotRequest (request id 0, group name
// first), followed by exactly Size bytes of the snapshot, and whose only
// frame back is the answer. yamux's flow control per stream then paces
// the snapshot by the replica restoring it, and the other groups'
// heartbeats never queue behind its bytes.

// snapshotTimeoutScale is how many bytes of snapshot each RPC timeout
// allows, as raft's NetworkTransport's TimeoutScale.
const snapshotTimeoutScale = 256 << 10

// snapshotWriteBuffer is the buffer a snapshot is sent through.
const snapshotWriteBuffer = 64 << 10

// snapshotTimeout is the time allowed to install a snapshot of size bytes.
func (run *raftRun) snapshotTimeout(size int64) time.Duration {
	t := run.timeout * time.Duration(size/snapshotTimeoutScale)
	if t < run.timeout {
		return run.timeout
	}
	return t
}

// installSnapshot sends group's snapshot to the peer at target.
func (run *raftRun) installSnapshot(group, target string, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if args.Size < 0 {
		return fmt.Errorf("quorum raft transport: snapshot size %d", args.Size)
	}
	deadline := time.Now().Add(run.snapshotTimeout(args.Size))
	ctx, cancel := context.WithDeadline(run.ctx, deadline)
	defer cancel()
	c, err := run.net.Dial(ctx, target, raftService)
	if err != nil {
		return fmt.Errorf("quorum raft transport: dial %s: %w", target, err)
	}
	defer c.Close()
	_ = c.SetDeadline(deadline)
	// The node stopping ends the transfer.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()

	frame, start := appendFrameStart(nil, kindInstallSnapshot, 0)
	frame = appendString(frame, group)
	frame = finishFrame(appendRequest(frame, args), start)
	w := bufio.NewWriterSize(c, snapshotWriteBuffer)
	if _, err := w.Write(frame); err != nil {
		return err
	}
	if _, err := io.CopyN(w, data, args.Size); err != nil {
		return fmt.Errorf("quorum raft transport: sending snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	kind, _, body, err := readFrame(bufio.NewReaderSize(c, 256))
	if err != nil {
		return fmt.Errorf("quorum raft transport: snapshot answer: %w", err)
	}
	if kind != kindResponse {
		return fmt.Errorf("%w: kind %d answers a snapshot", errBadRaftFrame, kind)
	}
	return decodeResponse(body, resp)
}

// serveSnapshot serves an accepted snapshot stream whose first frame,
// the request, was read: the replica reads the snapshot's bytes from r.
func (run *raftRun) serveSnapshot(c net.Conn, r *bufio.Reader, id uint64, body []byte) {
	defer c.Close()
	w := newWire(body)
	name := w.field()
	cmd, err := decodeRequest(kindInstallSnapshot, w.B)
	if w.Err != nil {
		err = w.Err
	}
	if err != nil {
		run.log.Warn("quorum raft transport: bad snapshot request", zap.String("peer", c.RemoteAddr().String()), zap.Error(err))
		return
	}
	req := cmd.(*raft.InstallSnapshotRequest)
	_ = c.SetDeadline(time.Now().Add(run.snapshotTimeout(req.Size)))
	answer := func(resp any, text string) {
		out, start := appendFrameStart(nil, kindResponse, id)
		ok := false
		if text == "" {
			out, ok = appendResponse(append(out, respOK), resp)
		}
		if !ok {
			out, start = appendFrameStart(nil, kindResponse, id)
			out = appendString(append(out, respError), text)
		}
		_, _ = c.Write(finishFrame(out, start))
	}
	g := run.rn.group(name)
	if g == nil {
		answer(nil, fmt.Sprintf("quorum raft transport: no replica of group %s on this node", name))
		return
	}
	if why := g.begin(); why != "" {
		answer(nil, why)
		return
	}
	defer g.end()
	g.wakeIfResting()
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{Command: req, Reader: io.LimitReader(r, req.Size), RespChan: respCh}
	select {
	case g.consumer <- rpc:
	case <-g.done:
		answer(nil, raft.ErrTransportShutdown.Error())
		return
	}
	select {
	case res := <-respCh:
		text := ""
		if res.Error != nil {
			text = res.Error.Error()
		} else if res.Response == nil {
			text = "quorum raft transport: no response"
		}
		answer(res.Response, text)
	case <-g.done:
		answer(nil, raft.ErrTransportShutdown.Error())
	}
}
