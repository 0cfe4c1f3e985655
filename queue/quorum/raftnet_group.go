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

	// retimeMu serialises the switches between hurried and steady
	// timeouts; it is taken before mu.
	retimeMu sync.Mutex

	mu        sync.Mutex
	heartbeat func(raft.RPC)
	inflight  int
	closed    bool
	done      chan struct{} // closed by Close
	// aborted is closed by abort (and Close): the replica's own RPCs in
	// flight fail at once; a replica that wakes from rest gets a new one.
	aborted    chan struct{}
	wasAborted bool
	wg         sync.WaitGroup
	// retime switches the replica's timeouts (raftTiming.retimer); nil
	// until the replica runs.
	retime func(hurry bool)
	// chosen reports whether this replica is the one of its group to
	// stand at once when the leader at the address given fell silent,
	// but for the voters excepted (firstVoter); nil until the replica
	// runs, when every follower stands.
	chosen func(silent string, except ...raft.ServerID) bool
	// capCommit caps the commit index of an append the leader sends
	// (replicaLog.capCommit); nil leaves it as it is.
	capCommit func(uint64) uint64
	// ahead reports whether the replica's log is further on than a
	// candidate's last entry (logAhead); nil: taken as further on.
	ahead func(index, term uint64) bool
	// hurried is set while the replica runs with hurried timeouts: from
	// its start, and while its leader's node is silent, until it hears
	// from a leader or leads.
	hurried bool
	// followTerm and followAddr are the term and the address of the
	// leader whose last AppendEntries this replica accepted: beats
	// hand the replica heartbeats only from that leader at that term.
	followTerm uint64
	followAddr string
	heard      time.Time // when it last accepted an append
	asked      time.Time // when a candidate last asked for its vote
	// stood is set once Raft took a stand offered for the silent leader
	// (offerStand), until the replica follows a leader again or leads.
	stood bool
	// id is the replica's server id, set with retime.
	id raft.ServerID
	// wake is set while the replica rests (rest.go): its Raft is
	// stopped, and the first request for it calls wake, which starts it
	// again, before it is served.
	wake     func()
	restTerm uint64 // the term and last index of a resting replica
	restLast uint64
	// acked is, by follower address, the highest commit index the
	// follower acknowledged in an append that reached it, and when
	// (rest.go: a leader rests only after its followers could).
	acked map[string]ackedCommit
}

// ackedCommit is a commit index a follower acknowledged, and when.
type ackedCommit struct {
	index uint64
	at    time.Time
}

var (
	_ raft.Transport   = (*groupTrans)(nil)
	_ raft.WithClose   = (*groupTrans)(nil)
	_ raft.WithPreVote = (*groupTrans)(nil)
)

func newGroupTrans(run *raftRun, name string) *groupTrans {
	return &groupTrans{run: run, name: name, consumer: make(chan raft.RPC), done: make(chan struct{}),
		aborted: make(chan struct{}), hurried: true}
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

// AppendEntries implements raft.Transport. A heartbeat, or an empty
// append that repeats one the follower acknowledged, is answered from
// the follower's last answer while the follower's node acknowledges
// beats (raftnet_beat.go); anything else goes to the follower.
func (g *groupTrans) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	g.mu.Lock()
	capCommit := g.capCommit
	g.mu.Unlock()
	if capCommit != nil {
		args.LeaderCommitIndex = capCommit(args.LeaderCommitIndex)
	}
	hb := isHeartbeat(args)
	// Only a leader sends appends: it follows no one, and has its steady
	// timeouts.
	g.lead()
	if c := g.run.peer(string(target)).live(); c != nil && c.answerKept(g.name, args, resp, hb, g.run.timing.silence) {
		return nil
	}
	c, err := g.roundTrip(target, kindAppendEntries, args, resp)
	if c != nil {
		c.learn(g.name, args, resp, err, hb)
	}
	if err == nil && resp.Success && !hb {
		g.noteAcked(string(target), args.LeaderCommitIndex)
	}
	return err
}

// RequestVote implements raft.Transport.
func (g *groupTrans) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	_, err := g.roundTrip(target, kindRequestVote, args, resp)
	return err
}

// RequestPreVote implements raft.WithPreVote.
func (g *groupTrans) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	_, err := g.roundTrip(target, kindRequestPreVote, args, resp)
	return err
}

// TimeoutNow implements raft.Transport.
func (g *groupTrans) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	_, err := g.roundTrip(target, kindTimeoutNow, args, resp)
	return err
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
	g.abort()
	g.wg.Wait()
	g.run.rn.remove(g)
	return nil
}

// abort fails the replica's RPCs in flight, and any it sends after, at
// once: called before its Raft shuts down, whose Shutdown waits for its
// replication goroutines, so that an append in flight to a peer that is
// cut off (no answer, the stream open) does not hold the queue's stop
// for the RPC timeout (10 s), one queue after another as a node stops.
func (g *groupTrans) abort() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.wasAborted {
		g.wasAborted = true
		close(g.aborted)
	}
}

// abortedCh returns the channel abort closes.
func (g *groupTrans) abortedCh() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.aborted
}

// roundTrip sends args to target and decodes the answer into resp; it
// returns the stream the request went on, nil if none.
func (g *groupTrans) roundTrip(target raft.ServerAddress, kind byte, args, resp any) (*raftConn, error) {
	return g.roundTripBy(target, kind, args, resp, time.Now().Add(g.run.timeout))
}

// roundTripBy is roundTrip with a deadline of its own.
func (g *groupTrans) roundTripBy(target raft.ServerAddress, kind byte, args, resp any, deadline time.Time) (*raftConn, error) {
	aborted := g.abortedCh()
	select {
	case <-aborted:
		return nil, raft.ErrTransportShutdown
	default:
	}
	c, err := g.run.peer(string(target)).stream(deadline)
	if err != nil {
		return nil, err
	}
	call := callPool.Get().(*rpcCall)
	if err := c.request(call, kind, g.name, args, deadline); err != nil {
		call.conn = nil
		callPool.Put(call)
		return c, err
	}
	body, err := call.wait(deadline, aborted)
	if err != nil {
		return c, err
	}
	return c, decodeResponse(body, resp)
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
	if resp, ok := g.answerResting(cmd); ok {
		c.respond(id, resp, pressing(cmd))
		return
	}
	g.wakeIfResting()
	g.askedFor(cmd)
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
			g.follow(cmd, r.Response)
			c.respond(id, r.Response, pressing(cmd))
			g.refusedStand(cmd, r.Response)
		}
	case <-g.done:
		c.respondError(id, raft.ErrTransportShutdown.Error())
	case <-c.done:
	}
}

// follow records the leader of an AppendEntries the replica accepted
// (its log may not have matched),
// and brings back its steady timeouts; a vote the replica granted means
// it follows no one until the election is over.
func (g *groupTrans) follow(cmd, resp any) {
	if v, ok := resp.(*raft.RequestVoteResponse); ok {
		if v.Granted {
			g.mu.Lock()
			g.followAddr = ""
			g.mu.Unlock()
		}
		return
	}
	a, ok := cmd.(*raft.AppendEntriesRequest)
	r, rok := resp.(*raft.AppendEntriesResponse)
	// A refusal at the leader's term (the follower's log is behind)
	// still accepts the leader.
	if !ok || !rok || r.Term != a.Term || len(a.Addr) == 0 {
		return
	}
	now := time.Now()
	g.mu.Lock()
	g.followTerm, g.heard, g.stood = a.Term, now, false
	if g.followAddr != string(a.Addr) {
		g.followAddr = string(a.Addr)
	}
	g.mu.Unlock()
	g.calm()
}

// askedFor records a candidate's request for the replica's vote (or
// pre-vote) as it arrives, before raft takes it: a follower that stands
// later in a silent leader's stead (raftRun.stand) leaves the election
// to that candidate.
func (g *groupTrans) askedFor(cmd any) {
	switch cmd.(type) {
	case *raft.RequestVoteRequest, *raft.RequestPreVoteRequest:
		now := time.Now()
		g.mu.Lock()
		g.asked = now
		g.mu.Unlock()
	}
}

// lead records that the replica leads: it follows no one, and gets its
// steady timeouts back.
func (g *groupTrans) lead() {
	g.mu.Lock()
	g.followAddr, g.stood = "", false
	g.mu.Unlock()
	g.calm()
}

// standNow has the replica stand for election at once, as when its
// leader hands leadership over (raft's TimeoutNow): it asks for votes
// without a pre-vote, and the others grant them though they still know
// a leader; it reports whether Raft took the request within standTake.
// Used by the first member of a new group, by a restarted first voter
// whose pre-votes a majority granted, and by a follower whose log is
// further on than a candidate's for a silent leader.
func (g *groupTrans) standNow() bool {
	if g.begin() != "" {
		return false
	}
	defer g.end()
	rpc := standRPC()
	t := time.NewTimer(standTake)
	defer t.Stop()
	select {
	case g.consumer <- rpc:
		return true
	case <-t.C:
		// Raft is busy (restoring a snapshot, writing): standing
		// later could split a vote another member began meanwhile.
	case <-g.done:
	}
	return false
}

// offerStand hands the replica a stand (standNow's request) if Raft
// takes it at once and the replica still follows the leader at addr
// and did not stand for it already; it reports false while Raft is
// busy, true once there is nothing more to do.
func (g *groupTrans) offerStand(addr string) bool {
	g.mu.Lock()
	if g.closed || g.followAddr != addr || g.stood {
		g.mu.Unlock()
		return true
	}
	g.stood = true
	g.mu.Unlock()
	select {
	case g.consumer <- standRPC():
		return true
	default:
	}
	g.mu.Lock()
	g.stood = false
	g.mu.Unlock()
	return false
}

// standRPC is the request that has a replica stand at once: a
// TimeoutNow, as its leader would send it to hand leadership over.
func standRPC() raft.RPC {
	return raft.RPC{Command: &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax}},
		RespChan: make(chan raft.RPCResponse, 1)}
}

// localID returns the replica's server id.
func (g *groupTrans) localID() raft.ServerID {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.id
}

// standTake is how long standNow waits for raft to take its request.
const standTake = 50 * time.Millisecond

// setRetime gives the group the function that switches its replica's
// timeouts, and the one that tells whether it stands first when its
// leader's node falls silent; the replica runs with hurried timeouts
// until then.
func (g *groupTrans) setRetime(id raft.ServerID, f func(hurry bool), chosen func(silent string, except ...raft.ServerID) bool) {
	g.retimeMu.Lock()
	g.mu.Lock()
	g.id, g.retime, g.chosen = id, f, chosen
	g.mu.Unlock()
	g.retimeMu.Unlock()
}

// setCapCommit gives the group the function that caps the commit index
// of the appends its replica sends as leader (replicaLog.capCommit).
func (g *groupTrans) setCapCommit(f func(uint64) uint64) {
	g.mu.Lock()
	g.capCommit = f
	g.mu.Unlock()
}

// setAhead gives the group the function that tells whether its
// replica's log is further on than a candidate's (logAhead).
func (g *groupTrans) setAhead(f func(index, term uint64) bool) {
	g.mu.Lock()
	g.ahead = f
	g.mu.Unlock()
}

// isChosen reports whether this replica stands first when the leader at
// silent fell silent, but for the voters excepted.
func (g *groupTrans) isChosen(silent string, except ...raft.ServerID) bool {
	g.mu.Lock()
	f := g.chosen
	g.mu.Unlock()
	return f == nil || f(silent, except...)
}

// refusedStand follows the replica's answer to a vote request: when it
// refused a candidate that stood at once (a leadership transfer's vote
// request), the replica hurries, so that if the candidate deposed a
// leader and cannot win, the group elects again within timing.hurry
// rather than timing.steady; and it stands in the candidate's stead
// when the candidate stood for a silent leader this replica still
// follows and this replica's log is further on (standInstead).
func (g *groupTrans) refusedStand(cmd, resp any) {
	req, ok := cmd.(*raft.RequestVoteRequest)
	r, rok := resp.(*raft.RequestVoteResponse)
	if !ok || !rok || r.Granted || !req.LeadershipTransfer {
		return
	}
	g.mu.Lock()
	leader, ahead := g.followAddr, g.ahead
	g.mu.Unlock()
	g.switchTimeouts(true, leader)
	if leader == "" || leader == string(req.Addr) || g.run.beatingFrom(leader) ||
		(ahead != nil && !ahead(req.LastLogIndex, req.LastLogTerm)) {
		// It follows a leader that lives, or it refused for another
		// reason than its log (it voted in that term already): the
		// candidate, or the one it voted for, may win.
		return
	}
	g.standInstead(leader, raft.ServerID(req.ID))
}

// standInstead has the replica stand in the stead of candidate, whose
// vote it refused for its log: at once if it is the first voter but
// for the silent leader's and the candidate's, so that of the replicas
// that refused the candidate only one stands at once (two that stand
// together depose each other, and the one that loses holds the group
// up); the others standGrace later, if they still follow the silent
// leader and no candidate asked for their vote since.
func (g *groupTrans) standInstead(silent string, candidate raft.ServerID) {
	if g.isChosen(silent, candidate) {
		g.standNow()
		return
	}
	since := time.Now()
	g.run.goTracked(func() {
		t := time.NewTimer(standGrace)
		defer t.Stop()
		select {
		case <-t.C:
		case <-g.done:
			return
		case <-g.run.ctx.Done():
			return
		}
		if g.following(silent) && !g.askedSince(since) {
			g.standNow()
		}
	})
}

// calm brings back the replica's steady timeouts if it hurries: it
// heard from a leader, or leads.
func (g *groupTrans) calm() {
	g.mu.Lock()
	h := g.hurried
	g.mu.Unlock()
	if h {
		g.switchTimeouts(false, "")
	}
}

// hurryIfFollowing gives the replica its hurried timeouts if its leader
// is at addr, whose node fell silent.
func (g *groupTrans) hurryIfFollowing(addr string) {
	g.switchTimeouts(true, addr)
}

// switchTimeouts switches the replica to hurried timeouts (when it
// follows addr) or back to its steady ones, unless it runs with those
// already or has no retime yet.
func (g *groupTrans) switchTimeouts(hurry bool, addr string) {
	g.retimeMu.Lock()
	defer g.retimeMu.Unlock()
	g.mu.Lock()
	f := g.retime
	if f == nil || g.closed || g.hurried == hurry || (hurry && g.followAddr != addr) {
		g.mu.Unlock()
		return
	}
	g.hurried = hurry
	g.mu.Unlock()
	f(hurry)
}
