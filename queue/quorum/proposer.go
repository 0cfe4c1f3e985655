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

// waiting reports whether requests wait to be retried.
func (p *proposer) waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.retry) > 0
}

// take removes the next batch: retries first, then pending.
func (p *proposer) take() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	batch := slices.Clone((*src)[:n])
	*src = slices.Delete(*src, 0, n)
	return batch
}

// flush hands everything pending to the leader, one entry per batch. It
// returns false once the proposer stops.
func (p *proposer) flush() bool {
	var buf []byte
	for {
		batch := p.take()
		if len(batch) == 0 {
			return true
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(batch)))
		for _, req := range batch {
			buf = appendCommand(buf, req.cmd, req.msg)
		}
		in := inflight{reqs: batch}
		if r := p.q.raft(); r != nil && r.State() == raft.Leader {
			in.f = r.Apply(slices.Clone(buf), 0)
		} else if addr := p.q.leaderAddr(); addr != "" && p.q.t.links != nil {
			in.remote = p.q.t.links.get(addr).forward(p.q.group, slices.Clone(buf))
		} else {
			p.again(batch, true)
			return true
		}
		select {
		case p.futures <- in:
		case <-p.stop:
			return false
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
	case errors.As(res.err, &nl):
		p.q.setLeaderHint(nl.hint)
		p.again(in.reqs, false)
		p.pokeSoon(nl.hint != "")
		return posts
	case errors.Is(res.err, raft.ErrNotLeader), errors.Is(res.err, raft.ErrLeadershipLost),
		errors.Is(res.err, raft.ErrLeadershipTransferInProgress), errors.Is(res.err, errLinkDown):
		p.q.setLeaderHint("")
		p.again(in.reqs, false)
		p.pokeSoon(false)
		return posts
	}
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
