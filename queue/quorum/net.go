package quorum

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/zap"
)

// Network is how a node's quorum queues reach the other nodes of a
// cluster: the Raft traffic of each group, and the service on which
// nodes forward commands to a group's leader and the leader sends
// deliveries to the nodes of its consumers. The broker implements it on
// its cluster port.
type Network interface {
	// Addr is this node's cluster address.
	Addr() string
	// NodeAddr returns the cluster address of node, or "" if unknown.
	NodeAddr(node string) string
	// Dial opens a stream to the service of the node at addr.
	Dial(ctx context.Context, addr, service string) (net.Conn, error)
	// Listen accepts the streams of service.
	Listen(service string) (net.Listener, error)
}

// Service is the cluster service of the quorum queues' links.
const Service = "quorum"

// maxFrame bounds one frame on a link.
const maxFrame = 64 << 20

// The frames of a link. Each is a 4-byte big-endian length, then the
// kind, then the body (link.go's encoders).
const (
	// framePropose: request id, group, then an entry to apply.
	framePropose byte = 1
	// frameResult: request id, status, text, then the answers.
	frameResult byte = 2
	// frameDeliver: group, consumer, then deliveries with messages.
	frameDeliver byte = 3
	// frameCancelled: group, consumer.
	frameCancelled byte = 4
)

// The statuses of a result.
const (
	statusOK byte = iota
	// statusNotLeader: the text is the leader's address, if known.
	statusNotLeader
	// statusFailed: the text says why.
	statusFailed
)

// errLinkDown fails the proposals a broken link carried.
var errLinkDown = errors.New("link to the quorum queue's leader lost")

// notLeaderError is a proposal sent to a node that does not lead; hint is
// the leader's address as that node knows it.
type notLeaderError struct{ hint string }

func (e notLeaderError) Error() string { return "not the leader; leader at " + e.hint }

// links holds a node's links to its peers, one per peer address, dialled
// on first use: proposals go out on them and their results come back; a
// leader's deliveries go out on its link to the consumer's node.
type links struct {
	t   *Type
	net Network

	mu     sync.Mutex
	byAddr map[string]*link     // dialled links
	all    map[*link]bool       // every live link, accepted ones too
	failed map[string]time.Time // when a dial to an address last failed
	closed bool
	wg     sync.WaitGroup
	lis    net.Listener
}

func newLinks(t *Type, n Network) (*links, error) {
	l := &links{t: t, net: n, byAddr: map[string]*link{}, all: map[*link]bool{}, failed: map[string]time.Time{}}
	lis, err := n.Listen(Service)
	if err != nil {
		return nil, err
	}
	l.lis = lis
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// accept serves the links peers open.
func (l *links) accept() {
	defer l.wg.Done()
	for {
		c, err := l.lis.Accept()
		if err != nil {
			return
		}
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return
		}
		k := newLink(l, c, "")
		l.all[k] = true
		l.mu.Unlock()
		k.start()
	}
}

// redialAfter is how long after a failed dial to an address a proposer
// waits before it forwards there again (dialable), so that what retries
// on a node that is gone (a proposer whose leader was there, a
// non-member trying the members in turn, many queues at once) does not
// dial it in a tight loop.
const redialAfter = 100 * time.Millisecond

// dialable reports whether addr has a link, or no dial to it failed
// within redialAfter.
func (l *links) dialable(addr string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.byAddr[addr] != nil || time.Since(l.failed[addr]) >= redialAfter
}

// get returns the link to addr, made (and dialled on its own goroutine)
// if there is none: it never waits for the network, so the leader's FSM
// goroutine may send on it (what is sent before the dial completes goes
// once it does).
func (l *links) get(addr string) *link {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := l.byAddr[addr]; k != nil {
		return k
	}
	k := newLink(l, nil, addr)
	if l.closed {
		k.broken = true
		return k
	}
	k.dialDone = make(chan struct{})
	l.byAddr[addr] = k
	l.all[k] = true
	l.wg.Add(1)
	go k.dial()
	return k
}

// dial connects a link made by get, then runs it.
func (k *link) dial() {
	defer k.l.wg.Done()
	defer close(k.dialDone)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	c, err := k.l.net.Dial(ctx, k.addr, Service)
	cancel()
	if k.l.dialled(k.addr, err) {
		// Its consumers cannot be served from here (unreachable.go).
		k.l.t.nodeUnreachable(k.addr)
	}
	k.mu.Lock()
	if err == nil && !k.broken {
		k.conn = c
		k.mu.Unlock()
		k.start()
		k.l.t.nodeReachable(k.addr)
		return
	}
	k.mu.Unlock()
	if c != nil {
		c.Close()
	}
	k.fail()
}

// dialled records how a dial to addr went; it reports whether the dial
// failed while the links are open.
func (l *links) dialled(addr string, err error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		delete(l.failed, addr)
		return false
	}
	l.failed[addr] = time.Now()
	return !l.closed
}

// dialling reports whether the link's dial has not ended yet.
func (k *link) dialling() bool {
	if k.dialDone == nil {
		return false
	}
	select {
	case <-k.dialDone:
		return false
	default:
		return true
	}
}

// up reports whether the link is connected and not broken.
func (k *link) up() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.conn != nil && !k.broken
}

// drop forgets a broken link; it reports whether the links are closing.
func (l *links) drop(k *link) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.addr != "" && l.byAddr[k.addr] == k {
		delete(l.byAddr, k.addr)
	}
	delete(l.all, k)
	return l.closed
}

// close ends every link and joins their goroutines.
func (l *links) close() {
	l.mu.Lock()
	l.closed = true
	all := make([]*link, 0, len(l.all))
	for k := range l.all {
		all = append(all, k)
	}
	l.mu.Unlock()
	l.lis.Close()
	for _, k := range all {
		k.fail()
	}
	l.wg.Wait()
}

// link is one stream to a peer. Its writer goroutine sends what is queued
// in out, one write per batch, so no sender ever waits for the network;
// its reader goroutine handles what arrives.
type link struct {
	l    *links
	conn net.Conn
	addr string // the dialled address; "" for an accepted link

	mu      sync.Mutex
	out     []byte
	wake    chan struct{}
	broken  bool
	nextReq uint64
	pending map[uint64]chan remoteResult

	// answersMu guards sending on answers against its close: a send
	// that waits for room holds it, never mu, which answerLoop needs to
	// send what frees that room.
	answersMu     sync.Mutex
	answersClosed bool
	answers       chan answer // proposals applied for the peer, in order

	// dialDone is closed once a dialled link's dial ended (connected or
	// failed); nil for an accepted link.
	dialDone chan struct{}
}

// remoteResult is a forwarded proposal's outcome.
type remoteResult struct {
	answers []applied
	err     error
}

// answer is a proposal a peer forwarded, handed to Raft.
type answer struct {
	id  uint64
	f   raft.ApplyFuture
	err error
}

func newLink(l *links, c net.Conn, addr string) *link {
	return &link{l: l, conn: c, addr: addr, wake: make(chan struct{}, 1),
		pending: map[uint64]chan remoteResult{}, answers: make(chan answer, 1024)}
}

func (k *link) start() {
	k.l.wg.Add(3)
	go k.writeLoop()
	go k.readLoop()
	go k.answerLoop()
}

// send queues one frame.
func (k *link) send(kind byte, body []byte) bool {
	k.mu.Lock()
	if k.broken {
		k.mu.Unlock()
		return false
	}
	k.out = binary.BigEndian.AppendUint32(k.out, uint32(len(body)+1))
	k.out = append(k.out, kind)
	k.out = append(k.out, body...)
	// wake is closed only by fail, under mu.
	select {
	case k.wake <- struct{}{}:
	default:
	}
	k.mu.Unlock()
	return true
}

func (k *link) writeLoop() {
	defer k.l.wg.Done()
	var buf []byte
	for range k.wake {
		k.mu.Lock()
		buf, k.out = k.out, buf[:0]
		k.mu.Unlock()
		if len(buf) == 0 {
			continue
		}
		if _, err := k.conn.Write(buf); err != nil {
			k.fail()
			return
		}
	}
}

// fail breaks the link: its pending proposals fail, its goroutines end.
func (k *link) fail() {
	k.mu.Lock()
	if k.broken {
		k.mu.Unlock()
		return
	}
	k.broken = true
	pending := k.pending
	k.pending = nil
	conn := k.conn
	k.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	close(k.wake)
	k.answersMu.Lock()
	k.answersClosed = true
	close(k.answers)
	k.answersMu.Unlock()
	closing := k.l.drop(k)
	for _, ch := range pending {
		ch <- remoteResult{err: errLinkDown}
	}
	if conn != nil && k.addr != "" && !closing {
		// A dialled link that was up: its peer's process may be gone.
		k.l.t.peerLost(k.addr)
	}
}

func (k *link) readLoop() {
	defer k.l.wg.Done()
	defer k.fail()
	r := bufio.NewReaderSize(k.conn, 64<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 || n > maxFrame {
			k.l.t.log.Warn("quorum queue link: bad frame length", zap.Uint32("length", n))
			return
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			return
		}
		if err := k.handle(frame[0], frame[1:]); err != nil {
			k.l.t.log.Warn("quorum queue link: bad frame", zap.Error(err))
			return
		}
	}
}

// handle acts on one frame.
func (k *link) handle(kind byte, body []byte) error {
	switch kind {
	case framePropose:
		id, group, entry, err := decodePropose(body)
		if err != nil {
			return err
		}
		k.propose(id, group, entry)
	case frameResult:
		id, res, err := decodeResult(body)
		if err != nil {
			return err
		}
		k.mu.Lock()
		ch := k.pending[id]
		delete(k.pending, id)
		k.mu.Unlock()
		if ch != nil {
			ch <- res
		}
	case frameDeliver:
		d, err := decodeDeliver(body)
		if err != nil {
			return err
		}
		if q := k.l.t.queue(d.group); q != nil {
			if s := q.session(d.consumer.Chan); s != nil {
				s.deliver(d.consumer.Tag, d.deliveries, d.msgs)
			}
		}
	case frameCancelled:
		group, id, err := decodeCancelled(body)
		if err != nil {
			return err
		}
		if q := k.l.t.queue(group); q != nil {
			if s := q.session(id.Chan); s != nil {
				s.cancelled(id.Tag)
			}
		}
	default:
		return fmt.Errorf("unknown frame kind %d", kind)
	}
	return nil
}

// propose applies an entry a peer forwarded, if this replica leads; the
// answer goes back in order through answerLoop.
func (k *link) propose(id uint64, group string, entry []byte) {
	q := k.l.t.queue(group)
	var a answer
	a.id = id
	switch r := q.raftOrNil(); {
	case r == nil:
		a.err = notLeaderError{}
		if resting, led, addr := q.restingLeader(); led {
			// The group rests, led from here: wake it (the replica
			// stands at once); the peer asks again shortly.
			q.goTracked(func() { q.wake(true) })
		} else if resting {
			a.err = notLeaderError{hint: addr}
		}
	case r.State() != raft.Leader:
		addr, _ := r.LeaderWithID()
		a.err = notLeaderError{hint: string(addr)}
	default:
		a.f = r.Apply(entry, 0)
	}
	// With answers full this waits, so that the peer's proposals are
	// answered in order, while answerLoop sends the earlier answers.
	k.answersMu.Lock()
	if !k.answersClosed {
		k.answers <- a
	}
	k.answersMu.Unlock()
}

// answerLoop sends back the answers to forwarded proposals, in order.
func (k *link) answerLoop() {
	defer k.l.wg.Done()
	for a := range k.answers {
		var res remoteResult
		switch {
		case a.err != nil:
			res.err = a.err
		default:
			res = futureResult(a.f)
		}
		k.send(frameResult, encodeResult(a.id, res))
	}
}

// futureResult waits for f.
func futureResult(f raft.ApplyFuture) remoteResult {
	if err := f.Error(); err != nil {
		return remoteResult{err: err}
	}
	answers, _ := f.Response().([]applied)
	return remoteResult{answers: answers}
}

// forward sends an entry of group to the leader over this link; the
// result arrives on the returned channel.
func (k *link) forward(group string, entry []byte) <-chan remoteResult {
	ch := make(chan remoteResult, 1)
	k.mu.Lock()
	if k.broken {
		k.mu.Unlock()
		ch <- remoteResult{err: errLinkDown}
		return ch
	}
	k.nextReq++
	id := k.nextReq
	k.pending[id] = ch
	k.mu.Unlock()
	if !k.send(framePropose, encodePropose(id, group, entry)) {
		// The link broke: fail answered every pending proposal, this
		// one too unless it broke before the proposal was recorded.
		k.mu.Lock()
		_, mine := k.pending[id]
		delete(k.pending, id)
		k.mu.Unlock()
		if mine {
			ch <- remoteResult{err: errLinkDown}
		}
	}
	return ch
}
