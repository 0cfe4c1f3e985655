package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// LinkConfig is what a Link needs to reach its peer.
type LinkConfig struct {
	// Peer is the peer node's name, for errors and logs.
	Peer string
	// Dial opens a stream to the peer's Serve.
	Dial func(ctx context.Context) (net.Conn, error)
	// Log receives the link's errors; nil logs nothing.
	Log *zap.Logger
	// MaxFrame is the largest frame payload accepted, and sent; 0 means
	// DefaultMaxFrame.
	MaxFrame int
}

// Link is this node's way to the queues of one peer node. It dials on
// first use, and again on the first use after the connection failed;
// what was under way when it failed is answered as for a queue whose
// home node is down. It is safe for concurrent use.
type Link struct {
	cfg    LinkConfig
	log    *zap.Logger
	ctx    context.Context // ends with Close, dials included
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of every connection

	mu     sync.Mutex
	cur    *linkConn // the connection in use, or nil
	closed bool
}

// NewLink returns a link to cfg.Peer; it dials on first use.
func NewLink(cfg LinkConfig) *Link {
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Link{cfg: cfg, log: log.With(zap.String("peer", cfg.Peer)), ctx: ctx, cancel: cancel}
}

// Queue returns the queue vhost/name on the peer, reached through the
// link. Closing it closes only the proxy.
func (l *Link) Queue(vhost, name string) queue.Queue {
	return &proxyQueue{l: l, vhost: vhost, name: name, sessions: make(map[*proxySession]struct{})}
}

// Close ends the link: what is under way is answered as for a peer that
// went down, and every goroutine of the link has ended when it returns.
// Later uses find the queues down.
func (l *Link) Close() {
	l.mu.Lock()
	l.closed = true
	lc := l.cur
	l.cur = nil
	l.mu.Unlock()
	l.cancel()
	if lc != nil {
		lc.fail(errLinkClosed)
	}
	l.wg.Wait()
}

// errLinkClosed ends the connections of a closed link.
var errLinkClosed = errors.New("remote: link closed")

// conn returns the connection in use, starting one if there is none or
// the last one failed, or nil once the link is closed.
func (l *Link) conn() *linkConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if lc := l.cur; lc != nil && !lc.isFailed() {
		return lc
	}
	lc := &linkConn{l: l, out: newOutbox(), sessions: make(map[uint32]*proxySession),
		reqs: make(map[uint64]chan reply), pubs: make(map[uint64]queue.Confirm)}
	l.cur = lc
	l.wg.Go(lc.run)
	return lc
}

// linkConn is one connection of a link, from its dial to its failure.
// Operations made while it dials wait in its outbox.
type linkConn struct {
	l   *Link
	out *outbox

	mu       sync.Mutex // guards what follows; a leaf but for the outbox
	conn     net.Conn   // set once dialled
	failed   bool
	err      error // why it failed
	sessions map[uint32]*proxySession
	nextSID  uint32
	reqs     map[uint64]chan reply    // purge, delete, stats waiting
	pubs     map[uint64]queue.Confirm // session-less publishes waiting
	nextReq  uint64
}

// reply is the answer to a request.
type reply struct {
	n     uint32
	stats queue.Stats
	err   error
}

func (lc *linkConn) isFailed() bool {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.failed
}

// fail ends the connection with err, once: the conn is closed, so the
// read loop ends and tells everything waiting (down).
func (lc *linkConn) fail(err error) {
	lc.mu.Lock()
	if lc.failed {
		lc.mu.Unlock()
		return
	}
	lc.failed, lc.err = true, err
	conn := lc.conn
	lc.mu.Unlock()
	lc.out.close()
	if conn != nil {
		conn.Close()
	}
}

// run dials, exchanges hellos, then reads until the connection fails;
// its writer runs beside it. Whatever ends it, everything waiting on the
// connection is told it is down.
func (lc *linkConn) run() {
	br, err := lc.dial()
	if err != nil {
		lc.l.log.Warn("queue link to peer failed", zap.Error(err))
		lc.fail(err)
		lc.down()
		return
	}
	var werr error
	var wg sync.WaitGroup
	wg.Go(func() {
		if werr = lc.out.writeLoop(lc.conn); werr != nil {
			lc.fail(werr)
		}
	})
	err = lc.readLoop(br)
	lc.fail(err)
	wg.Wait()
	lc.mu.Lock()
	why := lc.err
	lc.mu.Unlock()
	if why != errLinkClosed {
		lc.l.log.Warn("queue link to peer lost", zap.Error(why))
	}
	lc.down()
}

// dial opens the conn and exchanges hellos.
func (lc *linkConn) dial() (*bufio.Reader, error) {
	ctx, cancel := context.WithTimeout(lc.l.ctx, helloTimeout)
	defer cancel()
	conn, err := lc.l.cfg.Dial(ctx)
	if err != nil {
		return nil, fmt.Errorf("remote: dial %s: %w", lc.l.cfg.Peer, err)
	}
	lc.mu.Lock()
	failed := lc.failed
	lc.conn = conn
	lc.mu.Unlock()
	if failed {
		conn.Close()
		return nil, errLinkClosed
	}
	var e encoder
	e.hello()
	conn.SetDeadline(time.Now().Add(helloTimeout))
	if _, err := conn.Write(e.buf); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	typ, p, _, err := readFrame(br, nil, lc.l.cfg.MaxFrame)
	if err != nil {
		return nil, err
	}
	var d decoder
	f, err := d.decode(typ, p)
	if err == nil && (typ != fHello || f.version != Version) {
		err = fmt.Errorf("%w: %d (frame type %d), this node %d", errVersion, f.version, typ, Version)
	}
	conn.SetDeadline(time.Time{})
	return br, err
}

// readLoop reads what the peer's queues answer until the conn fails. The
// actions of consecutive frames for one session are posted together.
func (lc *linkConn) readLoop(br *bufio.Reader) error {
	var (
		dec   decoder
		buf   []byte
		batch []queue.Action
		to    *proxySession
	)
	flush := func() {
		if len(batch) > 0 {
			to.owner.Post(batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	defer flush()
	for {
		if br.Buffered() == 0 {
			flush()
		}
		typ, p, b, err := readFrame(br, buf, lc.l.cfg.MaxFrame)
		buf = b
		if err != nil {
			return err
		}
		f, err := dec.decode(typ, p)
		if err != nil {
			lc.l.log.Error("malformed frame from peer", zap.Error(err))
			return err
		}
		switch f.typ {
		case fAction:
			s := lc.session(f.sid)
			if s == nil {
				continue // closed meanwhile
			}
			if s != to {
				flush()
				to = s
			}
			batch = s.receive(f.act, batch)
		case fReply:
			lc.answer(f)
		default:
			err := fmt.Errorf("%w: frame type %d sent by the queue's node", errMalformed, f.typ)
			lc.l.log.Error("malformed frame from peer", zap.Error(err))
			return err
		}
	}
}

func (lc *linkConn) session(sid uint32) *proxySession {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.sessions[sid]
}

// answer hands a reply to its request.
func (lc *linkConn) answer(f frame) {
	lc.mu.Lock()
	ch, isReq := lc.reqs[f.req]
	delete(lc.reqs, f.req)
	c, isPub := lc.pubs[f.req]
	delete(lc.pubs, f.req)
	lc.mu.Unlock()
	switch {
	case isReq:
		ch <- reply{n: f.count, stats: f.stats, err: f.err}
	case isPub:
		c.To.Confirmed(c.Seq, f.err == nil)
	}
}

// down tells everything that waited on the failed connection: sessions
// (consumers cancelled, queue down, publishes nacked), requests (an
// error) and session-less publishes (nacked).
func (lc *linkConn) down() {
	lc.mu.Lock()
	sessions := lc.sessions
	reqs := lc.reqs
	pubs := lc.pubs
	lc.sessions, lc.reqs, lc.pubs = nil, nil, nil
	lc.mu.Unlock()
	for _, s := range sessions {
		s.linkDown()
	}
	for _, ch := range reqs {
		ch <- reply{err: errPeerDown}
	}
	for _, c := range pubs {
		c.To.Confirmed(c.Seq, false)
	}
}

// errPeerDown marks a request the link failed under; the proxy turns it
// into the queue's home-node-down exception.
var errPeerDown = errors.New("remote: peer down")

// request sends a request made by appendFrame and waits for its reply,
// or for ctx.
func (lc *linkConn) request(ctx context.Context, appendFrame func(e *encoder, req uint64)) reply {
	if lc == nil {
		return reply{err: errPeerDown}
	}
	ch := make(chan reply, 1)
	lc.mu.Lock()
	if lc.failed {
		lc.mu.Unlock()
		return reply{err: errPeerDown}
	}
	lc.nextReq++
	req := lc.nextReq
	lc.reqs[req] = ch
	lc.mu.Unlock()
	if e := lc.out.lock(); e != nil {
		appendFrame(e, req)
		lc.out.unlock()
	}
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		lc.mu.Lock()
		delete(lc.reqs, req)
		lc.mu.Unlock()
		return reply{err: ctx.Err()}
	}
}
