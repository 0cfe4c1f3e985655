package remote

import (
	"net"
	"sync"
)

// outbox is a link's outgoing frames: callers append encoded frames under
// its lock, never touching the network (a queue may be appending under
// its own lock), and the writer goroutine takes the whole buffer and
// writes it in one call. Its lock is a leaf.
type outbox struct {
	mu     sync.Mutex
	enc    encoder // guarded by mu
	spare  []byte  // the buffer last written, reused; guarded by mu
	closed bool    // guarded by mu
	wake   chan struct{}
}

func newOutbox() *outbox {
	return &outbox{wake: make(chan struct{}, 1)}
}

// lock returns the encoder to append frames to, or nil when the outbox is
// closed (the link ended); unlock must follow when it is not nil.
func (o *outbox) lock() *encoder {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	return &o.enc
}

// unlock ends lock and wakes the writer.
func (o *outbox) unlock() {
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// close stops the outbox: later appends are dropped and the writer ends.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// take returns what is pending and whether the outbox was closed.
func (o *outbox) take() ([]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := o.enc.buf
	o.enc.buf = o.spare[:0]
	o.spare = nil
	return b, o.closed
}

// keepLimit is the largest buffer kept for the next batch: what a
// busy link writes at once (a consumer's window of 1 KiB messages is
// about a MiB), without holding much more once it goes quiet.
const keepLimit = 4 << 20

// giveBack keeps b for the next batch unless it grew past keepLimit.
func (o *outbox) giveBack(b []byte) {
	if cap(b) > keepLimit {
		return
	}
	o.mu.Lock()
	o.spare = b[:0]
	o.mu.Unlock()
}

// writeLoop writes batches to conn until the outbox is closed or a write
// fails, which it returns (nil once closed).
func (o *outbox) writeLoop(conn net.Conn) error {
	for range o.wake {
		b, closed := o.take()
		if closed {
			return nil
		}
		if len(b) > 0 {
			if _, err := conn.Write(b); err != nil {
				return err
			}
		}
		o.giveBack(b)
	}
	return nil
}
