package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/warrenmq/warren/broker/meta"
	"github.com/warrenmq/warren/protocol"
	"go.uber.org/zap"
)

// A channel method that must wait (a definitions commit, a type-level
// queue operation that takes a context, a session operation whose answer
// a queue posts later) makes its channel busy instead of holding up the
// read loop: the frames that arrive for a busy channel are kept, in
// order, in its backlog, and handled once the wait ends, while the other
// channels of the connection go on at once. See "Channels that wait" in
// doc.go for who may touch channel state meanwhile (conn.hmu).

// backlogLimit bounds the octets a connection keeps in the backlogs of its
// busy channels; past it the read loop stops reading until they drain.
const backlogLimit = 1 << 20

// backlogOverhead is what each kept frame counts besides its payload, so
// that a stream of empty frames is bounded too.
const backlogOverhead = 64

// The states of a channel's wait for an answer a queue may post later
// (channel.answer): no wait; asked (the operation is being called on the
// read loop); answered during the call; pending (the channel is busy until
// the answer arrives).
const (
	answerIdle int32 = iota
	answerAsked
	answerGiven
	answerPending
)

// busyState is what a channel keeps while a method waits; it is guarded
// by conn.hmu.
type busyState struct {
	busy     bool               // a method is waiting: frames go to backlog
	backlog  []protocol.Frame   // frames kept while busy, payloads copied
	cancelOp context.CancelFunc // ends the wait of the operation under way
	onAnswer func() error       // what answers the method once the answer waited for came
}

// answerWait tracks a wait for an answer posted by a queue; it is read
// and changed from the read loop and the writer.
type answerWait struct {
	state atomic.Int32
	on    atomic.Pointer[session] // the session the answer comes from
	// refusal is the exception the queue answered with (ActionRefused).
	refusal atomic.Pointer[protocol.Error]
}

// await runs work, which must touch no channel state, on a goroutine of
// its own, with a context ended when the channel or the connection
// closes. The channel is busy until work returns; then, holding hmu, done
// runs if work succeeded and the channel is still open, or the error is
// answered as a failed method m would be (unless a close ended the wait),
// and the backlog is handled.
// The read loop calls it holding hmu.
func (ch *channel) await(m protocol.Method, work func(context.Context) error, done func()) {
	c := ch.c
	if c.opsClosed {
		return // the connection is ending: the channel is about to go
	}
	cls, mid := m.ClassID(), m.MethodID()
	ctx, cancel := context.WithCancel(c.ctx)
	ch.busy, ch.cancelOp = true, cancel
	c.ops.Add(1)
	c.srv.goTracked(func() {
		defer c.ops.Done()
		err := c.safely(func() error { return work(ctx) })
		if err != nil && ctx.Err() != nil {
			err = errGivenUp // a close asked for it: nothing to answer
		}
		cancel()
		c.hmu.Lock()
		defer c.hmu.Unlock()
		ch.cancelOp = nil
		if ch.released {
			return
		}
		ch.busy = false
		if err == nil {
			err = c.safely(func() error { done(); return nil })
		}
		if err != nil && err != errGivenUp {
			pe := c.asProtocolError(err, nil)
			if pe.ClassID == 0 {
				pe.ClassID, pe.MethodID = cls, mid
			}
			c.failChannel(ch, pe)
		}
		c.resumeBacklog(ch)
		c.endBatch()
	})
}

// failChannel answers the error of ch's method that waited: a hard one
// closes the connection, a soft one the channel.
func (c *conn) failChannel(ch *channel, pe *protocol.Error) {
	if pe.Hard() {
		c.abort(pe)
	} else {
		ch.fail(pe)
	}
}

// errGivenUp is the outcome of an operation whose wait a close ended.
var errGivenUp = errors.New("operation given up")

// propose commits cmd through await and sends reply (nil for none) once
// it is applied.
func (ch *channel) propose(m protocol.Method, cmd meta.Command, reply protocol.Method) {
	vh := ch.c.vh
	ch.await(m, func(ctx context.Context) error {
		_, err := vh.applyCtx(ctx, cmd)
		return err
	}, func() {
		if reply != nil {
			ch.c.sendMethod(ch.id, reply)
		}
	})
}

// safely runs f, turning a panic into 541 INTERNAL_ERROR as
// handleFrameSafe does.
func (c *conn) safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic in channel operation", zap.Any("panic", r), zap.ByteString("stack", debug.Stack()))
			err = protocol.NewError(protocol.InternalError, "%s", fmt.Sprint(r))
		}
	}()
	return f()
}

// askAnswer starts a wait for the answer to a session operation on s
// about to be called on the read loop.
func (ch *channel) askAnswer(s *session) {
	ch.answer.refusal.Store(nil)
	ch.answer.on.Store(s)
	ch.answer.state.Store(answerAsked)
}

// awaitAnswer ends the call started by askAnswer: unless the answer came
// during it, the channel is busy until it arrives (answered).
func (ch *channel) awaitAnswer() {
	if ch.answer.state.CompareAndSwap(answerAsked, answerPending) {
		ch.busy = true
		return
	}
	ch.answer.state.Store(answerIdle)
}

// dropAnswer ends a wait whose operation failed at once.
func (ch *channel) dropAnswer() {
	ch.answer.state.Store(answerIdle)
}

// answered is called, on the read loop or the writer, when s answers an
// operation (consume-ok, get-ok, get-empty) or its queue went down: a
// channel busy waiting for it resumes.
func (ch *channel) answered(s *session) {
	if ch.answer.on.Load() != s {
		return
	}
	if ch.answer.state.CompareAndSwap(answerAsked, answerGiven) {
		return
	}
	if ch.answer.state.CompareAndSwap(answerPending, answerIdle) {
		ch.c.resumeLater(ch)
	}
}

// refused is answered, on the read loop or the writer, when s refuses
// the operation the channel waits for (ActionRefused): the method fails
// with pe once the wait ends (answerRefusal).
func (ch *channel) refused(s *session, pe *protocol.Error) {
	if ch.answer.on.Load() != s {
		return
	}
	ch.answer.refusal.Store(pe)
	ch.answered(s)
}

// answerRefusal ends the read loop's part of a session operation m that
// awaitAnswer left: if the queue refused it during the call, the refusal
// is returned at once; if the channel still waits, it is returned when
// the answer comes (onAnswer).
func (ch *channel) answerRefusal(m protocol.Method) error {
	if ch.busy {
		ch.onAnswer = func() error { return ch.takeRefusal(m) }
		return nil
	}
	return ch.takeRefusal(m)
}

// takeRefusal returns the refusal of the operation m waited for, if any,
// naming m as the failing method.
func (ch *channel) takeRefusal(m protocol.Method) error {
	pe := ch.answer.refusal.Swap(nil)
	if pe == nil {
		return nil
	}
	if pe.ClassID == 0 {
		return pe.For(m)
	}
	return pe
}

// resumeLater handles a channel's backlog on a goroutine of its own once
// the answer it waited for has arrived (it may arrive on the writer,
// which must not handle frames).
func (c *conn) resumeLater(ch *channel) {
	c.srv.goTracked(func() {
		c.hmu.Lock()
		defer c.hmu.Unlock()
		if ch.released || !ch.busy || ch.cancelOp != nil {
			return
		}
		ch.busy = false
		if f := ch.onAnswer; f != nil {
			ch.onAnswer = nil
			if err := c.safely(f); err != nil {
				c.failChannel(ch, c.asProtocolError(err, nil))
			}
		}
		c.resumeBacklog(ch)
		c.endBatch()
	})
}

// deferFrame keeps f for busy channel ch. A channel.close ends the wait
// early: the operation's context is cancelled, and a wait for a queue's
// answer is given up at once, the close handled in order after what came
// before it. It runs holding hmu.
func (c *conn) deferFrame(ch *channel, f protocol.Frame) error {
	f.Payload = bytes.Clone(f.Payload)
	ch.backlog = append(ch.backlog, f)
	c.backlogged += len(f.Payload) + backlogOverhead
	if !isChannelClose(f) {
		return nil
	}
	if ch.cancelOp != nil {
		ch.cancelOp()
		return nil
	}
	if ch.answer.state.CompareAndSwap(answerPending, answerIdle) {
		ch.busy, ch.onAnswer = false, nil
		c.resumeBacklog(ch)
	}
	return nil
}

// isChannelClose reports whether f is a channel.close method frame.
func isChannelClose(f protocol.Frame) bool {
	p := f.Payload
	return f.Type == protocol.FrameMethod && len(p) >= 4 &&
		uint16(p[0])<<8|uint16(p[1]) == protocol.ClassChannel && uint16(p[2])<<8|uint16(p[3]) == (*protocol.ChannelClose)(nil).MethodID()
}

// resumeBacklog handles the frames kept for ch, which is no longer busy,
// in order, until they are done or one makes its channel busy again. A
// channel.close and channel.open in the backlog may put another channel
// under the same id; its frames follow it. It runs holding hmu.
func (c *conn) resumeBacklog(ch *channel) {
	for len(ch.backlog) > 0 {
		if t := c.channels[ch.id]; t != nil && t.busy {
			if t != ch {
				t.backlog = append(t.backlog, ch.backlog...)
				ch.backlog = nil
			}
			break
		}
		f := ch.backlog[0]
		ch.backlog[0] = protocol.Frame{}
		ch.backlog = ch.backlog[1:]
		c.backlogged -= len(f.Payload) + backlogOverhead
		if err := c.handleFrameSafe(f); err != nil {
			c.abort(c.asProtocolError(err, nil))
		}
	}
	if len(ch.backlog) == 0 {
		ch.backlog = nil
	}
	select {
	case c.backlogWake <- struct{}{}:
	default:
	}
}

// waitForBacklog pauses the read loop while the connection keeps more
// than backlogLimit octets for its busy channels, until their waits end
// and their backlogs drain. The peer's silence does not count against its
// heartbeats meanwhile. A close from the broker ends the pause. It is
// called holding hmu and releases it while it waits.
func (c *conn) waitForBacklog() {
	c.endBatch()
	c.paused.Store(true)
	defer c.paused.Store(false)
	t := time.NewTimer(flowPoll)
	defer t.Stop()
	for c.backlogged > backlogLimit && !c.closeSent.Load() {
		c.hmu.Unlock()
		select {
		case <-c.backlogWake:
		case <-c.srv.stop:
		case <-t.C:
			t.Reset(flowPoll)
		}
		c.hmu.Lock()
		select {
		case <-c.srv.stop:
			return
		default:
		}
	}
}

// endOps is the connection's teardown waiting for its channels' operations
// under way: their contexts are cancelled, no new one starts, and those
// running finish (a commit under way completes) before the channels are
// released and the exclusive queues deleted. It is called without hmu.
func (c *conn) endOps() {
	c.hmu.Lock()
	c.opsClosed = true
	c.hmu.Unlock()
	c.cancel()
	c.ops.Wait()
}
