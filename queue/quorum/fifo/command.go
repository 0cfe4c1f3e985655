package fifo

import (
	"fmt"

	"github.com/warrenmq/warren/protocol/fields"
	"github.com/warrenmq/warren/queue"
)

// Version is the first byte of every encoded command and snapshot.
const Version = 1

// Op is a command's op code, its second encoded byte. Values are stored in
// Raft logs and snapshots: append only, never reuse one.
type Op uint8

// The op codes.
const (
	OpEnqueue           Op = 1
	OpCheckout          Op = 2
	OpCancel            Op = 3
	OpSettle            Op = 4
	OpReturn            Op = 5
	OpDiscard           Op = 6
	OpGet               Op = 7
	OpChannelDown       Op = 8
	OpNodeDown          Op = 9
	OpConsumerTimeout   Op = 10
	OpPurge             Op = 11
	OpTick              Op = 12
	OpDeadLetterSettled Op = 13
	OpLeaderElected     Op = 14
	OpPublisherGone     Op = 15
	OpTouch             Op = 16
	OpResend            Op = 17
	OpUpdateConfig      Op = 18
	OpUnreachable       Op = 19
)

// lastOp is the highest op code; tests check every one round-trips.
const lastOp = OpUnreachable

// ConsumerID names a consumer: the channel it lives on (node, connection,
// channel, as queue.Publisher names a publishing channel) and its tag,
// unique on that channel.
type ConsumerID struct {
	Chan queue.Publisher
	Tag  string
}

// Command is one change to a quorum queue. It holds plain values only, so
// that it encodes completely: what Apply needs travels in it, the time
// included (Now, Unix milliseconds, stamped by the leader that proposed
// it).
type Command interface {
	// Op is the command's op code.
	Op() Op
	// Time is the leader's time stamped on the command, in Unix
	// milliseconds; Apply reads no clock.
	Time() int64
	encode(w *writer)
}

type (
	// Enqueue adds a message of Size body bytes. From (with Seq, the
	// publish's number on its channel) identifies the publisher so that a
	// resend is not enqueued twice; a zero From (a message the broker
	// makes itself) is never deduplicated. With Contiguous the publisher
	// numbers its publishes one after another within a base, a multiple
	// of SeqBase it takes for a new session (Seq is base+1, base+2 …), and
	// only the next number expected is enqueued: one past it is answered
	// OutOfSequence (State.enqueue). Without it (the entries of earlier
	// versions) Seq only grows: at or below the last seen is a Duplicate.
	// TTL is the message's expiration property in milliseconds, or -1 for
	// none. Priority is the message's priority property (above 4 is high).
	// The body itself stays in the log at the index that applies this
	// command.
	Enqueue struct {
		From       queue.Publisher
		Seq        uint64
		Contiguous bool
		Size       uint32
		TTL        int64
		Priority   uint8
		Now        int64
	}
	// Checkout adds a consumer with Prefetch credit (0 unlimited) and
	// Priority (x-priority). AutoSettle consumers (no-ack) settle every
	// message as it is delivered and take no credit.
	Checkout struct {
		Consumer   ConsumerID
		Prefetch   uint32
		Priority   int32
		AutoSettle bool
		Now        int64
	}
	// Cancel stops deliveries to a consumer; its unsettled messages stay
	// with it until settled.
	Cancel struct {
		Consumer ConsumerID
		Now      int64
	}
	// Settle acknowledges a consumer's deliveries by id: the messages go
	// for good and the consumer's credit comes back.
	Settle struct {
		Consumer ConsumerID
		IDs      []uint64
		Now      int64
	}
	// Return requeues a consumer's deliveries (basic.reject or basic.nack
	// with requeue): each goes back to the front of the queue with its
	// delivery count incremented, or, past the delivery limit, is
	// dead-lettered (reason delivery_limit) or dropped.
	Return struct {
		Consumer ConsumerID
		IDs      []uint64
		Now      int64
	}
	// Discard rejects a consumer's deliveries without requeue: each is
	// dead-lettered (reason rejected) or dropped.
	Discard struct {
		Consumer ConsumerID
		IDs      []uint64
		Now      int64
	}
	// Get takes one message for basic.get. Unless AutoSettle (no-ack) the
	// message stays checked out to Consumer (a one-shot consumer, created
	// for it and gone once it holds nothing) until settled.
	Get struct {
		Consumer   ConsumerID
		AutoSettle bool
		Now        int64
	}
	// ChannelDown ends every consumer of a channel (its unsettled messages
	// return to the queue, not counted as failed deliveries) and drops the
	// channel's publisher state, as a closed channel does.
	ChannelDown struct {
		Chan queue.Publisher
		Now  int64
	}
	// NodeDown ends every consumer on Node, returning their unsettled
	// messages. Publisher state stays: a publisher is forgotten only by
	// PublisherGone or ChannelDown, so that a resend after a partition
	// heals is still recognised.
	NodeDown struct {
		Node string
		Now  int64
	}
	// ConsumerTimeout cancels one consumer whose delivery was not settled
	// in time and returns its unsettled messages (RabbitMQ 4.3's
	// consumer timeout, which leaves the channel open); the leader tells
	// the consumer with basic.cancel.
	ConsumerTimeout struct {
		Consumer ConsumerID
		Now      int64
	}
	// Purge drops every ready message.
	Purge struct{ Now int64 }
	// Tick expires messages whose TTL ran out and reports (an
	// EffectDeleteQueue) a queue unused for its x-expires. The leader
	// proposes it when a timer an effect asked for fires.
	Tick struct{ Now int64 }
	// DeadLetterSettled confirms that the dead-letter targets took the
	// at-least-once dead-lettered messages enqueued at Indexes: they go
	// for good.
	DeadLetterSettled struct {
		Indexes []uint64
		Now     int64
	}
	// LeaderElected is the first command of a new leader (Node): Apply
	// re-issues, as effects, everything the leader owes (every unsettled
	// delivery, pending dead-letters, timers).
	LeaderElected struct {
		Node string
		Now  int64
	}
	// PublisherGone drops a publisher's deduplication state.
	PublisherGone struct {
		From queue.Publisher
		Now  int64
	}
	// Touch renews the queue's x-expires lease, as a redeclare does.
	Touch struct{ Now int64 }
	// Resend re-issues, as effects, the deliveries with ids From to To
	// (inclusive) that Consumer still holds unsettled: its session saw a
	// gap in the ids, so those never reached it (RabbitMQ's
	// rabbit_fifo_client asks the leader for them likewise).
	Resend struct {
		Consumer ConsumerID
		From, To uint64
		Now      int64
	}
)

// Op implements Command.
func (Enqueue) Op() Op { return OpEnqueue }

// Op implements Command.
func (Checkout) Op() Op { return OpCheckout }

// Op implements Command.
func (Cancel) Op() Op { return OpCancel }

// Op implements Command.
func (Settle) Op() Op { return OpSettle }

// Op implements Command.
func (Return) Op() Op { return OpReturn }

// Op implements Command.
func (Discard) Op() Op { return OpDiscard }

// Op implements Command.
func (Get) Op() Op { return OpGet }

// Op implements Command.
func (ChannelDown) Op() Op { return OpChannelDown }

// Op implements Command.
func (NodeDown) Op() Op { return OpNodeDown }

// Op implements Command.
func (ConsumerTimeout) Op() Op { return OpConsumerTimeout }

// Op implements Command.
func (Purge) Op() Op { return OpPurge }

// Op implements Command.
func (Tick) Op() Op { return OpTick }

// Op implements Command.
func (DeadLetterSettled) Op() Op { return OpDeadLetterSettled }

// Op implements Command.
func (LeaderElected) Op() Op { return OpLeaderElected }

// Op implements Command.
func (PublisherGone) Op() Op { return OpPublisherGone }

// Op implements Command.
func (Touch) Op() Op { return OpTouch }

// Op implements Command.
func (Resend) Op() Op { return OpResend }

// Time implements Command.
func (c Enqueue) Time() int64 { return c.Now }

// Time implements Command.
func (c Checkout) Time() int64 { return c.Now }

// Time implements Command.
func (c Cancel) Time() int64 { return c.Now }

// Time implements Command.
func (c Settle) Time() int64 { return c.Now }

// Time implements Command.
func (c Return) Time() int64 { return c.Now }

// Time implements Command.
func (c Discard) Time() int64 { return c.Now }

// Time implements Command.
func (c Get) Time() int64 { return c.Now }

// Time implements Command.
func (c ChannelDown) Time() int64 { return c.Now }

// Time implements Command.
func (c NodeDown) Time() int64 { return c.Now }

// Time implements Command.
func (c ConsumerTimeout) Time() int64 { return c.Now }

// Time implements Command.
func (c Purge) Time() int64 { return c.Now }

// Time implements Command.
func (c Tick) Time() int64 { return c.Now }

// Time implements Command.
func (c DeadLetterSettled) Time() int64 { return c.Now }

// Time implements Command.
func (c LeaderElected) Time() int64 { return c.Now }

// Time implements Command.
func (c PublisherGone) Time() int64 { return c.Now }

// Time implements Command.
func (c Touch) Time() int64 { return c.Now }

// Time implements Command.
func (c Resend) Time() int64 { return c.Now }

// Enqueue: the publisher and its sequence are written only when tracked
// (flag bit 0); Contiguous is flag bit 1, never set on an untracked one.
func (c Enqueue) encode(w *writer) {
	tracked := c.From != (queue.Publisher{})
	w.Flags(tracked, tracked && c.Contiguous)
	if tracked {
		w.channel(c.From)
		w.Uvarint(c.Seq)
	}
	w.Uvarint(uint64(c.Size))
	w.Varint(c.TTL)
	w.Byte(c.Priority)
	w.Varint(c.Now)
}

func (c *Enqueue) decode(r *reader) {
	var tracked bool
	r.Flags(&tracked, &c.Contiguous)
	if c.Contiguous && !tracked {
		r.Fail("contiguous enqueue without a publisher")
	}
	if tracked {
		c.From = r.channel()
		c.Seq = r.Uvarint()
		if r.Err == nil && c.From == (queue.Publisher{}) {
			r.Fail("tracked enqueue without a publisher")
		}
	}
	c.Size = r.U32()
	c.TTL = r.Varint()
	c.Priority = r.Byte()
	c.Now = r.Varint()
}

func (c Checkout) encode(w *writer) {
	w.consumer(c.Consumer)
	w.Uvarint(uint64(c.Prefetch))
	w.Varint(int64(c.Priority))
	w.Flags(c.AutoSettle)
	w.Varint(c.Now)
}

func (c *Checkout) decode(r *reader) {
	c.Consumer = r.consumer()
	c.Prefetch = r.U32()
	p := r.Varint()
	if p < -1<<31 || p > 1<<31-1 {
		r.Fail("priority past 32 bits")
	}
	c.Priority = int32(p)
	r.Flags(&c.AutoSettle)
	c.Now = r.Varint()
}

func (c Cancel) encode(w *writer) {
	w.consumer(c.Consumer)
	w.Varint(c.Now)
}

func (c *Cancel) decode(r *reader) {
	c.Consumer = r.consumer()
	c.Now = r.Varint()
}

func (c Settle) encode(w *writer) { encodeSettlement(w, c.Consumer, c.IDs, c.Now) }

func (c *Settle) decode(r *reader) { c.Consumer, c.IDs, c.Now = decodeSettlement(r) }

func (c Return) encode(w *writer) { encodeSettlement(w, c.Consumer, c.IDs, c.Now) }

func (c *Return) decode(r *reader) { c.Consumer, c.IDs, c.Now = decodeSettlement(r) }

func (c Discard) encode(w *writer) { encodeSettlement(w, c.Consumer, c.IDs, c.Now) }

func (c *Discard) decode(r *reader) { c.Consumer, c.IDs, c.Now = decodeSettlement(r) }

func encodeSettlement(w *writer, id ConsumerID, ids []uint64, now int64) {
	w.consumer(id)
	w.ids(ids)
	w.Varint(now)
}

func decodeSettlement(r *reader) (ConsumerID, []uint64, int64) {
	return r.consumer(), r.ids(), r.Varint()
}

func (c Get) encode(w *writer) {
	w.consumer(c.Consumer)
	w.Flags(c.AutoSettle)
	w.Varint(c.Now)
}

func (c *Get) decode(r *reader) {
	c.Consumer = r.consumer()
	r.Flags(&c.AutoSettle)
	c.Now = r.Varint()
}

func (c ChannelDown) encode(w *writer) {
	w.channel(c.Chan)
	w.Varint(c.Now)
}

func (c *ChannelDown) decode(r *reader) {
	c.Chan = r.channel()
	c.Now = r.Varint()
}

func (c NodeDown) encode(w *writer) {
	w.Str(c.Node)
	w.Varint(c.Now)
}

func (c *NodeDown) decode(r *reader) {
	c.Node = r.Str()
	c.Now = r.Varint()
}

func (c ConsumerTimeout) encode(w *writer) {
	w.consumer(c.Consumer)
	w.Varint(c.Now)
}

func (c *ConsumerTimeout) decode(r *reader) {
	c.Consumer = r.consumer()
	c.Now = r.Varint()
}

func (c Purge) encode(w *writer)  { w.Varint(c.Now) }
func (c *Purge) decode(r *reader) { c.Now = r.Varint() }

func (c Tick) encode(w *writer)  { w.Varint(c.Now) }
func (c *Tick) decode(r *reader) { c.Now = r.Varint() }

func (c DeadLetterSettled) encode(w *writer) {
	w.ids(c.Indexes)
	w.Varint(c.Now)
}

func (c *DeadLetterSettled) decode(r *reader) {
	c.Indexes = r.ids()
	c.Now = r.Varint()
}

func (c LeaderElected) encode(w *writer) {
	w.Str(c.Node)
	w.Varint(c.Now)
}

func (c *LeaderElected) decode(r *reader) {
	c.Node = r.Str()
	c.Now = r.Varint()
}

func (c PublisherGone) encode(w *writer) {
	w.channel(c.From)
	w.Varint(c.Now)
}

func (c *PublisherGone) decode(r *reader) {
	c.From = r.channel()
	c.Now = r.Varint()
}

func (c Touch) encode(w *writer)  { w.Varint(c.Now) }
func (c *Touch) decode(r *reader) { c.Now = r.Varint() }

func (c Resend) encode(w *writer) {
	w.consumer(c.Consumer)
	w.Uvarint(c.From)
	w.Uvarint(c.To)
	w.Varint(c.Now)
}

func (c *Resend) decode(r *reader) {
	c.Consumer = r.consumer()
	c.From = r.Uvarint()
	c.To = r.Uvarint()
	c.Now = r.Varint()
}

// Encode returns cmd's encoding: Version, the op code, then the body.
func Encode(cmd Command) []byte {
	return AppendCommand(make([]byte, 0, 32), cmd)
}

// AppendCommand appends cmd's encoding to b.
func AppendCommand(b []byte, cmd Command) []byte {
	w := writer{fields.Writer{B: append(b, Version, byte(cmd.Op()))}}
	cmd.encode(&w)
	return w.B
}

// decodable is a pointer to a command, which decodes into it.
type decodable interface {
	Command
	decode(r *reader)
}

// newCommand returns a pointer to a zero command of op, or nil for an
// unknown op code.
func newCommand(op Op) decodable {
	switch op {
	case OpEnqueue:
		return &Enqueue{}
	case OpCheckout:
		return &Checkout{}
	case OpCancel:
		return &Cancel{}
	case OpSettle:
		return &Settle{}
	case OpReturn:
		return &Return{}
	case OpDiscard:
		return &Discard{}
	case OpGet:
		return &Get{}
	case OpChannelDown:
		return &ChannelDown{}
	case OpNodeDown:
		return &NodeDown{}
	case OpConsumerTimeout:
		return &ConsumerTimeout{}
	case OpPurge:
		return &Purge{}
	case OpTick:
		return &Tick{}
	case OpDeadLetterSettled:
		return &DeadLetterSettled{}
	case OpLeaderElected:
		return &LeaderElected{}
	case OpPublisherGone:
		return &PublisherGone{}
	case OpTouch:
		return &Touch{}
	case OpResend:
		return &Resend{}
	case OpUpdateConfig:
		return &UpdateConfig{}
	case OpUnreachable:
		return &Unreachable{}
	}
	return nil
}

// Decode decodes one encoded command, returning the command value (not a
// pointer). An unknown version or op code, a malformed body or trailing
// bytes are ErrCorrupt: a committed entry is never skipped.
func Decode(b []byte) (Command, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: command of %d bytes", ErrCorrupt, len(b))
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: version %d", ErrCorrupt, b[0])
	}
	c := newCommand(Op(b[1]))
	if c == nil {
		return nil, fmt.Errorf("%w: op code %d", ErrCorrupt, b[1])
	}
	r := newReader(b[2:])
	c.decode(&r)
	if err := r.End(); err != nil {
		return nil, err
	}
	return deref(c), nil
}

// deref returns the value a command pointer points to.
func deref(c decodable) Command {
	switch c := c.(type) {
	case *Enqueue:
		return *c
	case *Checkout:
		return *c
	case *Cancel:
		return *c
	case *Settle:
		return *c
	case *Return:
		return *c
	case *Discard:
		return *c
	case *Get:
		return *c
	case *ChannelDown:
		return *c
	case *NodeDown:
		return *c
	case *ConsumerTimeout:
		return *c
	case *Purge:
		return *c
	case *Tick:
		return *c
	case *DeadLetterSettled:
		return *c
	case *LeaderElected:
		return *c
	case *PublisherGone:
		return *c
	case *Touch:
		return *c
	case *Resend:
		return *c
	case *UpdateConfig:
		return *c
	case *Unreachable:
		return *c
	}
	return c
}
