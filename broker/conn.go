package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// connState is where a connection is in its handshake.
type connState uint8

const (
	stateStartOk connState = iota // connection.start sent
	stateTuneOk                   // connection.tune sent
	stateOpen                     // waiting for connection.open
	stateRunning                  // connection.open-ok sent
)

// maxBatch is the most frames handled before held output is released.
const maxBatch = 256

// closeGrace is how long a connection waits for connection.close-ok after
// sending connection.close.
const closeGrace = 3 * time.Second

// errConnDone ends the read loop after a completed close handshake.
var errConnDone = errors.New("connection closed")

// conn is one client connection. Its read loop (serve) owns the handshake
// state and the channel table and runs every channel's handlers; its
// writer goroutine (writeLoop) owns the socket's write side.
type conn struct {
	srv      *Server
	id       uint64
	nc       net.Conn
	log      *zap.Logger
	fr       *protocol.FrameReader
	dec      protocol.MethodDecoder // read loop only; reuses per-message methods
	peer     string
	loopback bool
	started  time.Time
	// tls is the state of a TLS connection once its handshake is done,
	// nil for a plain one (set before the AMQP handshake, then read-only).
	tls *tls.ConnectionState

	// Set by the read loop during the handshake and read-only once
	// channels exist.
	state        connState
	frameMax     uint32
	channelMax   uint16
	heartbeat    time.Duration
	user         string
	vh           *vhost
	clientName   string
	clientProps  protocol.Table // the client's properties, for listings (inspect.go)
	capabilities protocol.Table
	cancelNotify bool // the client has consumer_cancel_notify

	// channels is read by the read loop without a lock and changed only by
	// the read loop, under chMu; other goroutines read it under chMu.
	chMu     sync.Mutex
	channels map[uint16]*channel
	lastCh   *channel // the channel of the previous frame (read loop only)

	// exclusive names the exclusive queues this connection declared (read
	// loop only).
	exclusive map[string]struct{}
	// confirmDirty lists channels with confirms held for the end of the
	// read batch (read loop only).
	confirmDirty []*channel
	// incomplete is the octets held by messages still being received on
	// all channels, bounded by incompleteLimit (read loop only).
	incomplete int
	// lastProps are the raw properties of the last message received,
	// shared read-only by the next ones that carry the same (content.go;
	// read loop only).
	lastProps []byte

	lingerClose bool // the client closed: let it drop the socket first (read loop only)

	// hmu is the handler lock: the read loop holds it while it handles
	// frames, and a busy channel's operation takes it to finish and
	// handle the channel's backlog (channel_busy.go). What is marked read
	// loop only, in the connection and its channels, is guarded by it.
	hmu sync.Mutex
	// ctx ends (cancel) when the connection ends; the operations of busy
	// channels run under contexts derived from it, counted by ops, and
	// none starts once opsClosed is set (teardown). backlogged is the
	// octets kept in the backlogs of busy channels, and backlogWake
	// (capacity 1) is signalled when a backlog drains. Under hmu.
	ctx         context.Context
	cancel      context.CancelFunc
	ops         sync.WaitGroup
	opsClosed   bool
	backlogged  int
	backlogWake chan struct{}

	closeSent atomic.Bool  // connection.close sent: only close/close-ok count now
	opened    atomic.Bool  // the handshake finished
	recvd     atomic.Bool  // an octet arrived since the writer's last tick
	io        ioCounters   // octets and reads/writes of the socket (counters.go)
	tickEvery atomic.Int64 // writer tick period in nanoseconds
	hbNanos   atomic.Int64 // negotiated heartbeat, for the writer
	published atomic.Bool  // the client has published: the memory alarm blocks it
	paused    atomic.Bool  // the read loop is paused by the memory alarm
	blockSent atomic.Bool  // connection.blocked sent and not yet undone
	// flowBlocked counts the sessions whose queue asked their publisher
	// to wait (ActionBlock); flowWake (capacity 1) is signalled when it
	// drops to 0 (flow.go).
	flowBlocked atomic.Int32
	flowWake    chan struct{}

	outMu      sync.Mutex // guards out; innermost lock of the broker
	out        outbuf
	wake       chan struct{} // capacity 1: output pending or tick changed
	stopWriter chan struct{}
	writerDone chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	id := s.connSeq.Add(1)
	peer := nc.RemoteAddr().String()
	c := &conn{
		srv:        s,
		id:         id,
		nc:         nc,
		peer:       peer,
		started:    time.Now(),
		log:        s.log.With(zap.Uint64("conn", id), zap.String("peer", peer)),
		channels:   make(map[uint16]*channel),
		wake:       make(chan struct{}, 1),
		flowWake:   make(chan struct{}, 1),
		stopWriter: make(chan struct{}),
		writerDone: make(chan struct{}),
		frameMax:   s.cfg.FrameMax,

		backlogWake: make(chan struct{}, 1),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.loopback = ta.IP.IsLoopback()
	}
	raw := nc
	if tc, ok := nc.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return c
}

// owner is the connection's identity across the cluster, the owner of
// the exclusive queues it declares.
func (c *conn) owner() owner {
	return owner{node: c.srv.cfg.NodeName, conn: c.id}
}

// serve runs the connection: protocol header, handshake, then frames until
// the connection ends. It is the connection's read goroutine.
func (c *conn) serve() {
	defer c.srv.removeConn(c)
	if !c.tlsHandshake() {
		c.nc.Close()
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.HandshakeTimeout))
	if err := protocol.ReadProtocolHeader(c.nc); err != nil {
		if errors.Is(err, protocol.ErrBadProtocolHeader) {
			c.nc.SetWriteDeadline(time.Now().Add(time.Second))
			c.nc.Write(protocol.ProtocolHeader)
		}
		c.log.Debug("closing connection before the handshake", zap.Error(err))
		c.nc.Close()
		return
	}
	c.fr = protocol.NewFrameReader(liveReader{c})
	c.fr.SetFrameMax(protocol.InitialFrameMax)
	wlog := c.log // the read loop adds the vhost to c.log later
	c.srv.goTracked(func() { c.writeLoop(wlog) })
	c.sendStart()
	err := c.readLoop()
	c.teardown(err)
}

// readLoop reads and handles frames until the connection ends.
func (c *conn) readLoop() error {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	held := false
	n := 0
	for {
		// The batch ends when the input read so far is consumed, or after
		// maxBatch frames so a pipelining client still hears confirms.
		if held && (c.fr.Buffered() == 0 || n >= maxBatch) {
			c.endBatch()
			held = false
			n = 0
		}
		if c.srv.blocked.Load() && c.published.Load() {
			c.endBatch()
			held, n = false, 0
			c.unlocked(c.waitWhileBlocked)
		}
		if c.flowBlocked.Load() > 0 && c.published.Load() {
			c.endBatch()
			held, n = false, 0
			c.unlocked(c.waitWhileFlowBlocked)
		}
		if c.backlogged > backlogLimit {
			c.waitForBacklog()
			held, n = false, 0
		}
		c.hmu.Unlock()
		f, err := c.fr.ReadFrame()
		c.hmu.Lock()
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				return err
			}
			c.abort(pe)
			c.endBatch()
			held, n = false, 0
			if c.fr.Broken() {
				c.discardInput()
				return err
			}
			continue
		}
		n++
		if !held {
			c.holdOutput()
			held = true
		}
		if err := c.handleFrameSafe(f); err != nil {
			if err == errConnDone {
				c.endBatch()
				return nil
			}
			c.abort(c.asProtocolError(err, nil))
		}
	}
}

// unlocked runs f, a pause of the read loop, without the handler lock,
// so that busy channels finish meanwhile.
func (c *conn) unlocked(f func()) {
	c.hmu.Unlock()
	defer c.hmu.Lock()
	f()
}

// liveReader is the connection's socket as its FrameReader reads it: every
// read that returns octets tells the writer the peer is alive, so a peer
// sending one large frame slowly is not taken for a silent one.
type liveReader struct{ c *conn }

func (r liveReader) Read(p []byte) (int, error) {
	n, err := r.c.nc.Read(p)
	if n > 0 {
		r.c.recvd.Store(true)
		r.c.io.recvOct.Add(uint64(n))
		r.c.io.recvCnt.Add(1)
	}
	return n, err
}

// abort handles a hard error met by the read loop: connection.close with
// e. The confirms held for the batch go out first, then every channel is
// released, as RabbitMQ terminates the channels before it sends the
// close, so that nothing is delivered after it. It does nothing if a close
// was already sent.
func (c *conn) abort(e *protocol.Error) {
	if c.closeSent.Load() {
		return
	}
	c.endBatch()
	c.closeChannels()
	c.closeWith(e)
}

// discardInput reads and drops the peer's input after an error that left
// the stream out of sync, until the peer closes the socket or the close
// grace period set by closeWith ends. Closing with unread input would make
// the kernel send a reset, and a peer could lose the connection.close
// before reading it.
func (c *conn) discardInput() {
	b := make([]byte, 4096)
	for {
		if _, err := c.nc.Read(b); err != nil {
			return
		}
	}
}

// endBatch flushes what the read loop held back while a batch of frames
// was being handled: coalesced publisher confirms, then the output.
func (c *conn) endBatch() {
	for _, ch := range c.confirmDirty {
		ch.flushConfirms()
	}
	clear(c.confirmDirty)
	c.confirmDirty = c.confirmDirty[:0]
	c.releaseOutput()
}

// handleFrameSafe is handleFrame with panics turned into 541
// INTERNAL_ERROR.
func (c *conn) handleFrameSafe(f protocol.Frame) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in frame handler", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			err = protocol.NewError(protocol.InternalError, "%v", r)
		}
	}()
	return c.handleFrame(f)
}

func (c *conn) handleFrame(f protocol.Frame) error {
	if c.closeSent.Load() {
		return c.handleWhileClosing(f)
	}
	if f.Channel == 0 {
		return c.handleChannel0(f)
	}
	if c.state != stateRunning {
		return unexpectedFrame(f)
	}
	ch := c.lastCh
	if ch == nil || ch.id != f.Channel {
		ch = c.channels[f.Channel]
		c.lastCh = ch
	}
	if ch != nil && ch.busy {
		return c.deferFrame(ch, f)
	}
	if ch == nil {
		switch f.Type {
		case protocol.FrameMethod:
		case protocol.FrameHeader, protocol.FrameBody:
			return protocol.NewError(protocol.UnexpectedFrame, "expected method frame, got non method frame instead")
		default:
			return unexpectedFrame(f)
		}
		m, err := protocol.DecodeMethod(f.Payload)
		if err != nil {
			return err
		}
		if _, ok := m.(*protocol.ChannelOpen); !ok {
			return protocol.NewError(protocol.ChannelError, "expected 'channel.open'").For(m)
		}
		return c.openChannel(f.Channel)
	}
	if err := ch.handleFrame(f); err != nil {
		pe := c.asProtocolError(err, nil)
		if pe.Hard() {
			return pe
		}
		ch.fail(pe)
	}
	return nil
}

// handleWhileClosing handles a frame after connection.close was sent:
// only connection.close and connection.close-ok matter.
func (c *conn) handleWhileClosing(f protocol.Frame) error {
	if f.Channel != 0 || f.Type != protocol.FrameMethod {
		return nil
	}
	m, err := protocol.DecodeMethod(f.Payload)
	if err != nil {
		return nil
	}
	switch m.(type) {
	case *protocol.ConnectionCloseOk:
		return errConnDone
	case *protocol.ConnectionClose:
		c.sendMethod(0, &protocol.ConnectionCloseOk{})
		c.lingerClose = true
		return errConnDone
	}
	return nil
}

// handleChannel0 handles a frame on channel 0: the handshake, heartbeats,
// connection.close and update-secret.
func (c *conn) handleChannel0(f protocol.Frame) error {
	switch f.Type {
	case protocol.FrameHeartbeat:
		return nil
	case protocol.FrameMethod:
	default:
		return unexpectedFrame(f)
	}
	m, err := protocol.DecodeMethod(f.Payload)
	if err != nil {
		return err
	}
	if c.state != stateRunning {
		return c.handshake(m)
	}
	switch m := m.(type) {
	case *protocol.ConnectionClose:
		c.log.Debug("client closed connection", zap.Uint16("code", m.ReplyCode), zap.String("text", m.ReplyText))
		c.closeChannels()
		// The connection's exclusive queues are gone by the time the client
		// hears close-ok, so its next connection can declare them again.
		c.deleteExclusiveQueues()
		c.sendMethod(0, &protocol.ConnectionCloseOk{})
		c.lingerClose = true
		return errConnDone
	case *protocol.ConnectionUpdateSecret:
		c.log.Info("client updated its secret", zap.String("reason", m.Reason))
		c.sendMethod(0, &protocol.ConnectionUpdateSecretOk{})
		return nil
	case *protocol.ConnectionBlocked, *protocol.ConnectionUnblocked, *protocol.ConnectionCloseOk:
		return nil
	}
	return protocol.NewError(protocol.ChannelError, "unexpected method in connection state running").For(m)
}

// asProtocolError turns any error into the exception to send: protocol
// errors as they are (with m's ids if they have none), anything else as a
// logged 541 INTERNAL_ERROR.
func (c *conn) asProtocolError(err error, m protocol.Method) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		if pe.ClassID == 0 && m != nil {
			return pe.For(m)
		}
		return pe
	}
	c.log.Error("internal error", zap.Error(err))
	e := protocol.NewError(protocol.InternalError, "%s", err.Error())
	return e.For(m)
}

// closeWith starts the connection close handshake with the exception e.
// It is safe from any goroutine and does nothing if a close was sent.
func (c *conn) closeWith(e *protocol.Error) {
	if !c.closeSent.CompareAndSwap(false, true) {
		return
	}
	if e.Code != protocol.ConnectionForced {
		c.log.Warn("closing connection on error", zap.Uint16("code", e.Code), zap.String("text", e.Text))
	}
	c.sendMethod(0, &protocol.ConnectionClose{ReplyCode: e.Code, ReplyText: e.Text, FailingClassID: e.ClassID, FailingMethodID: e.MethodID})
	// Wake the writer even if the read loop holds output: it may be
	// blocked reading, and the close must go out now.
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.nc.SetReadDeadline(time.Now().Add(closeGrace))
}

// shutdown is Server.Close's request to end the connection.
func (c *conn) shutdown() {
	if !c.opened.Load() {
		c.nc.Close()
		return
	}
	c.closeWith(protocol.NewError(protocol.ConnectionForced, "broker forced connection closure with reason 'shutdown'"))
}

// teardown releases everything the connection holds once its read loop
// has ended.
func (c *conn) teardown(err error) {
	c.endOps()
	c.hmu.Lock()
	c.closeChannels()
	c.deleteExclusiveQueues()
	c.hmu.Unlock()
	close(c.stopWriter)
	select {
	case <-c.writerDone:
	case <-time.After(closeGrace):
		c.nc.Close()
		<-c.writerDone
	}
	if c.lingerClose {
		// After close-ok the client closes the socket; closing first
		// would make it see EOF where it expects a clean end.
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		var b [64]byte
		for {
			if _, err := c.nc.Read(b[:]); err != nil {
				break
			}
		}
	}
	c.nc.Close()
	fields := []zap.Field{zap.String("user", c.user), zap.String("connection_name", c.clientName),
		zap.Duration("duration", time.Since(c.started))}
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
		fields = append(fields, zap.Error(err))
	}
	if c.opened.Load() {
		c.srv.churn.connectionsClosed.Add(1)
		c.log.Info("connection closed", fields...)
	} else {
		c.log.Debug("connection closed during handshake", fields...)
	}
}

// openChannel handles channel.open for a channel id not in use.
func (c *conn) openChannel(id uint16) error {
	if c.channelMax != 0 && len(c.channels) >= int(c.channelMax) {
		return protocol.NewError(protocol.NotAllowed,
			"number of channels opened (%d) has reached the negotiated channel_max (%d)",
			len(c.channels), c.channelMax)
	}
	if err := c.channelLimit(); err != nil {
		return err
	}
	ch := newChannel(c, id)
	c.chMu.Lock()
	c.channels[id] = ch
	c.chMu.Unlock()
	c.srv.churn.channelsOpened.Add(1)
	c.sendMethod(id, &protocol.ChannelOpenOk{})
	return nil
}

// forgetChannel removes a closed channel from the table.
func (c *conn) forgetChannel(id uint16) {
	if c.lastCh != nil && c.lastCh.id == id {
		c.lastCh = nil
	}
	c.chMu.Lock()
	delete(c.channels, id)
	c.chMu.Unlock()
}

// closeChannels releases every channel: consumers cancelled, unacked
// messages requeued.
func (c *conn) closeChannels() {
	for id, ch := range c.channels {
		ch.release()
		c.forgetChannel(id)
	}
}

// deleteExclusiveQueues deletes the exclusive queues the connection
// declared.
func (c *conn) deleteExclusiveQueues() {
	if c.vh == nil {
		return
	}
	for name := range c.exclusive {
		c.vh.deleteOwnedQueue(name, c.owner())
	}
	c.exclusive = nil
}

// unexpectedFrame is the 505 for a frame the state does not allow.
func unexpectedFrame(f protocol.Frame) *protocol.Error {
	return protocol.NewError(protocol.UnexpectedFrame, "type %d, %s", f.Type, payloadSnippet(f.Payload))
}

// payloadSnippet renders up to 16 payload octets as rabbit_reader does.
func payloadSnippet(p []byte) string {
	what := "all"
	if len(p) > 16 {
		what, p = "first 16", p[:16]
	}
	b := make([]byte, 0, 64)
	b = append(b, "<<"...)
	for i, x := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", x)
	}
	b = append(b, ">>"...)
	return what + " octets = " + string(b)
}
