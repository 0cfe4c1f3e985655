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
// takes what is pending, encodes it as one entry and hands it to
// raft.Apply (waiting for a leader first), which returns once Raft's
// leader loop took it, so the next batch gathers while Raft writes and
// replicates this one (group commit); the waiter goroutine waits for the
// futures in log order and runs each request's done.
// A request whose leader was lost before it committed is proposed again:
// every command is safe to repeat (an enqueue is deduplicated by its
// publisher's sequence, settles of settled ids are ignored).
type proposer struct {
	q *Queue

	mu      sync.Mutex
	pending []request
	wake    chan struct{}
	stopped bool

	futures chan inflight
	stop    chan struct{}
	wg      sync.WaitGroup
}

// inflight is a batch of requests handed to Raft as one entry.
type inflight struct {
	f    raft.ApplyFuture
	reqs []request
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

// poke wakes the loop.
func (p *proposer) poke() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// backlog returns how many requests wait to be handed to Raft.
func (p *proposer) backlog() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// loop hands pending requests to Raft while this replica leads.
func (p *proposer) loop() {
	defer p.wg.Done()
	defer close(p.futures)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-tick.C:
		case leader := <-p.q.notify:
			if leader {
				p.leaderElected()
			}
		}
		if !p.flush() {
			return
		}
	}
}

// flush hands everything pending to Raft, one entry per batch, while this
// replica leads. It returns false once the proposer stops.
func (p *proposer) flush() bool {
	var buf []byte
	for {
		p.mu.Lock()
		n, size := 0, 0
		for n < len(p.pending) && n < maxBatch && size < maxBatchBytes {
			if m := p.pending[n].msg; m != nil {
				size += len(m.Body)
			}
			n++
		}
		batch := slices.Clone(p.pending[:n])
		p.pending = slices.Delete(p.pending, 0, n)
		p.mu.Unlock()
		if len(batch) == 0 {
			return true
		}
		r := p.q.raft()
		if r == nil || r.State() != raft.Leader {
			p.requeue(batch)
			return true
		}
		buf = binary.AppendUvarint(buf[:0], uint64(len(batch)))
		for _, req := range batch {
			buf = appendCommand(buf, req.cmd, req.msg)
		}
		f := r.Apply(slices.Clone(buf), 0)
		select {
		case p.futures <- inflight{f: f, reqs: batch}:
		case <-p.stop:
			return false
		}
	}
}

// leaderElected proposes fifo.LeaderElected ahead of everything pending:
// its effects re-issue what the old leader may not have carried out.
func (p *proposer) leaderElected() {
	cmd := fifo.LeaderElected{Node: p.q.t.cfg.Node, Now: time.Now().UnixMilli()}
	r := request{cmd: cmd, since: time.Now()}
	p.mu.Lock()
	p.pending = append([]request{r}, p.pending...)
	p.mu.Unlock()
}

// requeue puts rs back before what arrived since, failing those that
// waited too long for a leader.
func (p *proposer) requeue(rs []request) {
	now := time.Now()
	keep := rs[:0:0]
	for _, r := range rs {
		if now.Sub(r.since) > leaderWait {
			p.fail(r, errNoLeader)
			continue
		}
		keep = append(keep, r)
	}
	p.mu.Lock()
	p.pending = append(keep, p.pending...)
	p.mu.Unlock()
}

// wait runs each request's done once Raft answered it, in log order,
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
// to posts.
func (p *proposer) complete(in inflight, posts []post) []post {
	var answers []applied
	var failed error
	switch err := in.f.Error(); {
	case err == nil:
		answers, _ = in.f.Response().([]applied)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		p.mu.Lock()
		stopped := p.stopped
		if !stopped {
			p.pending = append(slices.Clone(in.reqs), p.pending...)
		}
		p.mu.Unlock()
		if !stopped {
			p.poke()
			return posts
		}
		failed = raft.ErrRaftShutdown
	default:
		failed = err
	}
	for i, req := range in.reqs {
		if req.done == nil {
			continue
		}
		a := applied{err: failed}
		if failed == nil {
			if i < len(answers) {
				a = answers[i]
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
	rest := p.pending
	p.pending = nil
	p.mu.Unlock()
	close(p.stop)
	p.wg.Wait()
	for _, r := range rest {
		p.fail(r, raft.ErrRaftShutdown)
	}
}
