package remote

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/warrenmq/warren/queue"
)

// helloTimeout bounds the wait for the peer's hello.
const helloTimeout = 10 * time.Second

// ServerConfig is what Serve needs from its node.
type ServerConfig struct {
	// Lookup returns the local queue vhost/name, or the AMQP exception
	// (404 …) to send back.
	Lookup func(vhost, name string) (queue.Queue, error)
	// Log receives the link's errors; nil logs nothing.
	Log *zap.Logger
	// MaxFrame is the largest frame payload accepted; 0 means
	// DefaultMaxFrame.
	MaxFrame int
}

// serverLink is one incoming link: the sessions a peer's channels opened
// with this node's queues.
type serverLink struct {
	cfg  ServerConfig
	log  *zap.Logger
	conn net.Conn
	out  *outbox
	dec  decoder                   // read loop only
	sess map[uint32]*serverSession // read loop only
	rpcs sync.WaitGroup            // purge, delete and stats under way
	ctx  context.Context
}

// Serve serves the link a peer opened on conn: it opens sessions with the
// local queues its channels use, carries out their operations and sends
// back what the queues answer, until the conn ends or ctx is done. It
// then closes every session it opened, so that their consumers go and
// their unsettled deliveries are requeued, as when a channel closes, and
// returns once every goroutine it started has ended. A peer that ends the
// link cleanly, or ctx ending it, returns nil; a malformed frame or a
// failed write returns the error, which is logged too.
func Serve(ctx context.Context, conn net.Conn, cfg ServerConfig) error {
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &serverLink{cfg: cfg, log: log, conn: conn, out: newOutbox(),
		sess: make(map[uint32]*serverSession), ctx: ctx}
	var wg sync.WaitGroup
	wg.Go(func() { // ctx ends the link
		<-ctx.Done()
		conn.Close()
	})
	var werr error
	wg.Go(func() {
		if werr = l.out.writeLoop(conn); werr != nil {
			cancel()
		}
	})
	err := l.readLoop()
	l.closeSessions()
	cancel()
	l.rpcs.Wait()
	l.out.close()
	wg.Wait()
	if ctx.Err() != nil && errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		err = nil
	}
	if err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		log.Warn("queue link ended on error", zap.Stringer("peer", conn.RemoteAddr()), zap.Error(err))
	}
	return err
}

// readLoop exchanges hellos and handles frames until the stream ends.
func (l *serverLink) readLoop() error {
	if e := l.out.lock(); e != nil {
		e.hello()
		l.out.unlock()
	}
	br := bufio.NewReaderSize(l.conn, 64<<10)
	l.conn.SetReadDeadline(time.Now().Add(helloTimeout))
	var buf []byte
	typ, p, buf, err := readFrame(br, buf, l.cfg.MaxFrame)
	if err != nil {
		return err
	}
	if err := l.hello(typ, p); err != nil {
		return err
	}
	l.conn.SetReadDeadline(time.Time{})
	for {
		var typ byte
		var p []byte
		typ, p, buf, err = readFrame(br, buf, l.cfg.MaxFrame)
		if err != nil {
			return err
		}
		f, err := l.dec.decode(typ, p)
		if err != nil {
			return err
		}
		if err := l.handle(&f); err != nil {
			return err
		}
	}
}

// hello checks the peer's hello.
func (l *serverLink) hello(typ byte, p []byte) error {
	if typ != fHello {
		return fmt.Errorf("%w: frame type %d before hello", errMalformed, typ)
	}
	f, err := l.dec.decode(typ, p)
	if err != nil {
		return err
	}
	if f.version != Version {
		return fmt.Errorf("%w: %d, this node %d", errVersion, f.version, Version)
	}
	return nil
}

// handle carries out one frame on the read loop.
func (l *serverLink) handle(f *frame) error {
	switch f.typ {
	case fOpen:
		return l.open(f)
	case fClose:
		if s := l.sess[f.sid]; s != nil {
			delete(l.sess, f.sid)
			s.close()
		}
	case fPublish, fConsume, fCancel, fGet, fSettle:
		s := l.sess[f.sid]
		if s == nil {
			return fmt.Errorf("%w: session %d is not open", errMalformed, f.sid)
		}
		s.handle(f)
	case fQPub:
		l.publish(f)
	case fTouch:
		if q, err := l.cfg.Lookup(f.vhost, f.name); err == nil {
			q.Touch()
		}
	case fPurge, fDelete, fStats:
		rf := *f // f is the read loop's
		l.rpcs.Go(func() { l.rpc(&rf) })
	default:
		return fmt.Errorf("%w: frame type %d sent to the queue's node", errMalformed, f.typ)
	}
	return nil
}

// open opens session f.sid with the queue it names. A queue that is not
// there makes a session that refuses everything with the lookup's error.
func (l *serverLink) open(f *frame) error {
	if _, dup := l.sess[f.sid]; dup {
		return fmt.Errorf("%w: session %d opened twice", errMalformed, f.sid)
	}
	s := &serverSession{l: l, sid: f.sid, pub: f.pub,
		out: make(map[uint64]uint64), cons: make(map[uint32]*serverConsumer)}
	l.sess[f.sid] = s
	q, err := l.cfg.Lookup(f.vhost, f.name)
	if err != nil {
		s.err = err
		s.send(wireAction{kind: queue.ActionQueueDown})
		return nil
	}
	s.inner = q.NewSession(s)
	return nil
}

// publish handles a session-less publish (a dead-lettered copy).
func (l *serverLink) publish(f *frame) {
	q, err := l.cfg.Lookup(f.vhost, f.name)
	if err != nil {
		if f.flags&flagConfirm != 0 {
			l.reply(f.req, 0, queue.Stats{}, err)
		}
		return
	}
	var c queue.Confirm
	if f.flags&flagConfirm != 0 {
		c = queue.Confirm{To: l, Seq: f.req}
	}
	q.Publish(f.msg, c)
}

// Confirmed implements queue.Confirmer for session-less publishes: the
// answer to request seq.
func (l *serverLink) Confirmed(seq uint64, ok bool) {
	var err error
	if !ok {
		err = errRefused
	}
	l.reply(seq, 0, queue.Stats{}, err)
}

// errRefused answers a session-less publish the queue refused.
var errRefused = errors.New("remote: the queue refused the message")

// rpc answers purge, delete and stats on a goroutine of its own, since the
// queue may take a while.
func (l *serverLink) rpc(f *frame) {
	q, err := l.cfg.Lookup(f.vhost, f.name)
	if err != nil {
		l.reply(f.req, 0, queue.Stats{}, err)
		return
	}
	var n uint32
	var st queue.Stats
	switch f.typ {
	case fPurge:
		n, err = q.Purge(l.ctx)
	case fDelete:
		n, err = q.Delete(l.ctx, f.flags&flagIfUnused != 0, f.flags&flagIfEmpty != 0)
	case fStats:
		st = q.Stats(l.ctx)
	}
	l.reply(f.req, n, st, err)
}

func (l *serverLink) reply(req uint64, n uint32, st queue.Stats, err error) {
	if e := l.out.lock(); e != nil {
		e.reply(req, n, st, err)
		l.out.unlock()
	}
}

// closeSessions closes every session once the link ended.
func (l *serverLink) closeSessions() {
	for sid, s := range l.sess {
		delete(l.sess, sid)
		s.close()
	}
}
