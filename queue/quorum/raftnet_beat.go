package quorum

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Node-level beats stand in for the heartbeats of idle groups, so that
// an idle group costs a node next to nothing, as in RabbitMQ's Ra,
// which watches nodes rather than groups.
//
// Raft's leader heartbeats each follower of each group every
// steady/10 to steady/5 (raftTiming). The first heartbeat of a term
// goes to the follower; while its answer stands, the next ones are
// answered on the leader's node from it, as long as the follower's node
// acknowledged a beat sent within silence, and the groups so answered
// are listed in the next beat. An empty append that repeats the one the
// follower acknowledged last (the commit index an idle leader sends
// every CommitTimeout) is answered the same way. Every other request
// (entries, a new commit index, votes, snapshots) goes to the follower;
// so does every request while the follower's node is silent, and a
// request that fails drops the answers kept for its group.
//
// Every beat period (raftTiming.beat) a node sends a beat on each of its
// dialled streams: its own address, the groups whose answers it began
// to keep since the last beat, each bound to a small id with its name,
// the leader's term and header, and the ids of the groups whose
// heartbeats were answered from kept answers since the last beat. The
// peer hands each listed group's replica a heartbeat (through raft's
// heartbeat handler, as one from the network), at most one per
// raftTiming.inject, if the replica accepted that leader at that term;
// it acknowledges the beat with the ids of the groups that did not take
// theirs, whose kept answers the leader's node then drops.
//
// A node whose beats stop for silence, or whose stream breaks, is
// silent, and a node that beats but leaves a group it led out of its
// beats for unlisted has lost that group's leader: the followers here
// stand (failover.go). A replica gets its steady timeouts back once it
// hears from a leader or leads. A leader whose followers' nodes fall
// silent gets no more kept answers, so its lease runs out as it would
// without beats. A kept answer gives hashicorp/raft nothing but a time
// of contact: it counts a follower's match only from an answered append
// that carried entries, which always reaches the follower
// (TestKeptAnswersNeverCommitFalsely), so Raft's safety does not rest on
// any of this.

// maxBeatGroups bounds the group ids on one stream.
const maxBeatGroups = 1 << 22

// appendKey is what an empty append repeats: its term, previous entry
// and commit index.
type appendKey struct{ term, prev, prevTerm, commit uint64 }

// beatSent is when a beat left, so that its acknowledgement tells how
// recent the peer's last sign of life is.
type beatSent struct {
	seq uint64
	at  time.Time
}

// beatOut is the leader side of a dialled stream: the answers kept per
// group and what the next beat lists. Its mu is taken before the
// stream's.
type beatOut struct {
	groups map[string]*beatOutGroup // by group name
	byID   []*beatOutGroup          // the groups bound to an id, by id-1
	binds  []uint32                 // ids bound since the last beat
	heard  []uint32                 // ids answered from kept answers since the last beat
	seq    uint64
	sent   [8]beatSent
	alive  time.Time // when the newest acknowledged beat was sent
}

// beatOutGroup is one group's kept answers on a stream.
type beatOutGroup struct {
	name      string
	id        uint32 // 0 until its first heartbeat's answer is kept
	term      uint64
	hdr       raft.RPCHeader
	hb        raft.AppendEntriesResponse
	hasHB     bool
	commit    appendKey
	commitAns raft.AppendEntriesResponse
	hasCommit bool
	listed    bool
}

// beatIn is the follower side of an accepted stream: the peer's groups
// by id, and when it last beat.
type beatIn struct {
	binds []beatInGroup // by id-1; only the stream's reader uses them
	heard []uint64      // scratch for decoding a beat
	drop  []uint64      // scratch for its acknowledgement

	scanned time.Time // when binds were last looked through for stale groups
	named   bool      // addr is known

	// Guarded by the stream's beatMu.
	addr   string // the peer's address, from its beats
	last   time.Time
	silent bool
}

// beatInGroup is a peer's group on an accepted stream.
type beatInGroup struct {
	name     string
	g        *groupTrans
	term     uint64
	req      raft.AppendEntriesRequest
	resp     chan raft.RPCResponse
	injected time.Time
	listed   time.Time // when a beat last listed the group
	stood    bool      // its follower here was made to stand since
}

// keyOf returns what an empty append a repeats.
func keyOf(a *raft.AppendEntriesRequest) appendKey {
	return appendKey{a.Term, a.PrevLogEntry, a.PrevLogTerm, a.LeaderCommitIndex}
}

// copyResponse copies src into dst, reusing dst's byte slices, so that
// no two responses share an array.
func copyResponse(dst, src *raft.AppendEntriesResponse) {
	id, addr := reuse(dst.ID, src.ID), reuse(dst.Addr, src.Addr)
	*dst = *src
	dst.ID, dst.Addr = id, addr
}

// live returns the peer's stream if it has one that is not broken.
func (p *raftPeer) live() *raftConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.conn; c != nil && !c.isBroken() {
		return c
	}
	return nil
}

// answerKept answers a of group from the kept answers, if the peer
// acknowledged a beat sent within silence and a is a heartbeat at the
// term of the kept heartbeat answer, or an empty append that repeats
// the kept one; it lists a heartbeat's group in the next beat.
func (c *raftConn) answerKept(group string, a *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, hb bool, silence time.Duration) bool {
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	o := &c.beatOut
	if o.alive.IsZero() || time.Since(o.alive) > silence {
		return false
	}
	e := o.groups[group]
	if e == nil {
		return false
	}
	switch {
	case hb && e.hasHB && e.term == a.Term:
		copyResponse(resp, &e.hb)
		if !e.listed {
			e.listed = true
			o.heard = append(o.heard, e.id)
		}
		return true
	case !hb && len(a.Entries) == 0 && e.hasCommit && e.commit == keyOf(a):
		copyResponse(resp, &e.commitAns)
		return true
	}
	return false
}

// learn keeps the follower's answer to a heartbeat, or to an empty
// append, that it accepted at the leader's term, binding the group to
// an id on the stream; a failure or a refusal drops the group's kept
// answers.
func (c *raftConn) learn(group string, a *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, err error, hb bool) {
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	o := &c.beatOut
	e := o.groups[group]
	if err != nil || !resp.Success || resp.Term != a.Term {
		if e != nil {
			e.hasHB, e.hasCommit = false, false
		}
		return
	}
	if !hb && (len(a.Entries) != 0 || a.PrevLogEntry == 0) {
		return
	}
	if e == nil {
		if o.groups == nil {
			o.groups = map[string]*beatOutGroup{}
		}
		e = &beatOutGroup{name: group}
		o.groups[group] = e
	}
	if e.term != a.Term {
		e.hasHB, e.hasCommit = false, false
	}
	if hb {
		if e.id == 0 {
			if len(o.byID) >= maxBeatGroups {
				return
			}
			o.byID = append(o.byID, e)
			e.id = uint32(len(o.byID))
		}
		if !e.hasHB || e.term != a.Term {
			o.binds = append(o.binds, e.id)
		}
		e.term = a.Term
		e.hdr = raft.RPCHeader{ProtocolVersion: a.ProtocolVersion, ID: reuse(e.hdr.ID, a.ID), Addr: reuse(e.hdr.Addr, a.Addr)}
		copyResponse(&e.hb, resp)
		e.hasHB = true
		return
	}
	e.term = a.Term
	e.commit = keyOf(a)
	copyResponse(&e.commitAns, resp)
	e.hasCommit = true
}

// sendBeat queues a beat on a dialled stream, unless its outbox is full
// (what it would list waits for the next one).
func (c *raftConn) sendBeat(self string, now time.Time) {
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	o := &c.beatOut
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken || len(c.out) >= maxOutbox {
		return
	}
	o.seq++
	o.sent[o.seq%uint64(len(o.sent))] = beatSent{seq: o.seq, at: now}
	var start int
	c.out, start = appendFrameStart(c.out, kindBeat, o.seq)
	c.out = appendString(c.out, self)
	c.out = binary.AppendUvarint(c.out, uint64(len(o.binds)))
	for _, id := range o.binds {
		e := o.byID[id-1]
		c.out = binary.AppendUvarint(c.out, uint64(id))
		c.out = appendString(c.out, e.name)
		c.out = binary.AppendUvarint(c.out, e.term)
		c.out = appendHeader(c.out, e.hdr)
	}
	c.out = binary.AppendUvarint(c.out, uint64(len(o.heard)))
	for _, id := range o.heard {
		c.out = binary.AppendUvarint(c.out, uint64(id))
		o.byID[id-1].listed = false
	}
	c.out = finishFrame(c.out, start)
	o.binds, o.heard = o.binds[:0], o.heard[:0]
	c.signal(false)
}

// beatAcked takes a peer's acknowledgement of beat seq: the peer lives
// as of when the beat left, and the groups it lists keep no answers.
func (c *raftConn) beatAcked(seq uint64, body []byte) error {
	w := newWire(body)
	n := w.Uvarint()
	if n > uint64(len(w.B)) {
		return fmt.Errorf("%w: %d ids in a beat's acknowledgement", errBadRaftFrame, n)
	}
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	o := &c.beatOut
	for range n {
		id := w.Uvarint()
		if w.Err == nil && id != 0 && id <= uint64(len(o.byID)) {
			e := o.byID[id-1]
			e.hasHB, e.hasCommit = false, false
		}
	}
	if err := w.end(); err != nil {
		return err
	}
	if s := o.sent[seq%uint64(len(o.sent))]; s.seq == seq && s.at.After(o.alive) {
		o.alive = s.at
	}
	return nil
}

// beat takes a peer's beat on an accepted stream: it binds the groups
// it names, hands the listed ones a heartbeat and acknowledges it.
func (c *raftConn) beat(seq uint64, body []byte) error {
	in := &c.beatIn
	w := newWire(body)
	addr := w.field()
	n := w.Uvarint()
	if n > uint64(len(w.B)) || n > maxBeatGroups {
		return fmt.Errorf("%w: %d groups bound in a beat", errBadRaftFrame, n)
	}
	for range n {
		id, name, term, hdr := w.Uvarint(), w.field(), w.Uvarint(), w.header()
		if w.Err != nil {
			return w.Err
		}
		if err := c.bind(id, name, term, hdr); err != nil {
			return err
		}
	}
	m := w.Uvarint()
	if m > uint64(len(w.B)) || m > maxBeatGroups {
		return fmt.Errorf("%w: %d groups listed in a beat", errBadRaftFrame, m)
	}
	in.heard = in.heard[:0]
	for range m {
		in.heard = append(in.heard, w.Uvarint())
	}
	if err := w.end(); err != nil {
		return err
	}
	now := time.Now()
	c.beatMu.Lock()
	if in.addr != string(addr) {
		in.addr = string(addr)
	}
	in.last, in.silent, in.named = now, false, true
	c.beatMu.Unlock()
	in.drop = in.drop[:0]
	for _, id := range in.heard {
		if !c.inject(id, now) {
			in.drop = append(in.drop, id)
		}
	}
	c.ackBeat(seq, in.drop)
	if now.Sub(in.scanned) >= c.run.timing.unlisted/4 {
		in.scanned = now
		c.standStale(string(addr), now)
	}
	return nil
}

// standStale has the followers here of the peer's groups whose leaders
// stopped heartbeating stand for election: the peer beats, but has not
// listed the group for unlisted, nor has its leader sent an append
// since. A leader that stepped down or stopped while its node lives on
// is so replaced at once rather than after the followers' steady
// timeout.
func (c *raftConn) standStale(addr string, now time.Time) {
	var stale []*groupTrans
	for i := range c.beatIn.binds {
		b := &c.beatIn.binds[i]
		if b.stood || b.g == nil || now.Sub(b.listed) <= c.run.timing.unlisted {
			continue
		}
		if b.g.quietSince(addr, b.term, now.Add(-c.run.timing.unlisted)) {
			b.stood = true
			stale = append(stale, b.g)
		}
	}
	if len(stale) > 0 {
		c.run.stand(addr, stale)
	}
}

// namePeer learns an accepted stream's peer address from the header of
// its first request, so that a stream that breaks before its first beat
// still tells whose groups lost their leader.
func (c *raftConn) namePeer(cmd any) {
	h, ok := cmd.(raft.WithRPCHeader)
	if !ok || len(h.GetRPCHeader().Addr) == 0 {
		return
	}
	c.beatMu.Lock()
	c.beatIn.addr, c.beatIn.named = string(h.GetRPCHeader().Addr), true
	if c.beatIn.last.IsZero() {
		// A request is a sign of life: silence counts from it.
		c.beatIn.last = time.Now()
	}
	c.beatMu.Unlock()
}

// bind records group id of a peer's beat.
func (c *raftConn) bind(id uint64, name []byte, term uint64, hdr raft.RPCHeader) error {
	in := &c.beatIn
	switch {
	case id == 0 || id > uint64(len(in.binds))+1 || id > maxBeatGroups:
		return fmt.Errorf("%w: group id %d after %d", errBadRaftFrame, id, len(in.binds))
	case id == uint64(len(in.binds))+1:
		in.binds = append(in.binds, beatInGroup{resp: make(chan raft.RPCResponse, 1)})
	}
	b := &in.binds[id-1]
	if b.name != string(name) {
		b.name, b.g = string(name), nil
	}
	b.term = term
	b.req = raft.AppendEntriesRequest{Term: term, RPCHeader: raft.RPCHeader{ProtocolVersion: hdr.ProtocolVersion,
		ID: reuse(b.req.ID, hdr.ID), Addr: reuse(b.req.Addr, hdr.Addr)}}
	b.injected, b.listed, b.stood = time.Time{}, time.Now(), false
	return nil
}

// inject hands group id's replica a heartbeat from its leader, unless
// it had one within inject; it reports false if the replica is not
// here, or does not follow that leader at that term, or refused it.
func (c *raftConn) inject(id uint64, now time.Time) bool {
	in := &c.beatIn
	if id == 0 || id > uint64(len(in.binds)) {
		return false
	}
	b := &in.binds[id-1]
	b.listed, b.stood = now, false
	if now.Sub(b.injected) < c.run.timing.inject {
		return true
	}
	if b.g == nil || b.g.isClosed() {
		if b.g = c.run.rn.groupNamed(b.name); b.g == nil {
			return false
		}
	}
	if !b.g.injectHeartbeat(&b.req, b.resp) {
		return false
	}
	b.injected = now
	return true
}

// ackBeat queues the acknowledgement of beat seq.
func (c *raftConn) ackBeat(seq uint64, drop []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return
	}
	var start int
	c.out, start = appendFrameStart(c.out, kindBeatAck, seq)
	c.out = binary.AppendUvarint(c.out, uint64(len(drop)))
	for _, id := range drop {
		c.out = binary.AppendUvarint(c.out, id)
	}
	c.out = finishFrame(c.out, start)
	c.signal(false)
}

// lapsed reports the address of an accepted stream's peer the first time
// it has not beaten for silence (or, with broken, once its stream broke):
// the peer fell silent.
func (c *raftConn) lapsed(now time.Time, silence time.Duration, broken bool) string {
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	in := &c.beatIn
	if in.silent || in.addr == "" || (!broken && now.Sub(in.last) <= silence) {
		return ""
	}
	in.silent = true
	return in.addr
}

// beating reports whether an accepted stream's peer is addr and beat
// within silence.
func (c *raftConn) beating(addr string, now time.Time, silence time.Duration) bool {
	if c.isBroken() {
		return false
	}
	c.beatMu.Lock()
	defer c.beatMu.Unlock()
	return !c.beatIn.silent && c.beatIn.addr == addr && now.Sub(c.beatIn.last) <= silence
}

// isClosed reports whether the group's transport is closed.
func (g *groupTrans) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

// injectHeartbeat hands the replica req, a heartbeat, through raft's
// heartbeat handler if the replica accepted that leader at that term,
// and reports whether it took it; a replica that takes it gets its
// steady timeouts back.
func (g *groupTrans) injectHeartbeat(req *raft.AppendEntriesRequest, respCh chan raft.RPCResponse) bool {
	g.mu.Lock()
	if g.wake != nil {
		// A resting replica runs no timer that a heartbeat would put
		// off: it takes the heartbeat as it is, and its leader's node
		// goes on answering for it.
		g.mu.Unlock()
		return true
	}
	hb := g.heartbeat
	ok := hb != nil && g.followTerm == req.Term && g.followAddr == string(req.Addr)
	g.mu.Unlock()
	if !ok || g.begin() != "" {
		return false
	}
	defer g.end()
	hb(raft.RPC{Command: req, RespChan: respCh})
	select {
	case r := <-respCh:
		resp, _ := r.Response.(*raft.AppendEntriesResponse)
		ok = r.Error == nil && resp != nil && resp.Success
	default:
		// A replica shutting down answers nothing.
		ok = false
	}
	if ok {
		g.calm()
	}
	return ok
}

// beatLoop beats on every dialled stream and watches the peers' beats
// on the accepted ones, every beat period, until the run stops.
func (run *raftRun) beatLoop() {
	defer run.wg.Done()
	t := time.NewTicker(run.timing.beat)
	defer t.Stop()
	var conns []*raftConn
	for {
		select {
		case <-run.ctx.Done():
			return
		case now := <-t.C:
			conns = run.liveConns(conns[:0])
			self := run.net.Addr()
			for _, c := range conns {
				if c.peer != nil {
					c.sendBeat(self, now)
				} else if addr := c.lapsed(now, run.timing.silence, false); addr != "" {
					run.silent(addr)
				}
			}
			clear(conns)
		}
	}
}

// beatingFrom reports whether a stream from the peer at addr beats.
func (run *raftRun) beatingFrom(addr string) bool {
	now := time.Now()
	for _, c := range run.liveConns(nil) {
		if c.peer == nil && c.beating(addr, now, run.timing.silence) {
			return true
		}
	}
	return false
}

// liveConns appends the run's streams to buf.
func (run *raftRun) liveConns(buf []*raftConn) []*raftConn {
	run.mu.Lock()
	defer run.mu.Unlock()
	for c := range run.conns {
		buf = append(buf, c)
	}
	return buf
}

// askedSince reports whether a candidate asked the replica for its vote
// since t.
func (g *groupTrans) askedSince(t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return !g.asked.Before(t)
}

// quietSince reports whether the replica follows the leader at addr at
// term and accepted no append from it since t.
func (g *groupTrans) quietSince(addr string, term uint64, t time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.followAddr == addr && g.followTerm == term && g.heard.Before(t)
}

// following reports whether the replica follows a leader at addr.
func (g *groupTrans) following(addr string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.followAddr == addr
}
