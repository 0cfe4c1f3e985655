package quorum

import (
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// maxGroupInflight bounds the requests of one group being served at once
// on this node; beyond it a request is answered with an error at once.
// Raft sends a follower a handful at a time (a heartbeat, an append, a
// vote), so only a group whose replica is stuck reaches it.
const maxGroupInflight = 16

// groupTrans is one group's raft.Transport on the node's raftNet. Its
// RPCs go out on the stream the node shares with the peer; requests for
// it arrive on the streams peers opened and are served each on a
// goroutine of its own, so that a replica busy with its disk holds up
// neither the stream nor the other groups.
type groupTrans struct {
	run      *raftRun
	name     string
	consumer chan raft.RPC

	mu        sync.Mutex
	heartbeat func(raft.RPC)
	inflight  int
	closed    bool
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
}

var (
	_ raft.Transport   = (*groupTrans)(nil)
	_ raft.WithClose   = (*groupTrans)(nil)
	_ raft.WithPreVote = (*groupTrans)(nil)
)

func newGroupTrans(run *raftRun, name string) *groupTrans {
	return &groupTrans{run: run, name: name, consumer: make(chan raft.RPC), done: make(chan struct{})}
}

// Consumer implements raft.Transport.
func (g *groupTrans) Consumer() <-chan raft.RPC { return g.consumer }

// LocalAddr implements raft.Transport: the node's cluster address.
func (g *groupTrans) LocalAddr() raft.ServerAddress { return raft.ServerAddress(g.run.net.Addr()) }

// AppendEntriesPipeline implements raft.Transport: no pipeline, raft
// sends one AppendEntries at a time to each follower.
func (g *groupTrans) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries implements raft.Transport. It sends at most
// appendEntriesBytes of entries (at least one) and cuts args.Entries to
// those, so that raft sends the rest next.
func (g *groupTrans) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	return g.roundTrip(target, kindAppendEntries, args, resp)
}

// RequestVote implements raft.Transport.
func (g *groupTrans) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return g.roundTrip(target, kindRequestVote, args, resp)
}

// RequestPreVote implements raft.WithPreVote.
func (g *groupTrans) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return g.roundTrip(target, kindRequestPreVote, args, resp)
}

// TimeoutNow implements raft.Transport.
func (g *groupTrans) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return g.roundTrip(target, kindTimeoutNow, args, resp)
}

// InstallSnapshot implements raft.Transport, on a stream of its own
// (raftnet_snapshot.go).
func (g *groupTrans) InstallSnapshot(_ raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	return g.run.installSnapshot(g.name, string(target), args, resp, data)
}

// EncodePeer implements raft.Transport: the address itself.
func (g *groupTrans) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte { return []byte(addr) }

// DecodePeer implements raft.Transport.
func (g *groupTrans) DecodePeer(b []byte) raft.ServerAddress { return raft.ServerAddress(b) }

// SetHeartbeatHandler implements raft.Transport: heartbeats go to cb
// rather than through Consumer, so that they are not held up behind a
// replica's disk writes.
func (g *groupTrans) SetHeartbeatHandler(cb func(raft.RPC)) {
	g.mu.Lock()
	g.heartbeat = cb
	g.mu.Unlock()
}

// Close implements raft.WithClose: the requests being served end, and
// the last group of the node stops its service.
func (g *groupTrans) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	close(g.done)
	g.mu.Unlock()
	g.wg.Wait()
	g.run.rn.remove(g)
	return nil
}

// roundTrip sends args to target and decodes the answer into resp.
func (g *groupTrans) roundTrip(target raft.ServerAddress, kind byte, args, resp any) error {
	select {
	case <-g.done:
		return raft.ErrTransportShutdown
	default:
	}
	deadline := time.Now().Add(g.run.timeout)
	c, err := g.run.peer(string(target)).stream(deadline)
	if err != nil {
		return err
	}
	call := callPool.Get().(*rpcCall)
	if err := c.request(call, kind, g.name, args, deadline); err != nil {
		call.conn = nil
		callPool.Put(call)
		return err
	}
	body, err := call.wait(deadline)
	if err != nil {
		return err
	}
	return decodeResponse(body, resp)
}

// isHeartbeat reports whether cmd is an AppendEntries raft sends as a
// heartbeat, as raft's NetworkTransport tells them (the sender's address
// is in the header: the deprecated Leader field is not sent).
func isHeartbeat(cmd any) bool {
	a, ok := cmd.(*raft.AppendEntriesRequest)
	return ok && a.Term != 0 && len(a.Addr) != 0 &&
		a.PrevLogEntry == 0 && a.PrevLogTerm == 0 && len(a.Entries) == 0 && a.LeaderCommitIndex == 0
}

// begin counts a request the group serves, or returns why it will not:
// it is closed, or has too many requests in hand.
func (g *groupTrans) begin() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.closed:
		return raft.ErrTransportShutdown.Error()
	case g.inflight >= maxGroupInflight:
		return "quorum raft transport: replica busy"
	}
	g.inflight++
	g.wg.Add(1)
	return ""
}

// end is a served request's end.
func (g *groupTrans) end() {
	g.mu.Lock()
	g.inflight--
	g.mu.Unlock()
	g.wg.Done()
}

// heartbeatHandler returns the handler of heartbeats, nil if cmd is not
// one or there is none.
func (g *groupTrans) heartbeatHandler(cmd any) func(raft.RPC) {
	if !isHeartbeat(cmd) {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.heartbeat
}

// dispatch serves request id of stream c on a goroutine of its own, or
// answers it with an error at once.
func (g *groupTrans) dispatch(c *raftConn, id uint64, cmd any) {
	if why := g.begin(); why != "" {
		c.respondError(id, why)
		return
	}
	go g.serve(c, id, cmd)
}

// serve hands one request to the replica, through hb for a heartbeat,
// and queues its answer.
func (g *groupTrans) serve(c *raftConn, id uint64, cmd any) {
	defer g.end()
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{Command: cmd, RespChan: respCh}
	if hb := g.heartbeatHandler(cmd); hb != nil {
		hb(rpc)
	} else {
		select {
		case g.consumer <- rpc:
		case <-g.done:
			c.respondError(id, raft.ErrTransportShutdown.Error())
			return
		case <-c.done:
			return
		}
	}
	select {
	case r := <-respCh:
		if r.Error != nil {
			c.respondError(id, r.Error.Error())
		} else if r.Response == nil {
			c.respondError(id, "quorum raft transport: no response")
		} else {
			c.respond(id, r.Response)
		}
	case <-g.done:
		c.respondError(id, raft.ErrTransportShutdown.Error())
	case <-c.done:
	}
}
