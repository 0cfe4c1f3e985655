package quorum

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/warrenmq/warren/queue"
	"github.com/warrenmq/warren/queue/quorum/fifo"
)

// leaderWait is how long a proposal waits for its group to have a leader
// before it fails.
const leaderWait = 10 * time.Second

// retryEvery is how often the proposer retries what waits for a leader.
const retryEvery = 50 * time.Millisecond

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
// settles of settled ids are ignored).
type proposer struct {
	q *Queue

	mu      sync.Mutex
	retry   []request // failed batches, oldest first, sent before pending
	pending []request
	wake    chan struct{}
	stopped bool
	// Batches reach the leader in order: one goes only while every
	// batch in flight went to the same place and none came back to be
	// retried, since a later Enqueue applied before an earlier one's
	// retry would have that one judged Duplicate (take, answered).
	sent   int    // batches in flight
	to     string // where they went: a peer's address, "" this replica
	behind bool   // one in flight is to be retried: wait until all are answered

	futures chan inflight
	stop    chan struct{}
	wg      sync.WaitGroup
}

// inflight is a batch of requests handed to the leader as one entry:
// f when this replica leads, remote when forwarded.
type inflight struct {
	f      raft.ApplyFuture
	remote <-chan remoteResult
	reqs   []request
}

func newProposer(q *Queue) *proposer {
	p := &proposer{q: q, wake: make(chan struct{}, 1), futures: make(chan inflight, 4096),
		stop: make(chan struct{})}
	p.wg.Add(2)
	go p.loop()
	go p.wait()
	return p
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
	p.pending = append(p.pending, r)
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
func (p *proposer) loop() {
	defer p.wg.Done()
	defer close(p.futures)
	var retry <-chan time.Time // armed only while something waits for a leader
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-retry:
		case leader := <-p.q.notify:
			if leader {
				p.leaderElected()
			}
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

// waiting reports whether requests wait to be sent: retries, or pending
// ones held back (no leader known, or batches in flight to be answered
// first).
func (p *proposer) waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.retry) > 0 || len(p.pending) > 0
}

// take removes the next batch for addr ("" this replica) and counts it
// in flight: retries first, then pending; none while batches in flight
// went elsewhere or one of them is to be retried. Checking and taking
// under one lock keeps a batch from overtaking one that is being put
// back for a retry.
func (p *proposer) take(addr string) []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.sent > 0 && (p.behind || p.to != addr) {
		return nil
	}
	src := &p.retry
	if len(p.retry) == 0 {
		src = &p.pending
	}
	n, size := 0, 0
	for n < len(*src) && n < maxBatch && size < maxBatchBytes {
		if m := (*src)[n].msg; m != nil {
			size += len(m.Body)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	batch := slices.Clone((*src)[:n])
	*src = slices.Delete(*src, 0, n)
	p.sent++
	p.to = addr
	return batch
}

// flush hands everything pending to the leader, one entry per batch. It
// returns false once the proposer stops.
func (p *proposer) flush() bool {
	var buf []byte
	for {
		r, addr := p.route()
		if r == nil && addr == "" {
			p.expire()
			return true
		}
		batch := p.take(addr)
		if len(batch) == 0 {
			p.expire()
			return true
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(batch)))
		for _, req := range batch {
			buf = appendCommand(buf, req.cmd, req.msg)
		}
		in := inflight{reqs: batch}
		if r != nil {
			in.f = r.Apply(slices.Clone(buf), 0)
		} else {
			in.remote = p.q.t.links.get(addr).forward(p.q.group, slices.Clone(buf))
		}
		select {
		case p.futures <- in:
		case <-p.stop:
			return false
		}
	}
}

// expire fails the requests that waited longer than leaderWait to be
// sent.
func (p *proposer) expire() {
	var old []request
	keep := func(rs []request) []request {
		return slices.DeleteFunc(rs, func(r request) bool {
			if time.Since(r.since) > leaderWait {
				old = append(old, r)
				return true
			}
			return false
		})
	}
	p.mu.Lock()
	p.retry, p.pending = keep(p.retry), keep(p.pending)
	p.mu.Unlock()
	for _, r := range old {
		p.fail(r, errNoLeader)
	}
}

// route returns where the next batch goes: this replica's Raft when it
// leads, else the address of the leader's node (as far as this node
// knows), else neither.
func (p *proposer) route() (*raft.Raft, string) {
	if r := p.q.raft(); r != nil && r.State() == raft.Leader {
		return r, ""
	}
	if p.q.t.links == nil {
		return nil, ""
	}
	return nil, p.q.leaderAddr()
}

// answered counts a batch in flight answered, retried or not; once the
// last batch in flight is answered, the retries may go, in order: at once
// when that batch was applied, else when its retry is due (pokeSoon).
func (p *proposer) answered(retried bool) {
	p.mu.Lock()
	p.sent--
	p.behind = p.behind || retried
	resume := p.sent == 0 && p.behind
	if resume {
		p.behind = false
	}
	p.mu.Unlock()
	if resume && !retried {
		p.poke()
	}
}

// overtook is called for a batch applied while batches sent before it
// wait to be retried (the leader's node refused them and took it, having
// become leader in between): their enqueues are sent again without their
// publisher's sequence, since it now falls below the one applied and
// would be judged Duplicate. A message whose first send was applied after
// all is then enqueued twice, never lost.
func (p *proposer) overtook() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.behind {
		return
	}
	for i := range p.retry {
		if e, ok := p.retry[i].cmd.(fifo.Enqueue); ok {
			e.From, e.Seq = queue.Publisher{}, 0
			p.retry[i].cmd = e
		}
	}
}

// leaderElected proposes fifo.LeaderElected ahead of everything pending
// (its effects re-issue what the old leader may not have carried out),
// then a NodeDown for each node known to be down.
func (p *proposer) leaderElected() {
	reqs := []request{{cmd: fifo.LeaderElected{Node: p.q.t.cfg.Node, Now: now()}, since: time.Now()}}
	for _, node := range p.q.t.downNodes() {
		reqs = append(reqs, request{cmd: fifo.NodeDown{Node: node, Now: now()}, since: time.Now()})
	}
	p.mu.Lock()
	p.retry = append(reqs, p.retry...)
	p.mu.Unlock()
	p.q.syncMembersSoon() // the new leader reconciles the group's members (members.go)
}

// again puts a batch that found no leader back, ahead of the retries
// (front) or behind them, failing the requests that waited too long.
func (p *proposer) again(rs []request, front bool) {
	keep := rs[:0:0]
	for _, r := range rs {
		if time.Since(r.since) > leaderWait {
			p.fail(r, errNoLeader)
			continue
		}
		keep = append(keep, r)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		for _, r := range keep {
			defer p.fail(r, raft.ErrRaftShutdown)
		}
		return
	}
	if front {
		p.retry = append(keep, p.retry...)
	} else {
		p.retry = append(p.retry, keep...)
	}
}

// wait runs each request's done once the leader answered it, in order,
// posting the actions of what completed together in one batch per owner.
func (p *proposer) wait() {
	defer p.wg.Done()
	var posts []post
	for in := range p.futures {
		posts = p.complete(in, posts[:0])
	drain:
		for len(posts) < 256 {
			select {
			case in, ok := <-p.futures:
				if !ok {
					break drain
				}
				posts = p.complete(in, posts)
			default:
				break drain
			}
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
	} else {
		res = <-in.remote
	}
	var nl notLeaderError
	switch {
	case res.err == nil:
		p.overtook()
	case errors.As(res.err, &nl):
		p.q.setLeaderHint(nl.hint)
		p.again(in.reqs, false)
		p.answered(true) // after again: the retries are queued in order
		p.pokeSoon(nl.hint != "")
		return posts
	case errors.Is(res.err, raft.ErrNotLeader), errors.Is(res.err, raft.ErrLeadershipLost),
		errors.Is(res.err, raft.ErrLeadershipTransferInProgress), errors.Is(res.err, errLinkDown):
		p.q.setLeaderHint("")
		p.again(in.reqs, false)
		p.answered(true)
		p.pokeSoon(false)
		return posts
	}
	p.answered(false)
	for i, req := range in.reqs {
		if req.done == nil {
			continue
		}
		a := applied{err: res.err}
		if res.err == nil {
			if i < len(res.answers) {
				a = res.answers[i]
			} else {
				a.err = errors.New("quorum queue entry not applied")
			}
		}
		posts = addPost(posts, req.owner, req.done(a))
	}
	return posts
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

// close stops the proposer, failing what is pending; Raft must be shut
// down first, so that every future handed to it completes.
func (p *proposer) close() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	rest := append(p.retry, p.pending...)
	p.retry, p.pending = nil, nil
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	for _, r := range rest {
		p.fail(r, raft.ErrRaftShutdown)
	}
}
