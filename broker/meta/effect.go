package meta

import (
	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/exchange"
)

// EffectKind is what a node does for an Effect.
type EffectKind uint8

// The kinds of effects.
const (
	// VhostAdded: serve the virtual host Vhost.
	VhostAdded EffectKind = iota + 1
	// VhostDeleted: stop serving Vhost and close its connections. The
	// effects deleting its queues come before it.
	VhostDeleted
	// ExchangeAdded: add Exchange to Vhost's router.
	ExchangeAdded
	// ExchangeRemoved: remove the exchange Exchange.Name from the router.
	// The bindings from and to it were removed by effects before it.
	ExchangeRemoved
	// BindingAdded: add Binding to the router.
	BindingAdded
	// BindingRemoved: remove Binding from the router.
	BindingRemoved
	// QueueStarted: start the queue Queue if Queue.Home is this node
	// (open it through its type, recovering what it kept) and route to
	// it.
	QueueStarted
	// QueueStopped: stop routing to the queue Queue.Name, and, if it is
	// still the incarnation Queue.Incarnation, delete it and its log
	// (DeleteData) or only close it.
	QueueStopped
	// QueueMembersChanged: the quorum queue Queue, if this node runs
	// that incarnation, now has the members Queue.Members.
	QueueMembersChanged
	// UserChanged: the user Access.User.Name was created or changed, or
	// its permissions or limits were; Access is all of it now.
	UserChanged
	// UserDeleted: the user Access.User.Name is gone; close its
	// connections.
	UserDeleted
	// VhostMetaChanged: Vhost's metadata or limits are now VhostMeta.
	VhostMetaChanged
	// QueuePolicyChanged: the policy in force on the queue Queue is now
	// Policy (a policy or operator policy was set or cleared).
	QueuePolicyChanged
	// ExchangePolicyChanged: the policy in force on the exchange Exchange
	// is now Policy.
	ExchangePolicyChanged
)

// Effect is one thing a node does after a command is applied: plain data,
// which a node-local reconciler turns into actions in the order given.
type Effect struct {
	Kind       EffectKind
	Vhost      string
	Exchange   ExchangeDef      // ExchangeAdded, ExchangeRemoved
	Binding    exchange.Binding // BindingAdded, BindingRemoved
	Queue      QueueDef         // QueueStarted, QueueStopped, QueueMembersChanged
	DeleteData bool             // QueueStopped: delete the queue's messages and log
	Access     UserAccess       // UserChanged, UserDeleted (only the name)
	VhostMeta  VhostMeta        // VhostMetaChanged
	// Policy is the policy in force on the queue or exchange of
	// QueueStarted, ExchangeAdded, QueuePolicyChanged and
	// ExchangePolicyChanged.
	Policy policy.Effective
}

// Result is what an applied command answers.
type Result struct {
	// Err is the AMQP exception to answer with (a *protocol.Error), or
	// nil. A command with an Err changed nothing.
	Err error
	// Created: a declare or AddVhost made something new.
	Created bool
	// Changed: a bind or unbind changed the binding set, or
	// SetQueueMembers the queue's members.
	Changed bool
	// Exchange is the exchange a declare created or found.
	Exchange ExchangeDef
	// Queue is the queue a declare created or found, or SetQueueMembers
	// changed or found.
	Queue QueueDef
}
