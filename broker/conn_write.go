package broker

import (
	"time"

	"github.com/warrenmq/warren/protocol"
	"github.com/warrenmq/warren/queue"
	"go.uber.org/zap"
)

const (
	// outLimit is the size of pending output past which the connection
	// withholds credit: the limiters of the channels delivering are paused
	// until the writer drains.
	outLimit = 2 << 20
	// outKeep is the largest output buffer kept when the connection goes
	// idle; larger ones are dropped so an idle connection stays small.
	outKeep = 64 << 10
	// writeTimeout bounds one write to a client that stopped reading.
	writeTimeout = 30 * time.Second
)

// outbuf is a connection's output: frames appended by any goroutine,
// written by the connection's writer goroutine in one syscall per batch.
type outbuf struct {
	buf       []byte     // frames not yet handed to the writer
	spare     []byte     // the writer's buffer between writes
	signalled bool       // the writer has been woken for buf
	hold      bool       // the read loop is mid-batch: it wakes the writer at the end
	closed    bool       // the writer is gone: appends are dropped
	paused    []*channel // channels whose limiter is paused until buf drains
	inbox     inbox      // what reached the connection outside its read loop
}

// inbox is what reaches a connection from other goroutines for its
// writer to carry out before its next write: the actions queues post to
// its channels' sessions (queue.SessionOwner.Post), and channels whose
// publisher confirms completed outside the read loop. It is guarded by
// conn.outMu. The two buffers are swapped with spares, so a steady
// stream of posts allocates nothing.
type inbox struct {
	items      []inboxItem
	acts       []queue.Action // the actions of items, in order
	itemsSpare []inboxItem
	actsSpare  []queue.Action
}

// inboxItem is one entry of the inbox: n actions posted to session s, or,
// when s is nil, channel ch's confirms held for the writer.
type inboxItem struct {
	ch *channel
	s  *session
	n  int
}

// post puts actions a queue posted to session s in the inbox and wakes
// the writer. It is safe from any goroutine and never blocks; a
// connection whose writer is gone drops them (the session's Close takes
// back what its owner never saw).
func (c *conn) post(s *session, acts []queue.Action) {
	if len(acts) == 0 {
		return
	}
	o := c.lockOut()
	if !o.closed {
		o.inbox.items = append(o.inbox.items, inboxItem{ch: s.ch, s: s, n: len(acts)})
		o.inbox.acts = append(o.inbox.acts, acts...)
		c.wakeWriterLocked()
	}
	c.outMu.Unlock()
}

// queueLateConfirms asks the writer to send ch's held publisher confirms
// before its next write (see confirmTracker). It is called with the
// tracker's lock held; outMu comes after it in the lock order.
func (c *conn) queueLateConfirms(ch *channel) {
	o := c.lockOut()
	if !o.closed {
		o.inbox.items = append(o.inbox.items, inboxItem{ch: ch})
		c.wakeWriterLocked()
	}
	c.outMu.Unlock()
}

// wakeWriterLocked wakes the writer for the inbox, even while the read
// loop holds output. The caller holds outMu.
func (c *conn) wakeWriterLocked() {
	c.out.signalled = true
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// drainInbox carries out what the inbox holds, until it is empty (what
// it carries out may post more: a confirm completed here sends its held
// acks through the inbox). It runs on the writer, holding no lock.
func (c *conn) drainInbox() {
	for {
		c.outMu.Lock()
		in := &c.out.inbox
		items, acts := in.items, in.acts
		if len(items) == 0 {
			c.outMu.Unlock()
			return
		}
		in.items, in.acts = in.itemsSpare[:0], in.actsSpare[:0]
		in.itemsSpare, in.actsSpare = nil, nil
		c.outMu.Unlock()
		off := 0
		for _, it := range items {
			if it.s == nil {
				it.ch.confirms.sendLate()
				continue
			}
			it.ch.handleActions(it.s, acts[off:off+it.n])
			off += it.n
		}
		clear(items)
		clear(acts)
		c.outMu.Lock()
		if in.itemsSpare == nil {
			in.itemsSpare, in.actsSpare = items[:0], acts[:0]
		}
		c.outMu.Unlock()
	}
}

// lockOut locks the output buffer and returns it; callers append frames to
// ob.buf and call unlockOut.
func (c *conn) lockOut() *outbuf {
	c.outMu.Lock()
	return &c.out
}

// unlockOut wakes the writer if there is output it has not been told about
// and unlocks the output buffer.
func (c *conn) unlockOut() {
	o := &c.out
	if len(o.buf) > 0 && !o.signalled && !o.hold {
		o.signalled = true
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	c.outMu.Unlock()
}

// sendMethod appends one method frame on channel ch.
func (c *conn) sendMethod(ch uint16, m protocol.Method) {
	o := c.lockOut()
	if !o.closed {
		o.buf = protocol.AppendMethodFrame(o.buf, ch, m)
	}
	c.unlockOut()
}

// sendContent appends a method with content (basic.return, basic.get-ok,
// basic.deliver): the method frame, the header and the body frames.
func (c *conn) sendContent(ch uint16, m protocol.Method, msgProps *protocol.Properties, raw []byte, body []byte) {
	o := c.lockOut()
	if !o.closed {
		o.buf = c.appendContent(o.buf, ch, m, msgProps, raw, body)
	}
	c.unlockOut()
}

func (c *conn) appendContent(b []byte, ch uint16, m protocol.Method, p *protocol.Properties, raw []byte, body []byte) []byte {
	b = protocol.AppendMethodFrame(b, ch, m)
	if raw != nil {
		b = protocol.AppendHeaderFrameRaw(b, ch, protocol.ClassBasic, uint64(len(body)), raw)
	} else {
		b = protocol.AppendHeaderFrame(b, ch, protocol.ClassBasic, uint64(len(body)), p)
	}
	return protocol.AppendBodyFrames(b, ch, body, c.frameMax)
}

// holdOutput makes appends wait for releaseOutput before waking the
// writer, so the replies to a batch of client frames go out in one write.
func (c *conn) holdOutput() {
	c.outMu.Lock()
	c.out.hold = true
	c.outMu.Unlock()
}

// releaseOutput ends holdOutput and wakes the writer if anything is pending.
func (c *conn) releaseOutput() {
	c.outMu.Lock()
	c.out.hold = false
	c.unlockOut()
}

// writeLoop is the connection's writer goroutine: it writes what the other
// goroutines appended, sends heartbeats, notices a silent peer and checks
// consumer timeouts. It ends when stopWriter is closed (after a last flush)
// or a write fails.
func (c *conn) writeLoop(log *zap.Logger) {
	defer close(c.writerDone)
	var (
		ticker   *time.Ticker
		tickC    <-chan time.Time
		period   time.Duration
		wrote    bool // something was written since the last tick
		silent   int  // ticks in a row without input from the peer
		failed   bool
		writeErr error
	)
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	for {
		if p := time.Duration(c.tickEvery.Load()); p != period {
			period = p
			if ticker != nil {
				ticker.Stop()
				ticker, tickC = nil, nil
			}
			if p > 0 {
				ticker = time.NewTicker(p)
				tickC = ticker.C
			}
		}
		stopping := false
		select {
		case <-c.wake:
		case <-c.stopWriter:
			stopping = true
		case now := <-tickC:
			if hb := time.Duration(c.hbNanos.Load()); hb > 0 {
				if c.recvd.Swap(false) || c.paused.Load() {
					silent = 0
				} else {
					silent++
				}
				// Two heartbeat intervals of silence drop the peer.
				if time.Duration(silent)*period >= 2*hb {
					log.Warn("missed heartbeats from client, closing connection",
						zap.Duration("timeout", 2*hb))
					c.nc.Close()
				}
				if !wrote {
					o := c.lockOut()
					o.buf = protocol.AppendHeartbeat(o.buf)
					c.unlockOut()
				}
			}
			wrote = false
			c.checkConsumerTimeouts(now)
		}
		if !failed {
			n, err := c.flush()
			if n > 0 {
				wrote = true
			}
			if err != nil {
				failed, writeErr = true, err
				log.Debug("write failed", zap.Error(err))
				c.nc.Close()
			}
		}
		if stopping {
			_ = writeErr
			return
		}
	}
}

// flush writes everything pending in one write and unpauses the channels
// paused for lack of buffer room.
func (c *conn) flush() (int, error) {
	c.drainInbox()
	c.outMu.Lock()
	o := &c.out
	b := o.buf
	o.signalled = false
	if len(b) == 0 {
		c.outMu.Unlock()
		return 0, nil
	}
	o.buf = o.spare[:0]
	o.spare = nil
	c.outMu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := c.nc.Write(b)
	c.io.sendOct.Add(uint64(n))
	c.io.sendCnt.Add(1)
	c.outMu.Lock()
	if err != nil {
		o.closed = true
		o.buf = nil
		c.outMu.Unlock()
		return n, err
	}
	if cap(b) > outKeep && len(o.buf) == 0 {
		b = nil // idle again: give the memory back
	}
	o.spare = b[:0]
	var resume []*channel
	if len(o.paused) > 0 && len(o.buf) < outLimit {
		resume = o.paused
		o.paused = nil
	}
	c.outMu.Unlock()
	for _, ch := range resume {
		ch.unpause()
	}
	return n, nil
}

// setTick asks the writer to tick at most every d (heartbeats and consumer
// timeouts); the shortest period asked for wins.
func (c *conn) setTick(d time.Duration) {
	if d <= 0 {
		return
	}
	for {
		cur := c.tickEvery.Load()
		if cur != 0 && time.Duration(cur) <= d {
			return
		}
		if c.tickEvery.CompareAndSwap(cur, int64(d)) {
			select {
			case c.wake <- struct{}{}:
			default:
			}
			return
		}
	}
}
