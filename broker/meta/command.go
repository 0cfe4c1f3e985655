package meta

import (
	"fmt"

	"github.com/warrenmq/warren/exchange"
	"github.com/warrenmq/warren/protocol/fields"
)

// Version is the first byte of every encoded command and snapshot.
const Version = 1

// Op is a command's op code, its second encoded byte. Values are stored in
// logs and snapshots: append only, never reuse one.
type Op uint8

// The op codes.
const (
	OpAddVhost        Op = 1
	OpDeleteVhost     Op = 2
	OpDeclareExchange Op = 3
	OpDeleteExchange  Op = 4
	OpBind            Op = 5
	OpUnbind          Op = 6
	OpDeclareQueue    Op = 7
	OpDeleteQueue     Op = 8
	OpNodeDown        Op = 9
	OpSetQueueMembers Op = 10
)

// Command is one change to the definitions. It holds plain values only,
// so that it encodes completely: what Apply needs travels in it.
type Command interface {
	// Op is the command's op code.
	Op() Op
	encode(w *writer)
}

type (
	// AddVhost creates a virtual host with the default exchange and the
	// amq.* exchanges; adding one that exists changes nothing.
	AddVhost struct{ Name string }
	// DeleteVhost deletes a virtual host and everything in it.
	DeleteVhost struct{ Name string }
	// DeclareExchange creates an exchange, or checks that a redeclare is
	// equivalent to the one there.
	DeclareExchange struct {
		Vhost    string
		Exchange ExchangeDef
	}
	// DeleteExchange deletes an exchange, the bindings from and to it, and
	// the auto-delete exchanges that loses their last binding by it.
	DeleteExchange struct {
		Vhost, Name string
		IfUnused    bool
	}
	// Bind adds a binding. By is the connection asking: a binding to
	// another connection's exclusive queue is refused.
	Bind struct {
		Vhost   string
		Binding exchange.Binding
		By      Owner
	}
	// Unbind removes a binding if it is there. By is the connection
	// asking: a binding to another connection's exclusive queue stays.
	Unbind struct {
		Vhost   string
		Binding exchange.Binding
		By      Owner
	}
	// DeclareQueue creates a queue, or checks that a redeclare is
	// equivalent to the one there (and that the declaring connection may
	// use it).
	DeclareQueue struct {
		Vhost string
		Queue QueueDef
	}
	// DeleteQueue removes a queue's definition and the bindings to it, if
	// the queue is still the incarnation named.
	DeleteQueue struct {
		Vhost, Name string
		Incarnation uint64
	}
	// NodeDown removes what does not outlive a node's life: the
	// exclusive queues of its connections, and the non-durable queues it
	// is home to, with the bindings to them, as RabbitMQ does when a node
	// goes down or restarts. Durable queues homed on it stay defined.
	// Only queues declared in a life up to UpTo go (QueueDef.Life), so
	// that a NodeDown for a life that ended, committed late, spares what
	// the node's next life declared already.
	NodeDown struct {
		Node string
		UpTo uint64
	}
	// SetQueueMembers sets the members of a quorum queue (the nodes that
	// hold its replicas) to Members, as rabbitmq-queues add_member,
	// delete_member and grow change them, if the queue is still the
	// incarnation named and its members are still Was, those the change
	// was made from (so that two changes made at once from the same
	// members cannot undo one another). Members must be distinct and at
	// least one.
	SetQueueMembers struct {
		Vhost, Name string
		Incarnation uint64
		Members     []string
		Was         []string
	}
)

// Op implements Command.
func (AddVhost) Op() Op { return OpAddVhost }

// Op implements Command.
func (DeleteVhost) Op() Op { return OpDeleteVhost }

// Op implements Command.
func (DeclareExchange) Op() Op { return OpDeclareExchange }

// Op implements Command.
func (DeleteExchange) Op() Op { return OpDeleteExchange }

// Op implements Command.
func (Bind) Op() Op { return OpBind }

// Op implements Command.
func (Unbind) Op() Op { return OpUnbind }

// Op implements Command.
func (DeclareQueue) Op() Op { return OpDeclareQueue }

// Op implements Command.
func (DeleteQueue) Op() Op { return OpDeleteQueue }

// Op implements Command.
func (NodeDown) Op() Op { return OpNodeDown }

// Op implements Command.
func (SetQueueMembers) Op() Op { return OpSetQueueMembers }

func (c AddVhost) encode(w *writer)  { w.Str(c.Name) }
func (c *AddVhost) decode(r *reader) { c.Name = r.Str() }

func (c DeleteVhost) encode(w *writer)  { w.Str(c.Name) }
func (c *DeleteVhost) decode(r *reader) { c.Name = r.Str() }

func (c DeclareExchange) encode(w *writer) {
	w.Str(c.Vhost)
	w.exchange(&c.Exchange)
}

func (c *DeclareExchange) decode(r *reader) {
	c.Vhost = r.Str()
	c.Exchange = r.exchange()
}

func (c DeleteExchange) encode(w *writer) {
	w.Str(c.Vhost)
	w.Str(c.Name)
	w.Flags(c.IfUnused)
}

func (c *DeleteExchange) decode(r *reader) {
	c.Vhost = r.Str()
	c.Name = r.Str()
	r.Flags(&c.IfUnused)
}

func (c Bind) encode(w *writer) {
	w.Str(c.Vhost)
	w.binding(&c.Binding)
	w.owner(c.By)
}

func (c *Bind) decode(r *reader) {
	c.Vhost = r.Str()
	c.Binding = r.binding()
	c.By = r.owner()
}

func (c Unbind) encode(w *writer) {
	w.Str(c.Vhost)
	w.binding(&c.Binding)
	w.owner(c.By)
}

func (c *Unbind) decode(r *reader) {
	c.Vhost = r.Str()
	c.Binding = r.binding()
	c.By = r.owner()
}

func (c DeclareQueue) encode(w *writer) {
	w.Str(c.Vhost)
	w.queue(&c.Queue)
}

func (c *DeclareQueue) decode(r *reader) {
	c.Vhost = r.Str()
	c.Queue = r.queue()
}

func (c DeleteQueue) encode(w *writer) {
	w.Str(c.Vhost)
	w.Str(c.Name)
	w.Uvarint(c.Incarnation)
}

func (c *DeleteQueue) decode(r *reader) {
	c.Vhost = r.Str()
	c.Name = r.Str()
	c.Incarnation = r.Uvarint()
}

func (c NodeDown) encode(w *writer) {
	w.Str(c.Node)
	w.Uvarint(c.UpTo)
}

func (c *NodeDown) decode(r *reader) {
	c.Node = r.Str()
	c.UpTo = r.Uvarint()
}

func (c SetQueueMembers) encode(w *writer) {
	w.Str(c.Vhost)
	w.Str(c.Name)
	w.Uvarint(c.Incarnation)
	w.strs(c.Members)
	w.strs(c.Was)
}

func (c *SetQueueMembers) decode(r *reader) {
	c.Vhost = r.Str()
	c.Name = r.Str()
	c.Incarnation = r.Uvarint()
	c.Members = r.strs()
	c.Was = r.strs()
}

// Encode returns cmd's encoding: Version, the op code, then the body.
func Encode(cmd Command) []byte {
	w := writer{fields.Writer{B: []byte{Version, byte(cmd.Op())}}}
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
	case OpAddVhost:
		return &AddVhost{}
	case OpDeleteVhost:
		return &DeleteVhost{}
	case OpDeclareExchange:
		return &DeclareExchange{}
	case OpDeleteExchange:
		return &DeleteExchange{}
	case OpBind:
		return &Bind{}
	case OpUnbind:
		return &Unbind{}
	case OpDeclareQueue:
		return &DeclareQueue{}
	case OpDeleteQueue:
		return &DeleteQueue{}
	case OpNodeDown:
		return &NodeDown{}
	case OpSetQueueMembers:
		return &SetQueueMembers{}
	}
	if c := newAccessCommand(op); c != nil {
		return c
	}
	return newPolicyCommand(op)
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
	case *AddVhost:
		return *c
	case *DeleteVhost:
		return *c
	case *DeclareExchange:
		return *c
	case *DeleteExchange:
		return *c
	case *Bind:
		return *c
	case *Unbind:
		return *c
	case *DeclareQueue:
		return *c
	case *DeleteQueue:
		return *c
	case *NodeDown:
		return *c
	case *SetQueueMembers:
		return *c
	}
	if a := derefAccess(c); a != nil {
		return a
	}
	if p := derefPolicy(c); p != nil {
		return p
	}
	return c
}
