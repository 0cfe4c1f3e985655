package quorum

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/cluster"
)

// raftService is the cluster service that carries the Raft traffic of
// every quorum queue group between two nodes.
const raftService = "quorum-raft"

// raftRPCTimeout is how long an RPC waits for its answer.
const raftRPCTimeout = 10 * time.Second

// errRaftNetClosed fails the RPCs of a group whose transport is closed.
var errRaftNetClosed = errors.New("quorum raft transport closed")

// raftNet is a node's one Raft transport for all its quorum queue groups:
// each group's replica gets a groupTrans (raft.Transport) from open, and
// every group's RPCs to a peer node share one stream to it (a raftConn,
// dialled on the first RPC and again on the first after it broke),
// tagged with the group and a request id; answers come back on the same
// stream, matched by id. A snapshot install opens a stream of its own
// (raftnet_snapshot.go). The zero value is ready; the service is listened
// on while at least one group is open, and the last group's Close stops
// it and joins its goroutines.
type raftNet struct {
	// timeout is an RPC's, raftRPCTimeout when 0 (tests shorten it).
	timeout time.Duration
	// timing is the beats', clusterTiming when its beat is 0.
	timing raftTiming

	mu       sync.Mutex
	groups   map[string]*groupTrans
	run      *raftRun      // nil while no group is open
	opened   chan struct{} // closed when a group opens; nil until asked for
	awaiting int           // requests waiting for their group to open
}

// raftRun is a raftNet while it has groups: the listener, the streams to
// and from peers and the goroutines serving them.
type raftRun struct {
	rn      *raftNet
	net     Network
	log     *zap.Logger
	timeout time.Duration
	timing  raftTiming
	lis     net.Listener
	ctx     context.Context // cancelled by stop
	cancel  context.CancelFunc

	mu     sync.Mutex
	peers  map[string]*raftPeer // by address
	conns  map[*raftConn]bool   // every live stream, accepted ones too
	closed bool
	wg     sync.WaitGroup
}

// open returns the transport of group, starting the node's service for
// the first group.
func (rn *raftNet) open(n Network, log *zap.Logger, group string) (*groupTrans, error) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.groups[group] != nil {
		return nil, fmt.Errorf("quorum raft transport: group %s is open already", group)
	}
	if rn.run == nil {
		run, err := startRaftRun(rn, n, log)
		if err != nil {
			return nil, err
		}
		rn.run = run
	}
	if rn.groups == nil {
		rn.groups = map[string]*groupTrans{}
	}
	g := newGroupTrans(rn.run, group)
	rn.groups[group] = g
	if rn.opened != nil {
		close(rn.opened)
		rn.opened = nil
	}
	return g, nil
}

// openedCh returns a channel closed when the next group opens.
func (rn *raftNet) openedCh() <-chan struct{} {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.opened == nil {
		rn.opened = make(chan struct{})
	}
	return rn.opened
}

// awaitSlot takes one of the maxAwaiting places of requests waiting for
// their group, if one is free.
func (rn *raftNet) awaitSlot() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.awaiting >= maxAwaiting {
		return false
	}
	rn.awaiting++
	return true
}

// awaitDone gives back a place taken by awaitSlot.
func (rn *raftNet) awaitDone() {
	rn.mu.Lock()
	rn.awaiting--
	rn.mu.Unlock()
}

// group returns the open group named, or nil.
func (rn *raftNet) group(name []byte) *groupTrans {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.groups[string(name)]
}

// groupNamed returns the open group named, or nil.
func (rn *raftNet) groupNamed(name string) *groupTrans {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.groups[name]
}

// openGroups returns the open groups.
func (rn *raftNet) openGroups() []*groupTrans {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return slices.Collect(maps.Values(rn.groups))
}

// remove forgets g; the last group stops the service and waits for its
// goroutines.
func (rn *raftNet) remove(g *groupTrans) {
	rn.mu.Lock()
	if rn.groups[g.name] != g {
		rn.mu.Unlock()
		return
	}
	delete(rn.groups, g.name)
	var run *raftRun
	if len(rn.groups) == 0 && rn.run != nil {
		run = rn.run
		rn.run = nil
		// Closed here, so that a group opened as soon as mu is
		// released can listen again.
		run.lis.Close()
	}
	rn.mu.Unlock()
	if run != nil {
		run.stop()
	}
}

func startRaftRun(rn *raftNet, n Network, log *zap.Logger) (*raftRun, error) {
	lis, err := n.Listen(raftService)
	if err != nil {
		return nil, err
	}
	timeout := rn.timeout
	if timeout <= 0 {
		timeout = raftRPCTimeout
	}
	timing := rn.timing
	if timing.beat <= 0 {
		timing = clusterTiming
	}
	run := &raftRun{rn: rn, net: n, log: log, timeout: timeout, timing: timing, lis: lis,
		peers: map[string]*raftPeer{}, conns: map[*raftConn]bool{}}
	run.ctx, run.cancel = context.WithCancel(context.Background())
	run.wg.Add(2)
	go run.accept()
	go run.beatLoop()
	return run, nil
}

// goTracked runs f on a goroutine that stop waits for, unless the run is
// stopping.
func (run *raftRun) goTracked(f func()) bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.closed {
		return false
	}
	run.wg.Add(1)
	go func() {
		defer run.wg.Done()
		f()
	}()
	return true
}

// stop closes every stream, ends the dials under way and waits for every
// goroutine of the run.
func (run *raftRun) stop() {
	run.mu.Lock()
	run.closed = true
	conns := make([]*raftConn, 0, len(run.conns))
	for c := range run.conns {
		conns = append(conns, c)
	}
	run.mu.Unlock()
	run.cancel()
	run.lis.Close()
	for _, c := range conns {
		c.fail(errRaftNetClosed)
	}
	run.wg.Wait()
}

// accept serves the streams peers open: the shared stream of a peer's
// groups, or one snapshot install each.
func (run *raftRun) accept() {
	defer run.wg.Done()
	for {
		c, err := run.lis.Accept()
		if err != nil {
			return
		}
		if !run.goTracked(func() { run.serveAccepted(c) }) {
			c.Close()
			return
		}
	}
}

// serveAccepted reads an accepted stream's first frame, which tells a
// snapshot install from a peer's shared stream, and serves it; stop
// closes the stream whatever it is waiting for.
func (run *raftRun) serveAccepted(c net.Conn) {
	defer context.AfterFunc(run.ctx, func() { c.Close() })()
	br := bufio.NewReaderSize(c, connReadBuffer)
	kind, id, body, err := readFrame(br)
	if err != nil {
		c.Close()
		if !errors.Is(err, errBadRaftFrame) {
			return
		}
		run.log.Warn("quorum raft transport: bad first frame", zap.String("peer", c.RemoteAddr().String()), zap.Error(err))
		return
	}
	if kind == kindInstallSnapshot {
		run.serveSnapshot(c, br, id, body)
		return
	}
	rc := newRaftConn(run, c, nil)
	if !run.add(rc) {
		c.Close()
		return
	}
	run.wg.Add(1) // for the writer; this goroutine is the reader
	go rc.writeLoop()
	if err := rc.handle(kind, id, body); err != nil {
		rc.badFrame(err)
		return
	}
	rc.readLoop(br)
}

// add records a live stream, unless the run is stopping.
func (run *raftRun) add(c *raftConn) bool {
	run.mu.Lock()
	defer run.mu.Unlock()
	if run.closed {
		return false
	}
	run.conns[c] = true
	return true
}

// drop forgets a broken stream.
func (run *raftRun) drop(c *raftConn) {
	run.mu.Lock()
	delete(run.conns, c)
	run.mu.Unlock()
}

// peer returns the outbound side of the peer at addr.
func (run *raftRun) peer(addr string) *raftPeer {
	run.mu.Lock()
	defer run.mu.Unlock()
	p := run.peers[addr]
	if p == nil {
		p = &raftPeer{run: run, addr: addr}
		run.peers[addr] = p
	}
	return p
}

// raftPeer is this node's stream to one peer, shared by every group's
// RPCs to it.
type raftPeer struct {
	run  *raftRun
	addr string

	mu   sync.Mutex
	conn *raftConn     // the live stream, nil when none
	dial chan struct{} // closed when the dial under way ends; nil when none
	err  error         // the last dial's error, for its waiters
}

// stream returns the live stream to the peer, dialling one if there is
// none; concurrent callers wait for the one dial, each until deadline.
func (p *raftPeer) stream(deadline time.Time) (*raftConn, error) {
	for {
		p.mu.Lock()
		if c := p.conn; c != nil && !c.isBroken() {
			p.mu.Unlock()
			return c, nil
		}
		if wait := p.dial; wait != nil {
			p.mu.Unlock()
			select {
			case <-wait:
			case <-time.After(time.Until(deadline)):
				return nil, fmt.Errorf("quorum raft transport: dial %s: %w", p.addr, context.DeadlineExceeded)
			}
			p.mu.Lock()
			err := p.err
			p.mu.Unlock()
			if err != nil {
				return nil, err
			}
			continue
		}
		wait := make(chan struct{})
		p.dial, p.conn = wait, nil
		p.mu.Unlock()
		c, err := p.connect(deadline)
		p.mu.Lock()
		p.dial, p.conn, p.err = nil, c, err
		p.mu.Unlock()
		close(wait)
		return c, err
	}
}

// connect dials the peer and starts serving the new stream.
func (p *raftPeer) connect(deadline time.Time) (*raftConn, error) {
	ctx, cancel := context.WithDeadline(p.run.ctx, deadline)
	defer cancel()
	nc, err := p.dialService(ctx)
	if err != nil {
		return nil, fmt.Errorf("quorum raft transport: dial %s: %w", p.addr, err)
	}
	c := newRaftConn(p.run, nc, p)
	if !p.run.add(c) {
		nc.Close()
		return nil, errRaftNetClosed
	}
	p.run.mu.Lock()
	if p.run.closed {
		p.run.mu.Unlock()
		c.fail(errRaftNetClosed)
		return nil, errRaftNetClosed
	}
	p.run.wg.Add(2)
	p.run.mu.Unlock()
	go c.writeLoop()
	go func() {
		defer p.run.wg.Done()
		c.readLoop(bufio.NewReaderSize(nc, connReadBuffer))
	}()
	p.run.log.Debug("quorum raft transport: stream to peer", zap.String("peer", p.addr))
	return c, nil
}

// dialService dials the peer's service; while the peer has no group open
// yet, so does not listen, it tries again for up to groupWait: the
// members of a new group open it at about the same time, and its first
// member asks for votes at once.
func (p *raftPeer) dialService(ctx context.Context) (net.Conn, error) {
	until := time.Now().Add(groupWait)
	for {
		nc, err := p.run.net.Dial(ctx, p.addr, raftService)
		if err == nil || !errors.Is(err, cluster.ErrUnknownService) || time.Now().After(until) {
			return nc, err
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
	}
}
