package quorum

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// leaderWait is how long a proposal waits for its group to have a leader
// before it fails.
const leaderWait = 10 * time.Second

// maxForwarded is how many entries a node keeps in flight to a leader on
// another node. Raft's leader takes one entry per round (a log write), so
// entries sent faster would only queue on the link; holding the next
// batch back until an answer comes lets it grow, as a local leader's
// blocking raft.Apply does.
const maxForwarded = 2

// forwardTimeout is how long a node waits for a leader on another node to
// answer a forwarded entry before it retries it.
const forwardTimeout = 3 * time.Second

// retryEvery is how often the proposer retries what waits for a leader.
const retryEvery = 50 * time.Millisecond

// settleLinger is how long a leader's proposer holds back settles when
// they are all it has to send (see lingerFor).
const settleLinger = 300 * time.Microsecond

// request is one command to commit (with its message, for an Enqueue) and
// what to do with the answer. done runs on the proposer's waiter goroutine
// and returns the actions to post to owner (nil owner: done posts
// nothing).
type request struct {
	cmd   fifo.Command
	msg   *queue.Message
	owner queue.SessionOwner
	done  func(applied) []queue.Action
	since time.Time
	// order is the request's place in the order of submission (0: a new
	// leader's commands, which go before everything): whatever is sent
	// again is sent in this order.
	order uint64
}

// errNoLeader fails a proposal whose group found no leader in time.
var errNoLeader = errors.New("quorum queue has no leader")

// proposer commits a queue's commands through its Raft group without ever
// blocking the caller: submit appends to a mailbox; the loop goroutine
// takes what is pending, encodes it as one entry and hands it to the
// leader: raft.Apply when this replica leads, which returns once Raft's
// leader loop took it, so the next batch gathers while Raft writes and
// replicates this one (group commit); otherwise over the link to the
// leader's node. The waiter goroutine waits for the answers in order and
// runs each request's done. A batch whose leader was lost before it
// answered is proposed again, ahead of what came since: every command is
// safe to repeat (an enqueue is deduplicated by its publisher's sequence,
// settles of settled ids are ignored). An enqueue answered OutOfSequence
// (it overtook an earlier one of its publisher) is proposed again with
// them, after the earlier ones, unless none is held any more (complete).
type proposer struct {
	q *Queue

	mu       sync.Mutex
	retry    []request // to send again, by order, sent before pending
	pending  []request
	back     []request   // came back from batches in flight, by order: join retry once all are answered
	flying   [][]request // the batches in flight, oldest first
	orders   uint64      // the last order handed out
	wake     chan struct{}
	stopped  bool
	inflight int           // batches handed to a leader and not answered
	target   string        // where they went: "" this replica, else the leader's address
	failed   bool          // one of them failed: nothing new goes until all are answered
	linger   time.Duration // settleLinger; tests make it longer

	futures *inflightQueue // the running loop's and waiter's
	stop    chan struct{}
	wg      sync.WaitGroup
	// running is set while the loop and the waiter run: always, but
	// while the queue's replica rests (park); quit, made for each run,
	// is closed to park them, and parking is set until they ended.
	running, parking bool
	quit             chan struct{}
	slots            chan struct{} // one per entry forwarded and not yet answered

	// local holds, by the address of an entry's data, the commands of the
	// entries this replica handed to Raft as leader, so that its fsm
	// applies them without decoding the entry again (takeLocal).
	lmu   sync.Mutex
	local map[*byte][]decoded
}

// inflight is a batch of requests handed to the leader as one entry:
// f when this replica leads, remote when forwarded.
type inflight struct {
	f      raft.ApplyFuture
	data   *byte // f's entry data, a key of proposer.local
	remote <-chan remoteResult
	reqs   []request
}

// takeLocal returns (and forgets) the commands of the entry whose data is
// data, if this replica proposed it as leader: the leader's fsm applies
// the messages its channels published rather than decoded copies.
func (p *proposer) takeLocal(data []byte) ([]decoded, bool) {
	if len(data) == 0 {
		return nil, false
	}
	key := unsafe.SliceData(data)
	p.lmu.Lock()
	defer p.lmu.Unlock()
	ds, ok := p.local[key]
	if ok {
		delete(p.local, key)
	}
	return ds, ok
}

// maxInflight bounds the batches handed to Raft (or a link) whose answer
// the waiter has not taken yet; the loop waits for room beyond it
// (inflight.go). Raft itself takes at most MaxAppendEntries entries per
// write.
const maxInflight = 256

func newProposer(q *Queue) *proposer {
	p := &proposer{q: q, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), local: map[*byte][]decoded{}, slots: make(chan struct{}, maxForwarded),
		linger: settleLinger}
	p.startLocked()
	return p
}

// startLocked runs the loop and the waiter; p.mu is held, or p is new.
func (p *proposer) startLocked() {
	p.running = true
	p.quit = make(chan struct{})
	p.futures = newInflightQueue()
	p.wg.Add(2)
	go p.loop(p.quit)
	go p.wait()
}

// park ends the loop and the waiter of a proposer that holds nothing,
// whose replica rests (rest.go), so that a resting queue runs no
// goroutine; submit and unpark start them again. It reports whether it
// parked them.
func (p *proposer) park() bool {
	p.mu.Lock()
	if !p.running || !p.idleLocked() || p.q.resting.Load() == nil {
		p.mu.Unlock()
		return false
	}
	p.running, p.parking = false, true
	close(p.quit)
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	p.parking = false
	if !p.stopped && (len(p.pending) > 0 || p.q.resting.Load() == nil) {
		// Submitted while they ended, or the replica woke.
		p.startLocked()
	} else {
		p.futures = nil // the next start makes another
	}
	p.mu.Unlock()
	return true
}

// unpark starts the loop and the waiter again if they are parked.
func (p *proposer) unpark() {
	p.mu.Lock()
	if !p.running && !p.parking && !p.stopped {
		p.startLocked()
	}
	p.mu.Unlock()
}

// submit queues r. It never blocks; after close, r fails at once.
func (p *proposer) submit(r request) {
	r.since = time.Now()
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		p.fail(r, raft.ErrRaftShutdown)
		return
	}
	p.orders++
	r.order = p.orders
	p.pending = append(p.pending, r)
	if !p.running && !p.parking {
		p.startLocked()
	}
	p.mu.Unlock()
	p.poke()
}

// pokeSoon wakes the loop to retry: at once when a new leader is known,
// else after retryEvery, so that a leader's node that went away is not
// dialled in a tight loop while the group elects another.
func (p *proposer) pokeSoon(now bool) {
	if now {
		p.poke()
		return
	}
	time.AfterFunc(retryEvery, p.poke)
}

// poke wakes the loop.
func (p *proposer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// loop hands what is pending to the leader.
func (p *proposer) loop(quit <-chan struct{}) {
	defer p.wg.Done()
	defer p.futures.close()
	var retry <-chan time.Time  // armed only while something waits for a leader
	var linger <-chan time.Time // armed while settles are held back
	for {
		select {
		case <-p.stop:
			return
		case <-quit:
			return
		case <-p.wake:
		case <-retry:
		case <-linger:
		case leader := <-p.leaderCh():
			if leader {
				p.leaderElected()
			}
		case <-p.q.observed:
			// A new leader is known: what waits goes to it now.
			p.q.followLeader()
		}
		linger = nil
		if d := p.lingerFor(); d > 0 {
			linger = time.After(d)
			continue
		}
		if !p.flush() {
			return
		}
		retry = nil
		if p.waiting() {
			retry = time.After(retryEvery)
		}
	}
}

// leaderCh returns the channel on which the replica's Raft tells that it
// gained (true) or lost (false) leadership, nil while there is no
// replica (startRaft pokes the loop once one runs). Raft never waits to
// hand it over, only overwrites what was not taken: a Config.NotifyCh,
// which a leader's loop blocks on as it steps down, would deadlock that
// Raft with this loop waiting in raft.Apply for the same leader loop to
// take its entry, and with it the group's elections and the queue's Close.
func (p *proposer) leaderCh() <-chan bool {
	if r := p.q.raft(); r != nil {
		return r.LeaderCh()
	}
	return nil
}

// lingerFor returns how much longer to hold back what is pending: while
// this replica leads, nothing is in flight, the queue holds no ready
// message and only settles wait, for up to settleLinger after the first
// of them. A consumer's ack is then usually followed by the next publish
// (a request and its reply, a publisher waiting for its message to be
// consumed), which goes in the same entry rather than wait behind the
// settle's own log write and replication: one round instead of two
// (three-node confirm p50 one in flight 3.2 → 2.0 ms). With messages
// ready the settle goes at once, as the consumer it frees takes the next
// one; the settle's effect is only later by as much, and nothing waits
// for an ack's answer.
func (p *proposer) lingerFor() time.Duration {
	if !p.q.leading() {
		return 0
	}
	p.mu.Lock()
	held := p.inflight == 0 && len(p.retry) == 0 && len(p.back) == 0 && len(p.pending) > 0
	for _, req := range p.pending {
		if _, ok := req.cmd.(fifo.Settle); !ok {
			held = false
			break
		}
	}
	var d time.Duration
	if held {
		d = p.linger - time.Since(p.pending[0].since)
	}
	p.mu.Unlock()
	if d <= 0 || p.q.fsm.counts().Ready > 0 {
		return 0
	}
	return d
}

// waiting reports whether requests wait for a leader or a retry.
func (p *proposer) waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.retry)+len(p.pending)+len(p.back) > 0
}

// takeFor removes the next batch for target, if a batch may go there now
// (see flush), and records it in flight: retries first, then pending, up
// to maxBatch commands or maxBatchBytes of bodies. The decision and the
// taking are one step under mu, so a batch failing meanwhile cannot be
// overtaken.
func (p *proposer) takeFor(target string) []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inflight > 0 && (p.target != target || p.failed) {
		return nil
	}
	var batch []request
	size := 0
	for _, src := range []*[]request{&p.retry, &p.pending} {
		n := 0
		for n < len(*src) && len(batch) < maxBatch && size < maxBatchBytes {
			if m := (*src)[n].msg; m != nil {
				size += len(m.Body)
			}
			batch = append(batch, (*src)[n])
			n++
		}
		*src = slices.Delete(*src, 0, n)
	}
	if len(batch) > 0 {
		p.inflight++
		p.target = target
		p.flying = append(p.flying, batch)
	}
	return batch
}

// flush hands everything pending to the leader, one entry per batch. It
// returns false once the proposer stops.
//
// Batches go to one leader at a time, in order: while any is in flight to
// one target (this replica, or a leader's address) nothing goes to
// another, and after a batch failed nothing new goes anywhere until every
// batch in flight is answered and the failed ones are sent again first.
// Raft keeps a leader's entries in order (a later one committed means the
// earlier ones are), so publishes reach the state machine in order, but
// for a batch refused by a node that took the next once it led: the
// state machine then answers the later enqueues OutOfSequence rather than
// have the earlier ones judged duplicates of them.
func (p *proposer) flush() bool {
	var buf []byte
	for {
		r, addr := p.q.raft(), ""
		if r == nil && p.waiting() && p.q.wakeForCommand() {
			r = p.q.raft()
		}
		self := r != nil && r.State() == raft.Leader
		if !self {
			if addr = p.q.leaderAddr(); addr == "" || p.q.t.links == nil || !p.q.t.links.dialable(addr) {
				// No leader known, or a dial to it failed a moment
				// ago: the loop tries again after retryEvery.
				p.expire()
				return true
			}
		}
		if !self {
			select {
			case p.slots <- struct{}{}:
			default:
				// Enough in flight: pending commands wait, and gather
				// into one batch, until an answer frees a slot (complete
				// pokes the loop).
				return true
			}
		}
		batch := p.takeFor(addr) // "" is this replica
		if len(batch) == 0 {
			if !self {
				<-p.slots
			}
			return true
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(batch)))
		for _, req := range batch {
			buf = appendCommand(buf, req.cmd, req.msg)
		}
		in := inflight{reqs: batch}
		if self {
			data := slices.Clone(buf)
			ds := make([]decoded, len(batch))
			for i, req := range batch {
				ds[i] = decoded{cmd: req.cmd, msg: req.msg}
			}
			in.data = unsafe.SliceData(data)
			p.lmu.Lock()
			p.local[in.data] = ds
			p.lmu.Unlock()
			in.f = r.Apply(data, 0)
		} else {
			in.remote = p.q.t.links.get(addr).forward(p.q.group, slices.Clone(buf))
		}
		if !p.futures.push(in, p.stop) {
			return false
		}
	}
}

// answered records that an in-flight batch was answered; a failed one
// (not taken by the leader) is held back, in the same step, so that
// nothing taken meanwhile overtakes it, and once every batch in flight is
// answered what came back joins the retries in the order of submission:
// retries not sent yet (the rest of a long retry, a new leader's
// commands) came after some of it, or before.
func (p *proposer) answered(failed []request) (resend bool) {
	p.mu.Lock()
	p.inflight--
	if len(p.flying) > 0 {
		p.flying[0] = nil
		p.flying = p.flying[1:]
	}
	if failed != nil {
		p.failed = true
		if !p.stopped {
			p.back = append(p.back, failed...)
			failed = nil
		}
	}
	if p.inflight == 0 {
		p.failed = false
		if len(p.back) > 0 {
			p.retry = mergeByOrder(p.back, p.retry)
			p.back = nil
			resend = true
		}
	}
	p.mu.Unlock()
	for _, r := range failed {
		p.fail(r, raft.ErrRaftShutdown)
	}
	return resend
}

// mergeByOrder returns the requests of a and b, each sorted by order, in
// one list sorted by order (a's first among equals).
func mergeByOrder(a, b []request) []request {
	out := make([]request, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if b[0].order < a[0].order {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// expire fails what waited too long for a leader.
func (p *proposer) expire() {
	p.mu.Lock()
	var late []request
	for _, src := range []*[]request{&p.retry, &p.pending} {
		keep := (*src)[:0]
		for _, r := range *src {
			if time.Since(r.since) > leaderWait {
				late = append(late, r)
			} else {
				keep = append(keep, r)
			}
		}
		clear((*src)[len(keep):])
		*src = keep
	}
	p.mu.Unlock()
	for _, r := range late {
		p.fail(r, errNoLeader)
	}
}

// leaderElected proposes fifo.LeaderElected ahead of everything pending
// (its effects re-issue what the old leader may not have carried out),
// then a NodeDown for each node known to be down; once LeaderElected is
// applied, the unreachable nodes of the queue's consumers
// (unreachable.go).
func (p *proposer) leaderElected() {
	reach := func(a applied) []queue.Action {
		if a.err == nil && p.q.leading() {
			p.q.reachConsumers()
		}
		return nil
	}
	reqs := []request{{cmd: fifo.LeaderElected{Node: p.q.t.cfg.Node, Now: now()}, done: reach, since: time.Now()}}
	for _, node := range p.q.t.downNodes() {
		reqs = append(reqs, request{cmd: fifo.NodeDown{Node: node, Now: now()}, since: time.Now()})
	}
	p.mu.Lock()
	p.retry = append(reqs, p.retry...)
	p.mu.Unlock()
	p.q.syncMembersSoon() // the new leader reconciles the group's members (members.go)
}

// wait runs each request's done once the leader answered it, in order,
// posting the actions of what completed together in one batch per owner.
func (p *proposer) wait() {
	defer p.wg.Done()
	var posts []post
	for {
		in, ok := p.futures.pop(true)
		if !ok {
			return
		}
		posts = p.complete(in, posts[:0])
		for len(posts) < 256 {
			in, ok := p.futures.pop(false)
			if !ok {
				break
			}
			posts = p.complete(in, posts)
		}
		for _, ps := range posts {
			ps.owner.Post(ps.acts)
		}
	}
}

// post is the actions for one owner.
type post struct {
	owner queue.SessionOwner
	acts  []queue.Action
}

// complete waits for in and adds the actions its requests' done return
// to posts. A batch the leader did not take (leadership lost, a link
// down, sent to a node that does not lead) is retried.
func (p *proposer) complete(in inflight, posts []post) []post {
	var res remoteResult
	if in.f != nil {
		res = futureResult(in.f)
		// An entry never applied here (leadership lost) leaves its
		// commands behind.
		p.lmu.Lock()
		delete(p.local, in.data)
		p.lmu.Unlock()
	} else {
		// A leader cut off (not killed) may never answer: after
		// forwardTimeout the batch is retried, with whoever leads then.
		timer := time.NewTimer(forwardTimeout)
		select {
		case res = <-in.remote:
		case <-timer.C:
			res.err = errLinkDown
		case <-p.stop:
			res.err = raft.ErrRaftShutdown
		}
		timer.Stop()
		<-p.slots
	}
	var nl notLeaderError
	switch {
	case res.err == nil:
	case errors.As(res.err, &nl):
		p.q.setLeaderHint(nl.hint)
		p.answered(in.reqs)
		p.pokeSoon(nl.hint != "")
		return posts
	case errors.Is(res.err, raft.ErrNotLeader), errors.Is(res.err, raft.ErrLeadershipLost),
		errors.Is(res.err, raft.ErrLeadershipTransferInProgress), errors.Is(res.err, errLinkDown),
		// The replica was removed (this node is no longer a member) or
		// stopped, the queue still serving: ask whoever leads.
		errors.Is(res.err, raft.ErrRaftShutdown) && !p.isStopped():
		p.q.setLeaderHint("")
		p.answered(in.reqs)
		p.pokeSoon(false)
		return posts
	}
	if in.f == nil {
		// A forwarding slot is free: what waits for one goes now (a
		// batch to retry, above, waits for retryEvery unless a new
		// leader is known, so that a node that is gone is not dialled
		// in a tight loop).
		p.poke()
	}
	var again []request
	var low map[queue.Publisher]uint64
	refused := 0
	for i, req := range in.reqs {
		a := applied{err: res.err}
		if res.err == nil {
			if i < len(res.answers) {
				a = res.answers[i]
			} else {
				a.err = errors.New("quorum queue entry not applied")
			}
		}
		if a.err == nil && a.res.Outcome == fifo.OutOfSequence {
			if low == nil {
				low = p.lowestHeld()
			}
			if waitsForEarlier(req, low) {
				again = append(again, req)
				continue
			}
			refused++
		}
		if req.done != nil {
			posts = addPost(posts, req.owner, req.done(a))
		}
	}
	if refused > 0 {
		p.q.log.Debug("quorum queue enqueues out of sequence with nothing earlier to wait for: refused",
			zap.String("queue", p.q.decl.Name), zap.Int("enqueues", refused))
	}
	if p.answered(again) {
		p.poke()
	}
	return posts
}

// lowestHeld returns, for each publisher whose Contiguous enqueues the
// proposer holds (to send, to send again, or in flight, but for the
// batch being answered), the lowest number among them.
func (p *proposer) lowestHeld() map[queue.Publisher]uint64 {
	low := map[queue.Publisher]uint64{}
	note := func(rs []request) {
		for _, r := range rs {
			if e, ok := r.cmd.(fifo.Enqueue); ok && e.Contiguous {
				if l, seen := low[e.From]; !seen || e.Seq < l {
					low[e.From] = e.Seq
				}
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	note(p.retry)
	note(p.back)
	note(p.pending)
	for _, b := range p.flying[min(1, len(p.flying)):] {
		note(b)
	}
	return low
}

// waitsForEarlier reports whether r, an enqueue answered OutOfSequence,
// is to be sent again: an earlier number of its publisher is still held
// (low, from lowestHeld), which, once enqueued, lets r follow. When none
// is (it was refused, failed, or its publisher forgotten), sending r again
// could never succeed.
func waitsForEarlier(r request, low map[queue.Publisher]uint64) bool {
	e, ok := r.cmd.(fifo.Enqueue)
	if !ok {
		return false
	}
	l, held := low[e.From]
	return held && l < e.Seq
}

// addPost adds acts for owner to posts.
func addPost(posts []post, owner queue.SessionOwner, acts []queue.Action) []post {
	if len(acts) == 0 || owner == nil {
		return posts
	}
	for i := range posts {
		if posts[i].owner == owner {
			posts[i].acts = append(posts[i].acts, acts...)
			return posts
		}
	}
	return append(posts, post{owner: owner, acts: acts})
}

// fail answers r with err at once.
func (p *proposer) fail(r request, err error) {
	if r.done == nil {
		return
	}
	if acts := r.done(applied{err: err}); len(acts) > 0 && r.owner != nil {
		r.owner.Post(acts)
	}
}

// close stops the proposer, failing what is pending and what a link
// still owes (the waiter stops waiting for links at once); it waits for
// what Raft holds while Raft still runs, since Raft may drop, without an
// answer, a committed entry it had not applied when it shuts down.
func (p *proposer) close() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	rest := append(append(p.back, p.retry...), p.pending...)
	p.retry, p.pending, p.back = nil, nil, nil
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	for _, r := range rest {
		p.fail(r, raft.ErrRaftShutdown)
	}
}

// isStopped reports whether the proposer was closed.
func (p *proposer) isStopped() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stopped
}
